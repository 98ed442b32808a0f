"""course_utils.qa.postprocess: predictions identical to the course's loop, robust, and the metric."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from course_utils.qa.data import load_qa_datasets, read_squad_file, records_to_dataset
from course_utils.qa.features import preprocess_validation_examples
from course_utils.qa.course import course_reference_predictions as course_predictions
from course_utils.qa.postprocess import (
    LogitsMismatchError,
    compute_metrics,
    predict_answers,
    top_candidates,
    top_n_desc,
)

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "squad"


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from course_utils.assets import bundled_qa_encoder_path

    return AutoTokenizer.from_pretrained(bundled_qa_encoder_path())


@pytest.fixture(scope="module")
def bundled():
    return load_qa_datasets({"data_source": "bundled"})


def _features(examples, tokenizer, max_length=128, stride=32, padding="max_length"):
    return examples.map(preprocess_validation_examples, batched=True, remove_columns=examples.column_names,
                        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "stride": stride,
                                   "padding": padding})


@pytest.fixture(scope="module")
def val_setup(bundled, tokenizer):
    examples = bundled["validation"]
    return examples, _features(examples, tokenizer)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_best,max_answer_length", [(20, 30), (5, 10), (1, 30), (40, 3)])
def test_identical_to_the_course_with_random_logits(val_setup, seed, n_best, max_answer_length):
    examples, feats = val_setup
    rng = np.random.default_rng(seed)
    s, e = (rng.standard_normal((len(feats), 128)).astype(np.float32) for _ in range(2))
    ours = predict_answers(s, e, feats, examples, n_best, max_answer_length)
    assert ours == course_predictions(s, e, feats, examples, n_best, max_answer_length)


@pytest.mark.parametrize("decimals", [0, 1])
def test_identical_with_many_ties(val_setup, decimals):
    """Rounded logits tie everywhere: the order of equal scores must still be the course's."""
    examples, feats = val_setup
    rng = np.random.default_rng(7)
    s, e = (np.round(rng.standard_normal((len(feats), 128)), decimals).astype(np.float32) for _ in range(2))
    assert predict_answers(s, e, feats, examples) == course_predictions(s, e, feats, examples)


def test_identical_with_float64_and_peaked_logits(val_setup):
    """Logits that look trained: a clear peak on the true answer of one window."""
    examples, feats = val_setup
    rng = np.random.default_rng(3)
    s, e = rng.standard_normal((2, len(feats), 128))
    s[:, 20] += 8
    e[:, 24] += 8
    ours = predict_answers(s, e, feats, examples)
    assert ours == course_predictions(s, e, feats, examples)
    assert sum(p["prediction_text"] != "" for p in ours) == len(examples)


def test_top_n_desc_is_the_course_argsort():
    rng = np.random.default_rng(0)
    for logits in (rng.standard_normal((50, 64)).astype(np.float32),
                   np.round(rng.standard_normal((50, 64)), 0).astype(np.float32),
                   np.full((3, 10), -100.0, np.float32), rng.standard_normal((4, 7))):
        for n in (1, 5, 20, 64, 100):
            ours = top_n_desc(logits, n)
            ref = np.stack([np.argsort(row)[-1:-n - 1:-1] for row in logits])
            assert np.array_equal(ours, ref)


def test_dynamic_padding_with_minus_100_and_minus_inf(bundled, tokenizer):
    """Unpadded windows, logits padded past each window's length: padding is never an answer,
    and the result equals the course's loop run on the same windows padded to the same width."""
    examples = bundled["validation"]
    ragged = _features(examples, tokenizer, padding=False)
    lengths = [len(o) for o in ragged["offset_mapping"]]
    width = max(lengths)
    assert min(lengths) < width
    rng = np.random.default_rng(11)
    for pad in (-100.0, -np.inf):
        s, e = (rng.standard_normal((len(ragged), width)).astype(np.float32) for _ in range(2))
        for row, n in enumerate(lengths):
            s[row, n:] = pad
            e[row, n:] = pad
        ours = predict_answers(s, e, ragged, examples)
        padded = [{"example_id": f["example_id"], "offset_mapping": f["offset_mapping"] + [None] * (width - len(f["offset_mapping"]))}
                  for f in ragged]
        assert ours == course_predictions(s, e, padded, examples)


def test_windows_without_any_valid_span(val_setup):
    """Every top start lies after every top end: no candidate, so "" as in the course."""
    examples, feats = val_setup
    s = np.zeros((len(feats), 128), np.float32)
    e = np.zeros((len(feats), 128), np.float32)
    s[:, 127] = 10  # the last (padding) token: offset None
    e[:, 0] = 10  # [CLS]: offset None
    ours = predict_answers(s, e, feats, examples, n_best=1)
    assert ours == course_predictions(s, e, feats, examples, n_best=1)
    assert all(p["prediction_text"] == "" for p in ours)


def test_examples_without_features_and_selected_features(val_setup):
    examples, feats = val_setup
    keep = [i for i, ex in enumerate(feats["example_id"]) if ex != examples[0]["id"]]
    sub = feats.select(keep)
    rng = np.random.default_rng(5)
    s, e = (rng.standard_normal((len(sub), 128)).astype(np.float32) for _ in range(2))
    ours = predict_answers(s, e, sub, examples)
    assert ours[0]["prediction_text"] == ""
    assert ours == course_predictions(s, e, sub, examples)
    shuffled = feats.shuffle(seed=0)
    s2, e2 = (rng.standard_normal((len(shuffled), 128)).astype(np.float32) for _ in range(2))
    assert predict_answers(s2, e2, shuffled, examples) == course_predictions(s2, e2, shuffled, examples)


def test_list_features_and_torch_logits(val_setup):
    import torch

    examples, feats = val_setup
    rng = np.random.default_rng(9)
    s, e = (rng.standard_normal((len(feats), 128)).astype(np.float32) for _ in range(2))
    as_list = [{"example_id": f["example_id"], "offset_mapping": f["offset_mapping"]} for f in feats]
    ref = course_predictions(s, e, feats, examples)
    assert predict_answers(s, e, as_list, examples) == ref
    assert predict_answers(torch.from_numpy(s), torch.from_numpy(e), feats, list(examples)) == ref


def test_perfect_logits_score_100(val_setup, tokenizer):
    examples, feats = val_setup
    s = np.full((len(feats), 128), -10.0, np.float32)
    e = np.full((len(feats), 128), -10.0, np.float32)
    # Put the peak on the first reference answer's tokens in each window that holds it.
    by_id = {ex["id"]: ex for ex in examples}
    for row, f in enumerate(feats):
        ex = by_id[f["example_id"]]
        a0 = ex["answers"]["answer_start"][0]
        a1 = a0 + len(ex["answers"]["text"][0])
        tokens = [k for k, o in enumerate(f["offset_mapping"]) if o is not None and o[0] < a1 and o[1] > a0]
        if tokens and f["offset_mapping"][tokens[0]][0] <= a0 and f["offset_mapping"][tokens[-1]][1] >= a1:
            s[row, tokens[0]] = 10
            e[row, tokens[-1]] = 10
    metrics = compute_metrics(s, e, feats, examples)
    assert metrics == {"exact_match": 100.0, "f1": 100.0}


def test_top_candidates_for_one_example(val_setup):
    examples, feats = val_setup
    ex = examples[0]
    rows = [i for i, x in enumerate(feats["example_id"]) if x == ex["id"]]
    rng = np.random.default_rng(2)
    s, e = (rng.standard_normal((len(rows), 128)).astype(np.float32) for _ in range(2))
    top = top_candidates(s, e, feats.select(rows), ex["context"], k=5)
    assert len(top) == 5
    assert [c["score"] for c in top] == sorted((c["score"] for c in top), reverse=True)
    best = course_predictions(s, e, feats.select(rows), [ex])[0]["prediction_text"]
    assert top[0]["text"] == best


def test_logits_mismatch_errors(val_setup):
    examples, feats = val_setup
    s = np.zeros((len(feats) - 1, 128), np.float32)
    with pytest.raises(LogitsMismatchError, match=f"{len(feats) - 1} rows of logits for {len(feats)} features"):
        predict_answers(s, s, feats, examples)
    narrow = np.zeros((len(feats), 100), np.float32)
    with pytest.raises(LogitsMismatchError, match="128 tokens but the logits only 100 columns"):
        predict_answers(narrow, narrow, feats, examples)
    with pytest.raises(LogitsMismatchError, match="differ in shape"):
        predict_answers(np.zeros((len(feats), 128)), np.zeros((len(feats), 129)), feats, examples)
    bad = np.zeros((len(feats), 128), np.float32)
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        predict_answers(bad, bad, feats, examples)
    with pytest.raises(ValueError, match="n_best"):
        predict_answers(narrow, narrow, feats, examples, n_best=0)


@pytest.mark.shared_data
def test_identical_on_real_squad_dev(tokenizer):
    if not SQUAD.is_dir():
        pytest.skip("../shared/data is absent")
    records = read_squad_file(SQUAD / "dev-v1.1.json.gz")[:600]
    examples = records_to_dataset(records)
    feats = _features(examples, tokenizer, max_length=384, stride=128)
    assert len(feats) > len(examples)
    rng = np.random.default_rng(0)
    for trial in range(2):
        s, e = (rng.standard_normal((len(feats), 384)).astype(np.float32) for _ in range(2))
        assert predict_answers(s, e, feats, examples) == course_predictions(s, e, feats, examples)


# ---------------------------------------------------------------------------------------------
# Oracle and model logits, candidate plots, the notebook 07 exercises
# ---------------------------------------------------------------------------------------------
def test_oracle_logits_give_back_every_answer(bundled, tokenizer):
    from course_utils.qa.postprocess import oracle_logits

    examples = bundled["validation"]
    for max_length, stride in [(384, 128), (64, 16)]:
        feats = _features(examples, tokenizer, max_length, stride)
        s, e = oracle_logits(feats, examples)
        assert compute_metrics(s, e, feats, examples) == {"exact_match": 100.0, "f1": 100.0}
        answers = predict_answers(s, e, feats, examples)
        assert [p["prediction_text"] for p in answers] == [ex["answers"]["text"][0] for ex in examples]


def test_predict_logits_with_dynamic_padding(bundled, tokenizer):
    import torch

    from course_utils.qa.model import load_qa_model
    from course_utils.qa.postprocess import predict_logits

    examples = bundled["validation"].select(range(6))
    ragged = _features(examples, tokenizer, padding=False)
    padded = _features(examples, tokenizer)
    model = load_qa_model("bundled", seed=0)
    s, e = predict_logits(model, ragged, batch_size=4)
    assert s.shape[0] == len(ragged) and s.shape[1] <= 128
    lengths = [len(x) for x in ragged["input_ids"]]
    assert s.shape[1] == max(lengths)
    sp, ep = predict_logits(model, padded, batch_size=8)
    for i, n in enumerate(lengths):  # the same numbers where both have real tokens
        assert np.allclose(s[i, :n], sp[i, :n], atol=1e-4)
    assert predict_answers(s, e, ragged, examples) == predict_answers(sp, ep, padded, examples)
    torch.manual_seed(0)


def test_plot_candidates_runs(val_setup):
    import matplotlib

    matplotlib.use("Agg")
    from course_utils.qa.viz import plot_candidates

    examples, feats = val_setup
    rng = np.random.default_rng(0)
    s, e = (rng.standard_normal((2, 128)).astype(np.float32) for _ in range(2))
    rows = [i for i, x in enumerate(feats["example_id"]) if x == examples[0]["id"]][:2]
    top = top_candidates(s[: len(rows)], e[: len(rows)], feats.select(rows), examples[0]["context"], k=4)
    plot_candidates(top)
    plot_candidates([])


def test_exercise_checkers_07():
    from course_utils.qa.exercises import check_best_span, check_f1, reference_best_span
    from course_utils.qa.squad_metric import f1_score

    assert check_f1(f1_score)
    assert not check_f1(lambda p, r: float(p == r))
    assert check_best_span(reference_best_span)
    assert not check_best_span(lambda *a: None)
    # the exact search agrees with the course's pruned one when n_best covers the window
    rng = np.random.default_rng(1)
    offsets = [None, None] + [(k, k + 1) for k in range(10)] + [None]
    s, e = rng.standard_normal(13).astype(np.float32), rng.standard_normal(13).astype(np.float32)
    best = reference_best_span(s, e, offsets, 30)
    ref = course_predictions(s[None], e[None], [{"example_id": "x", "offset_mapping": offsets}],
                             [{"id": "x", "context": "abcdefghijk"}], n_best=13)
    assert ref[0]["prediction_text"] == "abcdefghijk"[offsets[best[0]][0]:offsets[best[1]][1]]
