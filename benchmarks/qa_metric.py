"""3. The SQuAD metric: our local ``squad`` evaluate module on the full dev set.

Inputs: SQuAD v1.1 dev and the two leaderboard prediction files in ``../shared/data/squad``.
Reference: the official SQuAD v1.1 evaluation script (below, its logic unchanged; the course's
``evaluate.load("squad")`` wraps the same script but needs the Hub). Ours: the local module that
``course_utils.qa.postprocess.load_squad_metric()`` loads, called with the course's interface.
Identical means: ours == the official script == the official numbers in the data README, to the
last digit, for both prediction files.
"""
from __future__ import annotations

import gzip
import json
import re
import string
from collections import Counter
from typing import Any

from . import SQUAD_DIR, Skipped, best_of, require_file, require_module, result

NAME = "qa_metric"

# The official numbers (../shared/data/squad/README.md).
OFFICIAL = {
    "bert-ensemble-google": {"exact_match": 86.20624408703878, "f1": 92.19557978351145},
    "logistic-regression-baseline": {"exact_match": 40.14191106906339, "f1": 50.98153647324461},
}


# --- the reference: the official SQuAD v1.1 evaluation script (evaluate-v1.1.py) -----------------
def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)

    def white_space_fix(text):
        return ' '.join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def exact_match_score(prediction, ground_truth):
    return (normalize_answer(prediction) == normalize_answer(ground_truth))


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


def official_evaluate(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article['paragraphs']:
            for qa in paragraph['qas']:
                total += 1
                if qa['id'] not in predictions:
                    continue  # the script prints "Unanswered question ... will receive score 0."
                ground_truths = list(map(lambda x: x['text'], qa['answers']))
                prediction = predictions[qa['id']]
                exact_match += metric_max_over_ground_truths(
                    exact_match_score, prediction, ground_truths)
                f1 += metric_max_over_ground_truths(
                    f1_score, prediction, ground_truths)
    exact_match = 100.0 * exact_match / total
    f1 = 100.0 * f1 / total
    return {'exact_match': exact_match, 'f1': f1}
# --- end of the reference --------------------------------------------------------------------


def load_metric():
    """Our local module, through whichever entry point the QA track exposes."""
    try:
        post = require_module("course_utils.qa.postprocess", "load_squad_metric")
        return post.load_squad_metric()
    except Skipped:
        mod = require_module("course_utils.qa.squad_metric")
        if hasattr(mod, "load_squad_metric"):
            return mod.load_squad_metric()
        raise Skipped("course_utils.qa has no load_squad_metric yet") from None


def _tiny_inputs():
    """A handful of dev-like questions with known scores (used by the unit tests)."""
    dataset = [{"paragraphs": [{"qas": [
        {"id": "a", "answers": [{"text": "Denver Broncos"}, {"text": "the Denver Broncos"}]},
        {"id": "b", "answers": [{"text": "Santa Clara, California"}]},
        {"id": "c", "answers": [{"text": "1,000"}, {"text": "one thousand"}]},
        {"id": "d", "answers": [{"text": "gold"}]},
    ]}]}]
    predictions = {"a": "The Denver Broncos!", "b": "Santa Clara", "c": "1000", "x": "ignored"}
    return {"tiny": (dataset, predictions)}


def run(quick: bool = False, tiny: bool = False) -> dict[str, Any]:
    metric = load_metric()
    if tiny:
        inputs = _tiny_inputs()
    else:
        dev_path = require_file(SQUAD_DIR / "dev-v1.1.json.gz", "SQuAD dev")
        with gzip.open(dev_path, "rt", encoding="utf-8") as f:
            dataset = json.load(f)["data"]
        inputs = {}
        for name in OFFICIAL:
            path = require_file(SQUAD_DIR / "predictions" / f"{name}.json.gz", f"{name} predictions")
            with gzip.open(path, "rt", encoding="utf-8") as f:
                inputs[name] = (dataset, json.load(f))
    repeat = 1 if tiny else 2 if quick else 3

    scores: dict[str, Any] = {}
    ref_total = ours_total = 0.0
    identical = True
    for name, (dataset, predictions) in inputs.items():
        references = [{"id": qa["id"], "answers": {"text": [a["text"] for a in qa["answers"]],
                                                    "answer_start": [a.get("answer_start", 0) for a in qa["answers"]]}}
                      for article in dataset for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
        # The course's interface wants one prediction per reference (evaluate checks the lengths):
        # a question the file does not answer gets "", which scores 0 as in the official script.
        preds = [{"id": r["id"], "prediction_text": predictions.get(r["id"], "")} for r in references]
        unanswered = sum(1 for r in references if r["id"] not in predictions)
        ref_s, _, ref_scores = best_of(lambda: official_evaluate(dataset, predictions), repeat)
        ours_s, _, ours_scores = best_of(lambda: metric.compute(predictions=preds, references=references), repeat)
        ours_scores = {k: float(ours_scores[k]) for k in ("exact_match", "f1")}
        same = ours_scores == ref_scores
        official = OFFICIAL.get(name)
        if official is not None:
            same = same and ours_scores == official
        identical = identical and same
        ref_total += ref_s
        ours_total += ours_s
        scores[name] = {"questions": len(references), "predictions_in_file": len(predictions),
                        "unanswered": unanswered,
                        "ours": ours_scores, "official_script": ref_scores, "official_readme": official,
                        "identical": same, "reference_s": round(ref_s, 4), "ours_s": round(ours_s, 4)}
    parts = [f"{k}: EM {v['ours']['exact_match']:.4f} F1 {v['ours']['f1']:.4f}" for k, v in scores.items()]
    return result(
        NAME,
        {"inputs": list(inputs), "repeat": repeat, "dev": "shared squad dev-v1.1.json.gz" if not tiny else "tiny"},
        ref_total, ours_total, identical,
        scores=scores,
        note="; ".join(parts) + ("; == official to the last digit" if identical and not tiny else ""),
    )
