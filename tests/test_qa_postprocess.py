"""course_utils.qa.postprocess: predictions identical to the course's loop, robust, and the metric."""
from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest

from course_utils.qa.data import load_qa_datasets, read_squad_file, records_to_dataset
from course_utils.qa.features import preprocess_validation_examples
from course_utils.qa.postprocess import (
    LogitsMismatchError,
    compute_metrics,
    course_reference_predictions,
    predict_answers,
    top_candidates,
    top_n_desc,
)

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "squad"


# The course's post-processing loop, verbatim up to the metric call: the reference.
def course_predictions(start_logits, end_logits, features, examples, n_best=20, max_answer_length=30):
    example_to_features = collections.defaultdict(list)
    for idx, feature in enumerate(features):
        example_to_features[feature["example_id"]].append(idx)

    predicted_answers = []
    for example in examples:
        example_id = example["id"]
        context = example["context"]
        answers = []

        for feature_index in example_to_features[example_id]:
            start_logit = start_logits[feature_index]
            end_logit = end_logits[feature_index]
            offsets = features[feature_index]["offset_mapping"]

            start_indexes = np.argsort(start_logit)[-1 : -n_best - 1 : -1].tolist()
            end_indexes = np.argsort(end_logit)[-1 : -n_best - 1 : -1].tolist()
            for start_index in start_indexes:
                for end_index in end_indexes:
                    if offsets[start_index] is None or offsets[end_index] is None:
                        continue
                    if (
                        end_index < start_index
                        or end_index - start_index + 1 > max_answer_length
                    ):
                        continue

                    answer = {
                        "text": context[offsets[start_index][0] : offsets[end_index][1]],
                        "logit_score": start_logit[start_index] + end_logit[end_index],
                    }
                    answers.append(answer)

        if len(answers) > 0:
            best_answer = max(answers, key=lambda x: x["logit_score"])
            predicted_answers.append({"id": example_id, "prediction_text": best_answer["text"]})
        else:
            predicted_answers.append({"id": example_id, "prediction_text": ""})
    return predicted_answers


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


def test_course_reference_in_package_is_the_course_loop(val_setup):
    examples, feats = val_setup
    rng = np.random.default_rng(1)
    s, e = (rng.standard_normal((len(feats), 128)).astype(np.float32) for _ in range(2))
    assert course_reference_predictions(s, e, feats, examples) == course_predictions(s, e, feats, examples)


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
