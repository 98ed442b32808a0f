"""§7 results in context: the bundled score beside real SQuAD dev, and notebook 09's loop beside 08's.

The bundled questions are written from templates over a small set of paragraphs, so a model that
learns the templates scores far higher on them than on SQuAD's real questions. Notebooks 08 and 09
therefore also score the model they just trained on a small seeded slice of the real SQuAD v1.1
dev set, read from ``../shared/data/squad`` next to the project (evaluation only: it never trains).
Where that folder is absent (Colab, a learner's laptop) they show a reference figure instead,
labelled with the machine and the date it was measured on.

Each QA run folder also gets ``summary.json`` (steps, epochs, seconds, scores and the settings that
decide them), so notebook 09 can put its result beside notebook 08's run from the same workspace and
list what differed between the two trainings.
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any, Mapping

from ..settings import QaSettings, settings_from

__all__ = [
    "SQUAD_DEV_REFERENCE",
    "squad_dev_slice",
    "score_on_squad_dev",
    "dev_score_lines",
    "SUMMARY_FILE",
    "save_run_summary",
    "load_run_summary",
    "loop_differences",
    "compare_with_trainer_run",
]

# The README's figure ("Learning quality at the workshop profile": §7, bundled train, scored on SQuAD
# dev): the workshop's recipe trained on the bundled questions, scored on 1,000 seeded dev questions.
SQUAD_DEV_REFERENCE: dict[str, Any] = {
    "f1": 44.2, "questions": 1000, "machine": "AMX Xeon (2 cores, bf16)", "date": "2026-11-26",
    "where": "README.md, 'Learning quality at the workshop profile'",
}
DEV_FILE = "dev-v1.1.json.gz"


def squad_dev_slice(n: int, seed: int = 42, path: str | os.PathLike | None = None):
    """`n` questions drawn with `seed` from the real SQuAD v1.1 dev set, as a ``Dataset`` with the
    ``squad`` features, or None where the file is absent. Drawn from all articles (the file is sorted
    by article, so its first questions would come from a handful of them); the same `n` and `seed`
    always give the same questions."""
    from .data import read_squad_file, records_to_dataset, reference_squad_file

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (qa_squad_dev_questions) must be a positive int, got {n!r}")
    path = Path(path) if path is not None else reference_squad_file(DEV_FILE)
    if path is None or not Path(path).exists():
        return None
    records = read_squad_file(path)
    picked = sorted(random.Random(seed).sample(range(len(records)), min(n, len(records))))
    return records_to_dataset([records[i] for i in picked])


def _validation_is_dev(qa: QaSettings) -> bool:
    """True when the validation split already is SQuAD dev (the Hub's squad, or the dev file itself)."""
    source = qa.eval_source or qa.data_source
    return str(source) == "squad" or Path(str(source)).name.startswith("dev-v1.1")


def score_on_squad_dev(model: Any, tokenizer: Any, cfg: Any, n: int | None = None,
                       path: str | os.PathLike | None = None) -> dict[str, Any]:
    """EM/F1 of `model` on a seeded slice of SQuAD dev (``qa.squad_dev_questions`` questions), with
    the windows built as for the validation split and the same post-processing.

    Returns ``{"kind": "slice", "questions", "windows", "exact_match", "f1", "seconds"}``; or
    ``{"kind": "validation"}`` when the validation split already is SQuAD dev (nothing to add);
    or ``{"kind": "reference", **SQUAD_DEV_REFERENCE}`` where the dev file is absent.
    """
    from .features import preprocess_validation_examples
    from .postprocess import compute_metrics, predict_logits

    qa = settings_from(cfg, QaSettings)
    seed = int(getattr(cfg, "seed", qa.seed))
    if _validation_is_dev(qa):
        return {"kind": "validation"}
    examples = squad_dev_slice(n if n is not None else qa.squad_dev_questions, seed, path)
    if examples is None:
        return {"kind": "reference", **SQUAD_DEV_REFERENCE}
    start = time.perf_counter()
    features = examples.map(preprocess_validation_examples, batched=True, remove_columns=examples.column_names,
                            fn_kwargs=dict(tokenizer=tokenizer, max_length=qa.max_length, stride=qa.stride, padding=False))
    start_logits, end_logits = predict_logits(model, features, batch_size=2 * qa.batch_size)
    scores = compute_metrics(start_logits, end_logits, features, examples)
    return {"kind": "slice", "questions": len(examples), "windows": len(features),
            "exact_match": float(scores["exact_match"]), "f1": float(scores["f1"]),
            "seconds": time.perf_counter() - start}


def dev_score_lines(bundled: Mapping[str, float], dev: Mapping[str, Any], n_bundled: int, model: str) -> list[str]:
    """The lines a notebook prints: `model`'s validation score beside its SQuAD dev one (or the
    reference figure, labelled with where it was measured). `model` names whose scores these are
    (e.g. "Trainer model"), so two notebooks never print the same line."""
    lines = [f"{model}, validation ({n_bundled} questions):".ljust(70) + f"EM {bundled['exact_match']:5.1f}  F1 {bundled['f1']:5.1f}"]
    kind = dev.get("kind")
    if kind == "slice":
        lines.append(f"{model}, real SQuAD dev, seeded slice ({dev['questions']} questions):".ljust(70)
                     + f"EM {dev['exact_match']:5.1f}  F1 {dev['f1']:5.1f}")
    elif kind == "reference":
        lines.append(f"{model}, real SQuAD dev: ../shared/data is not next to this project, so not scored here. Measured "
                     f"elsewhere ({dev['machine']}, {dev['date']}; {dev['where']}): the workshop's recipe scored "
                     f"F1 {dev['f1']} on {dev['questions']:,} dev questions")
    elif kind == "validation":
        lines.append(f"{model}: the validation split above already is real SQuAD dev, no slice to add")
    else:
        raise ValueError(f"unknown dev score kind {kind!r}")
    return lines


# --------------------------------------------------------------------------------------------
# One summary per run: notebook 09 beside notebook 08
# --------------------------------------------------------------------------------------------
SUMMARY_FILE = "summary.json"
_DIFFERENCES = (  # key, how a learner reads it
    ("steps", "optimizer steps"),
    ("epochs", "epochs (passes over the training windows)"),
    ("time_budget_s", "time budget in seconds (None: step-based)"),
    ("mixed_precision", "precision"),
    ("max_grad_norm", "gradient clipping (max norm; None: no clipping)"),
    ("learning_rate", "peak learning rate"),
    ("batch_size", "windows per batch"),
    ("train_windows", "training windows"),
)


def save_run_summary(run_dir: str | os.PathLike, *, loop: str, settings: Any, steps: int, seconds: float, exact_match: float, f1: float, eval_questions: int, train_windows: int,
                     mixed_precision: str, max_grad_norm: float | None, dev: Mapping[str, Any] | None = None) -> Path:
    """``run_dir/summary.json``: what a later notebook needs to compare this run with another. The
    epochs are counted as both loops count them: optimizer steps per pass over `train_windows`."""
    qa = settings_from(settings, QaSettings)
    if train_windows < 1:
        raise ValueError(f"train_windows must be >= 1, got {train_windows}")
    steps_per_epoch = math.ceil(math.ceil(train_windows / qa.batch_size) / qa.gradient_accumulation_steps)
    summary = {
        "loop": loop, "steps": int(steps), "epochs": round(steps / steps_per_epoch, 2), "seconds": round(float(seconds), 1),
        "exact_match": round(float(exact_match), 2), "f1": round(float(f1), 2),
        "eval_set": [qa.eval_source or qa.data_source, int(eval_questions)], "train_windows": int(train_windows),
        "time_budget_s": qa.time_budget_s, "mixed_precision": mixed_precision, "max_grad_norm": max_grad_norm,
        "learning_rate": qa.learning_rate, "batch_size": qa.batch_size, "seed": qa.seed,
        "dev": dict(dev) if dev and dev.get("kind") == "slice" else None,
    }
    path = Path(run_dir) / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=1))
    return path


def load_run_summary(run_dir: str | os.PathLike | None) -> dict[str, Any] | None:
    """The summary a run wrote, or None (no run, or a run from before summaries existed)."""
    if run_dir is None:
        return None
    path = Path(run_dir) / SUMMARY_FILE
    return json.loads(path.read_text()) if path.exists() else None


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def loop_differences(this: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    """What differed between two runs' trainings, one line each (``this`` first): the settings in
    their summaries. The data order is not among them: it depends on each loop's own sampler."""
    return [f"{label}: {other['loop']} {other.get(key)!s}, {this['loop']} {this.get(key)!s}"
            for key, label in _DIFFERENCES if not _same(this.get(key), other.get(key))]


def compare_with_trainer_run(this: Mapping[str, Any], other: Mapping[str, Any] | None) -> list[str]:
    """Notebook 09's lines about notebook 08: both scores, the gap and what differed; or a line that
    says there is nothing to compare with (never a number that was not measured)."""
    if other is None:
        return ["no finished run of notebook 08 in this workspace: nothing to compare with "
                "(run notebook 08 first, then this one, with the same profile)"]
    if list(other["eval_set"]) != list(this["eval_set"]):
        return [f"notebook 08's run was scored on another validation set ({other['eval_set']}, here {this['eval_set']}): "
                "its scores are not comparable with these"]
    lines = [f"{run['loop']:30s} EM {run['exact_match']:5.1f}  F1 {run['f1']:5.1f}  after {run['steps']} steps "
             f"({run['epochs']} epochs) in {run['seconds']:.0f} s" for run in (other, this)]
    gap = this["f1"] - other["f1"]
    lines.append(f"F1 of this loop minus notebook 08's: {gap:+.1f} points on the same validation questions")
    if other.get("dev") and this.get("dev") and other["dev"]["questions"] == this["dev"]["questions"]:
        lines.append(f"on the SQuAD dev slice: notebook 08 F1 {other['dev']['f1']:.1f}, this loop F1 {this['dev']['f1']:.1f}")
    differences = loop_differences(this, other)
    if differences:
        lines.append("what differed between the two trainings:")
        lines += [f"  - {d}" for d in differences]
    else:
        lines.append("the two trainings had the same settings and step count")
    lines.append("  - and always the order of the batches (each loop draws its own): with a few hundred training "
                 "questions, the order alone can move the scores (seed spreads: docs/experiments.md)")
    return lines
