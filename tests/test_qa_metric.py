"""The local SQuAD v1.1 metric: offline, the Hub metric's interface, the official numbers."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from course_utils.qa.postprocess import load_squad_metric
from course_utils.qa.squad_metric import exact_match_score, f1_score, normalize_answer

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "squad"


@pytest.fixture(scope="module")
def metric():
    return load_squad_metric()


def _ref(i, *texts):
    return {"id": str(i), "answers": {"text": list(texts), "answer_start": [0] * len(texts)}}


def test_normalisation_is_the_official_one():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an apple, a pear and THE plum") == "apple pear and plum"
    assert normalize_answer("theory") == "theory"  # articles only as whole words
    assert exact_match_score("the Beatles", "Beatles.")
    assert f1_score("Jax, PyTorch", "Jax, PyTorch and TensorFlow") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert f1_score("", "anything") == 0


def test_compute_with_the_course_interface(metric):
    predictions = [{"id": "1", "prediction_text": "Denver Broncos"},
                   {"id": "2", "prediction_text": "the Carolina Panthers team"},
                   {"id": "3", "prediction_text": "1976"}]
    references = [_ref(1, "Denver Broncos", "The Denver Broncos"), _ref(2, "Carolina Panthers"), _ref(3, "2016")]
    out = metric.compute(predictions=predictions, references=references)
    assert out["exact_match"] == pytest.approx(100 / 3)
    assert out["f1"] == pytest.approx((1 + 0.8 + 0) / 3 * 100)
    assert set(out) == {"exact_match", "f1"}


def test_best_reference_counts(metric):
    out = metric.compute(predictions=[{"id": "a", "prediction_text": "Paris"}],
                         references=[_ref("a", "London", "Paris", "paris, France")])
    assert out == {"exact_match": 100.0, "f1": 100.0}


def test_unanswered_questions_score_zero(metric):
    """As in the official script: a question without a prediction (None) counts, scoring 0."""
    out = metric.compute(predictions=[{"id": "a", "prediction_text": "Paris"}, {"id": "b", "prediction_text": None}],
                         references=[_ref("a", "Paris"), _ref("b", "the")])
    assert out == {"exact_match": 50.0, "f1": 50.0}


def test_loaded_from_the_package_file(metric):
    assert metric.name == "squad_metric"
    assert "Rajpurkar" in metric.citation


@pytest.mark.shared_data
@pytest.mark.parametrize("name,em,f1", [
    ("bert-ensemble-google", 86.20624408703878, 92.19557978351145),
    ("logistic-regression-baseline", 40.14191106906339, 50.98153647324461),
])
def test_official_numbers_to_the_last_digit(metric, name, em, f1):
    if not SQUAD.is_dir():
        pytest.skip("../shared/data is absent")
    from course_utils.qa.data import read_squad_file

    references = [{"id": r["id"], "answers": r["answers"]} for r in read_squad_file(SQUAD / "dev-v1.1.json.gz")]
    with gzip.open(SQUAD / "predictions" / f"{name}.json.gz", "rt", encoding="utf-8") as f:
        by_id = json.load(f)
    predictions = [{"id": r["id"], "prediction_text": by_id.get(r["id"])} for r in references]
    out = metric.compute(predictions=predictions, references=references)
    assert out["exact_match"] == em  # exact equality, not approx
    assert out["f1"] == f1
