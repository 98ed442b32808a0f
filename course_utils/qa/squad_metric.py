"""SQuAD v1.1 metric (exact match and F1) as a local `evaluate` module.

Why a local copy: ``evaluate.load("squad")`` downloads the metric script from the Hub, which
offline notebooks cannot reach. ``course_utils.qa.postprocess.load_squad_metric()`` loads this
file with ``evaluate.load(<path>)`` instead; the interface is the Hub metric's:

    metric.compute(predictions=[{"id": ..., "prediction_text": ...}],
                   references=[{"id": ..., "answers": {"text": [...], "answer_start": [...]}}])

The scoring is the official SQuAD v1.1 evaluation script's (Rajpurkar et al. 2016), step by
step and in the same summation order, so that it reproduces the official numbers to the last
digit: answers are lower-cased, stripped of punctuation, of the articles a/an/the and of extra
white space; each prediction gets its best score over the reference answers; a question with no
prediction (``prediction_text`` None, or its id absent) scores 0 and still counts.

One import per line: `evaluate`'s dependency scan misreads ``import a, b``.
"""
import re
import string
import sys
from collections import Counter

import datasets
import evaluate

__all__ = [
    "normalize_answer",
    "f1_score",
    "exact_match_score",
    "metric_max_over_ground_truths",
    "squad_v1_scores",
    "SquadMetric",
]

_CITATION = """\
@inproceedings{Rajpurkar2016SQuAD10,
  title={SQuAD: 100,000+ Questions for Machine Comprehension of Text},
  author={Pranav Rajpurkar and Jian Zhang and Konstantin Lopyrev and Percy Liang},
  booktitle={EMNLP},
  year={2016}
}
"""

_DESCRIPTION = """\
Exact match and F1 of the Stanford Question Answering Dataset (SQuAD) v1.1, as computed by its
official evaluation script, packaged for offline use with `evaluate.load(<path to this file>)`.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of {"id": str, "prediction_text": str or None (unanswered)}
    references: list of {"id": str, "answers": {"text": [str, ...], "answer_start": [int, ...]}}
Returns:
    exact_match: percentage of questions whose normalised prediction equals a reference
    f1: average of the best token-overlap F1 against the references, in percent
Examples:
    >>> metric = evaluate.load("course_utils/qa/squad_metric.py")
    >>> metric.compute(predictions=[{"id": "1", "prediction_text": "1976"}],
    ...                references=[{"id": "1", "answers": {"text": ["1976"], "answer_start": [97]}}])
    {'exact_match': 100.0, 'f1': 100.0}
"""

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_answer(s):
    """Lower text and remove punctuation, articles and extra white space (official order)."""
    text = s.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def f1_score(prediction, ground_truth):
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, ground_truth) for ground_truth in ground_truths)


def squad_v1_scores(predictions_by_id, references):
    """The official script's `evaluate` over flat references: {"exact_match", "f1"} in percent."""
    f1 = exact_match = total = 0
    unanswered = 0
    for ref in references:
        total += 1
        prediction = predictions_by_id.get(ref["id"])
        if prediction is None:
            unanswered += 1
            continue
        ground_truths = list(ref["answers"]["text"])
        if not ground_truths:
            raise ValueError(f"reference {ref['id']!r} has no answer text")
        exact_match += metric_max_over_ground_truths(exact_match_score, prediction, ground_truths)
        f1 += metric_max_over_ground_truths(f1_score, prediction, ground_truths)
    if total == 0:
        raise ValueError("no references to score")
    if unanswered:
        print(f"{unanswered} unanswered question(s) received score 0.", file=sys.stderr)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SquadMetric(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": {
                        "id": datasets.Value("string"),
                        "prediction_text": datasets.Value("string"),
                    },
                    "references": {
                        "id": datasets.Value("string"),
                        "answers": {
                            "text": datasets.List(datasets.Value("string")),
                            "answer_start": datasets.List(datasets.Value("int32")),
                        },
                    },
                }
            ),
            codebase_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
            reference_urls=["https://rajpurkar.github.io/SQuAD-explorer/"],
        )

    def _compute(self, predictions, references):
        predictions_by_id = {}
        for prediction in predictions:
            predictions_by_id[prediction["id"]] = prediction["prediction_text"]
        return squad_v1_scores(predictions_by_id, references)
