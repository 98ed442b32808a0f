"""1. QA post-processing: from start/end logits to one answer text per question.

Input: validation windows from real tokenisation, made the course's way (``Dataset.map`` of
``preprocess_validation_examples``, max_length 384, stride 128, padded to max_length) from SQuAD
v1.1 dev when ``../shared/data`` is present (about 10.8k windows), else from the bundled
validation split repeated until there are 10,000+ windows. Logits: seeded random (the hardest
case for equality: with random logits an exact best-span search disagrees with the course's
top-20 x top-20 pruning on ~9% of questions); in the full run, when a fine-tuned model is in a
workspace, the first windows are also scored with its real logits and checked for equality.

Reference: the course's ``compute_metrics`` loop up to the metric call, kept by the track as
``course_utils.qa.course.course_reference_predictions`` (row by row over the Dataset).
Ours: ``course_utils.qa.postprocess.predict_answers`` (all windows at once with NumPy, offsets
read through Arrow). Identical: the same predicted text for every question.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from course_utils.profiles import PROJECT_ROOT

from . import best_of, best_of_pair, require_module, result
from ._inputs import qa_dev_records, qa_tokenizer, repeat_records

NAME = "qa_postprocess"
MAX_LENGTH, STRIDE, N_BEST, MAX_ANSWER = 384, 128, 20, 30
MIN_WINDOWS = 10_000
TRAINED_WINDOWS = 96  # windows scored with a fine-tuned model's real logits (full run only)


def validation_features(records: list[dict], tokenizer: Any):
    """The course's ``raw_datasets["validation"].map(preprocess_validation_examples, ...)``."""
    import datasets

    from course_utils.qa.data import records_to_dataset
    from course_utils.qa.features import preprocess_validation_examples

    datasets.disable_progress_bars()

    examples = records_to_dataset(records)
    features = examples.map(
        preprocess_validation_examples, batched=True, remove_columns=examples.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_length": MAX_LENGTH, "stride": STRIDE},
    )
    return examples, features


def find_finetuned_model(root: Path = PROJECT_ROOT / "runs") -> Path | None:
    """The newest complete fine-tuned QA model in any workspace under ``runs/`` (or None)."""
    found = []
    for marker in root.glob("**/qa-*/*/COMPLETE"):
        folder = marker.parent
        for candidate in (folder, folder / "final"):
            if (candidate / "config.json").exists() and list(candidate.glob("*.safetensors")):
                found.append(candidate)
                break
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def trained_logits(model_dir: Path, features: Any, n: int):
    """Real logits of the first `n` windows (padded to max_length, as ``trainer.predict`` gives)."""
    import numpy as np
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(str(model_dir)).eval()
    cols = [c for c in ("input_ids", "attention_mask", "token_type_ids") if c in features.column_names]
    sub = features.select(range(min(n, len(features)))).select_columns(cols).with_format("torch")
    starts, ends = [], []
    with torch.no_grad():
        for i in range(0, len(sub), 16):
            out = model(**sub[i:i + 16])
            starts.append(out.start_logits.numpy())
            ends.append(out.end_logits.numpy())
    return np.concatenate(starts), np.concatenate(ends)


def run(quick: bool = False, tiny: bool = False) -> dict[str, Any]:
    import numpy as np

    post = require_module("course_utils.qa.postprocess", "predict_answers", "window_offsets")
    course = require_module("course_utils.qa.course", "course_reference_predictions")
    require_module("course_utils.qa.features", "preprocess_validation_examples")
    records, source = qa_dev_records(tiny)
    tokenizer = qa_tokenizer()
    examples, features = validation_features(records, tokenizer)
    copies = 1
    if not tiny and len(features) < MIN_WINDOWS:  # the bundled set: repeat it up to 10k windows
        copies = math.ceil(MIN_WINDOWS / max(len(features), 1))
        records = repeat_records(records, copies)
        source += f" x{copies}"
        examples, features = validation_features(records, tokenizer)
    n = len(features)
    rng = np.random.default_rng(0)
    start_logits = rng.standard_normal((n, MAX_LENGTH), dtype=np.float32)
    end_logits = rng.standard_normal((n, MAX_LENGTH), dtype=np.float32)
    ref_repeat, ours_repeat = (1, 1) if tiny else (2, 3) if quick else (3, 5)

    def reference():
        return course.course_reference_predictions(start_logits, end_logits, features, examples, N_BEST, MAX_ANSWER)

    def ours():
        return post.predict_answers(start_logits, end_logits, features, examples, N_BEST, MAX_ANSWER)

    # No untimed warm-up of the reference: one run of the course's loop costs seconds.
    ours()
    ref, our = best_of_pair(reference, ours, ref_repeat, ours_repeat, warmup=False)
    ref_s, ref_times, ref_out = ref["best"], ref["times"], ref["output"]
    ours_s, ours_times, ours_out = our["best"], our["times"], our["output"]
    offsets_s, _, _ = best_of(lambda: post.window_offsets(features), ours_repeat)
    differ = [r["id"] for r, o in zip(ref_out, ours_out) if r != o]
    identical = len(ref_out) == len(ours_out) and not differ
    empty = sum(1 for r in ours_out if r["prediction_text"] == "")

    figures: dict[str, Any] = {}
    if not (quick or tiny):
        # Where the course's time goes: the same loop over plain Python rows (no Arrow row reads).
        rows = features.to_list()
        ex_rows = examples.to_list()
        loop_s, _, loop_out = best_of(lambda: course.course_reference_predictions(
            start_logits, end_logits, rows, ex_rows, N_BEST, MAX_ANSWER), 2)
        figures["reference_on_python_rows_s"] = round(loop_s, 4)
        identical = identical and loop_out == ref_out
    model_dir = None if (quick or tiny) else find_finetuned_model()
    if model_dir is not None:
        ts, te = trained_logits(model_dir, features, TRAINED_WINDOWS)
        sub_feats = features.select(range(len(ts)))
        ids = set(sub_feats["example_id"])
        sub_examples = examples.filter(lambda e: e["id"] in ids)
        r = course.course_reference_predictions(ts, te, sub_feats, sub_examples, N_BEST, MAX_ANSWER)
        o = post.predict_answers(ts, te, sub_feats, sub_examples, N_BEST, MAX_ANSWER)
        figures["trained_logits"] = {"model": str(model_dir), "windows": len(ts), "questions": len(r),
                                     "identical": r == o}
        identical = identical and r == o
    else:
        figures["trained_logits"] = ("not checked: quick run" if (quick or tiny)
                                     else "no fine-tuned QA model in runs/**/qa-*/<run>/ (COMPLETE)")
    return result(
        NAME,
        {"source": source, "questions": len(records), "max_length": MAX_LENGTH, "stride": STRIDE,
         "n_best": N_BEST, "max_answer_length": MAX_ANSWER, "logits": "seeded random N(0,1) float32",
         "tokenizer": type(tokenizer).__name__, "reference_repeat": ref_repeat, "ours_repeat": ours_repeat},
        ref_s, ours_s, identical,
        windows=n,
        questions=len(ref_out),
        differing_questions=len(differ),
        differing_ids_sample=differ[:10],
        empty_predictions=empty,
        ours_offsets_read_s=round(offsets_s, 4),
        reference_times=ref_times,
        ours_times=ours_times,
        **figures,
        note=(f"{n} windows, {len(ref_out)} questions ({source}); "
              f"{len(differ)} differ; ours reads offsets in {offsets_s:.2f}s"),
    )
