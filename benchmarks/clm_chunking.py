"""4. CLM data preparation: tokens/s of the chunking map, and the tokens each chunking wastes.

Input: the bundled corpus (installed packages' Python files + docstring-example scripts,
keyword-filtered as in the course; the full run scans every file, ``--quick`` the first 300), and a
byte-level BPE trained on its train split (8k vocabulary, as the workshop profile).

Reference: the course's ``tokenize(element)`` (below, verbatim): cut every file into
``context_length`` pieces with ``return_overflowing_tokens`` and keep the full ones.
Ours: ``course_utils.clm.tokenize.make_tokenize`` (the same semantics, with input checks), and
``make_concat_chunk`` (concatenate the files with EOS, then cut), which wastes far less.
All are timed as the course runs them: ``Dataset.map(batched=True)`` (batch 1000, in memory, no
cache). Identical: our course-style chunks equal the course's, chunk for chunk.
"""
from __future__ import annotations

from typing import Any

from course_utils.clm.course import course_tokenize_fn

from . import interleaved, require_module, result

NAME = "clm_chunking"
CONTEXT_LENGTH, VOCAB = 128, 8000


# --- end of the course's code ---------------------------------------------------------------------


def run(quick: bool = False, tiny: bool = False) -> dict[str, Any]:
    from ._inputs import clm_corpus_and_tokenizer

    tok_mod = require_module("course_utils.clm.tokenize", "make_tokenize", "make_concat_chunk",
                             "chunking_waste", "token_lengths")
    context_length = 32 if tiny else CONTEXT_LENGTH
    raw, tokenizer, corpus_note = clm_corpus_and_tokenizer(quick=quick, tiny=tiny)
    train = raw["train"]
    contents = train["content"]
    repeat = 1 if tiny else 2 if quick else 3

    def mapped(fn, num_proc=None):
        return train.map(fn, batched=True, batch_size=1000, remove_columns=train.column_names,
                         keep_in_memory=True, load_from_cache_file=False, num_proc=num_proc)

    fns = {
        "reference": lambda: mapped(course_tokenize_fn(tokenizer, context_length)),
        "ours": lambda: mapped(tok_mod.make_tokenize(tokenizer, context_length)),
        "concat": lambda: mapped(tok_mod.make_concat_chunk(tokenizer, context_length)),
    }
    stats = interleaved(fns, repeat, warmup=not (quick or tiny))
    ref_chunks = stats["reference"]["output"]["input_ids"]
    our_chunks = stats["ours"]["output"]["input_ids"]
    concat_chunks = stats["concat"]["output"]["input_ids"]
    identical = ref_chunks == our_chunks

    lengths = tok_mod.token_lengths(tokenizer, contents)
    total = sum(lengths)
    predicted = tok_mod.chunking_waste(lengths, context_length, batch_size=1000)
    course_kept = len(ref_chunks) * context_length
    concat_kept = len(concat_chunks) * context_length
    course_waste = 100 * (total - course_kept) / total
    # Concatenation adds one EOS per file; its waste is counted against those tokens too.
    concat_waste = 100 * (total + len(lengths) - concat_kept) / (total + len(lengths))
    matches_prediction = (predicted["course"]["kept_tokens"] == course_kept
                          and predicted["concat"]["kept_tokens"] == concat_kept)
    extra: dict[str, Any] = {}
    if not (quick or tiny):
        try:
            import time

            start = time.perf_counter()
            mapped(tok_mod.make_tokenize(tokenizer, context_length), num_proc=2)
            extra["ours_num_proc2_s"] = round(time.perf_counter() - start, 3)
        except Exception as exc:  # worker start-up problems are a finding, not a crash
            extra["ours_num_proc2_s"] = f"failed: {type(exc).__name__}: {exc}"[:200]

    def rate(key: str) -> float:
        return total / stats[key]["best"]

    return result(
        NAME,
        {"corpus": corpus_note, "files": len(lengths), "context_length": context_length,
         "vocab_size": len(tokenizer), "map_batch_size": 1000, "repeat": repeat},
        stats["reference"]["best"], stats["ours"]["best"], identical,
        concat_s=round(stats["concat"]["best"], 4),
        input_tokens=total,
        tokens_per_s_reference=round(rate("reference")),
        tokens_per_s_ours=round(rate("ours")),
        tokens_per_s_concat=round(rate("concat")),
        chunks_course=len(ref_chunks),
        chunks_concat=len(concat_chunks),
        wasted_pct_course=round(course_waste, 2),
        wasted_pct_concat=round(concat_waste, 2),
        files_shorter_than_context=sum(n < context_length for n in lengths),
        waste_matches_chunking_waste=matches_prediction,
        reference_times=stats["reference"]["times"],
        ours_times=stats["ours"]["times"],
        **extra,
        note=(f"{total:,} tokens in {len(lengths)} files: {rate('ours') / 1e3:.0f}k tok/s; wasted "
              f"{course_waste:.1f}% (drop short chunks) vs {concat_waste:.2f}% (concatenate, "
              f"{rate('concat') / 1e3:.0f}k tok/s)"),
    )
