"""2. QA training windows (tokenise + start/end labels): ours against the course's per-window loop.

Reference: the course's ``preprocess_training_examples``, kept verbatim by the track as
``course_utils.qa.course.course_preprocess_training_examples`` (two ``while`` scans per window).
Ours: ``course_utils.qa.features.preprocess_training_examples`` (record checks, timed alone too, a question-length
check, and a label search by bisection). Both get the same examples as one ``map`` batch would
give them and the same fast tokenizer; labels and input ids must be identical on every window.

Where the time goes: the tokenizer call that both make is timed alone; "labels" is each
function's total minus that call (for ours it includes its input checks, whose extra tokenisation
of the questions is also timed alone).
"""
from __future__ import annotations

from typing import Any

from . import interleaved, paired_ratios, require_module, result
from ._inputs import columns, qa_tokenizer, qa_train_records, repeat_records

NAME = "qa_preprocess"
MAX_LENGTH, STRIDE = 384, 128  # the course's sizes


def run(quick: bool = False, tiny: bool = False) -> dict[str, Any]:
    features = require_module("course_utils.qa.features", "preprocess_training_examples")
    course = require_module("course_utils.qa.course", "course_preprocess_training_examples")
    records, source = qa_train_records(tiny)
    copies = 1 if (quick or tiny) else 4
    records = repeat_records(records, copies)
    examples = columns(records)
    tokenizer = qa_tokenizer()
    repeat = 1 if tiny else 7 if quick else 9  # a short row (~0.3 s): enough rounds for a median and its spread

    def tokenizer_only():
        return tokenizer([q.strip() for q in examples["question"]], examples["context"],
                         max_length=MAX_LENGTH, truncation="only_second", stride=STRIDE,
                         return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length")

    def question_check_only():
        return tokenizer([q.strip() for q in examples["question"]], add_special_tokens=False)

    def record_check_only():  # the loaders' check_record on every row (issue 13 item 7)
        return features.check_batch(examples, "train", training=True)

    def reference():
        return course.course_preprocess_training_examples(examples, tokenizer, MAX_LENGTH, STRIDE)

    def ours():
        return features.preprocess_training_examples(examples, tokenizer, max_length=MAX_LENGTH, stride=STRIDE)

    stats = interleaved({"tokenizer": tokenizer_only, "check": question_check_only, "records": record_check_only,
                         "reference": reference, "ours": ours}, repeat, warmup=not tiny)
    tok_s, check_s, records_s = stats["tokenizer"]["best"], stats["check"]["best"], stats["records"]["best"]
    ref_s, ref_times, ref_out = stats["reference"]["best"], stats["reference"]["times"], stats["reference"]["output"]
    ours_s, ours_times, ours_out = stats["ours"]["best"], stats["ours"]["times"], stats["ours"]["output"]

    extra: dict[str, Any] = {}
    if not (quick or tiny):
        extra.update(_map_timings(records, tokenizer, features))
    n = len(ref_out["input_ids"])
    same_labels = (list(ref_out["start_positions"]) == list(ours_out["start_positions"])
                   and list(ref_out["end_positions"]) == list(ours_out["end_positions"]))
    same_ids = list(map(list, ref_out["input_ids"])) == list(map(list, ours_out["input_ids"]))
    in_window = sum(1 for s in ref_out["start_positions"] if s != 0)
    ref_labels = max(ref_s - tok_s, 0.0)
    ours_labels = max(ours_s - tok_s, 0.0)
    return result(
        NAME,
        {"source": source, "examples": len(records), "copies": copies, "max_length": MAX_LENGTH,
         "stride": STRIDE, "tokenizer": type(tokenizer).__name__, "repeat": repeat},
        ref_s, ours_s, same_labels and same_ids,
        windows=n,
        **paired_ratios(ref_times, ours_times),
        windows_with_answer=in_window,
        identical_labels=same_labels,
        identical_input_ids=same_ids,
        tokenizer_s=round(tok_s, 4),
        question_check_s=round(check_s, 4),
        record_check_s=round(records_s, 5),
        record_check_share_ours=round(records_s / ours_s, 4),
        reference_labels_s=round(ref_labels, 4),
        ours_labels_and_checks_s=round(ours_labels, 4),
        labels_ratio=round(ref_labels / ours_labels, 2) if ours_labels > 0 else None,
        tokenizer_share_reference=round(tok_s / ref_s, 3),
        tokenizer_share_ours=round(tok_s / ours_s, 3),
        windows_per_s_reference=round(n / ref_s, 1),
        windows_per_s_ours=round(n / ours_s, 1),
        reference_times=ref_times,
        ours_times=ours_times,
        **extra,
        note=(f"{n} windows; tokenizer {tok_s:.2f}s (both); labels: course {ref_labels:.3f}s vs ours "
              f"{ours_labels:.3f}s (incl. {check_s:.2f}s question check, {records_s:.4f}s record check); ratio per "
              f"round: median {paired_ratios(ref_times, ours_times)['ratio_median']:.2f}x, "
              f"{paired_ratios(ref_times, ours_times)['ratio_min']:.2f}-{paired_ratios(ref_times, ours_times)['ratio_max']:.2f}x"),
    )


def _map_timings(records: list[dict], tokenizer: Any, features: Any) -> dict[str, Any]:
    """The course's ``Dataset.map(batched=True)`` of ours, in one process and with ``num_proc=2``
    (workers each load a copy of the tokenizer: it pays only on big enough sets)."""
    import time

    from course_utils.qa.data import records_to_dataset

    ds = records_to_dataset(records)
    out: dict[str, Any] = {}
    for procs in (None, 2):
        start = time.perf_counter()
        try:
            ds.map(features.preprocess_training_examples, batched=True, remove_columns=ds.column_names,
                   fn_kwargs={"tokenizer": tokenizer, "max_length": MAX_LENGTH, "stride": STRIDE},
                   num_proc=procs, keep_in_memory=True, load_from_cache_file=False)
            out[f"ours_map_num_proc{procs or 1}_s"] = round(time.perf_counter() - start, 3)
        except Exception as exc:  # a worker problem is a finding, not a crash
            out[f"ours_map_num_proc{procs or 1}_s"] = f"failed: {type(exc).__name__}: {exc}"[:200]
    return out
