"""Exercises at the end of the §7 notebooks, and the ``check_...`` helpers that mark them.

Each checker prints a short verdict and returns it as a ``viz.Verdict`` (true when right; silent
as a cell's last value), so a learner can re-run it until it passes. A failing check shows a counter-example (an input where the answer goes wrong, and what it
gave) or says which way a number is off, with a hint, never the expected answer itself. The
checkers compute the expected answer themselves from the same inputs, so they work with every
profile and data source.

Sections per notebook (06, 07 here; later notebooks append below).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..viz import Verdict, verdict

__all__ = [
    "check_window_counts",
    "CONTEXT_SPAN_CASES",
    "reference_context_span",
    "check_context_span",
    "check_label_texts",
    "F1_CASES",
    "check_f1",
    "reference_best_span",
    "check_best_span",
    "check_trainer_steps",
    "check_renamed_argument",
    "check_padding_fraction",
    "check_schedule_steps",
    "duplicated_windows",
    "check_duplicated_windows",
    "check_window_count",
    "check_min_answer_len",
]


# ============================================================================================
# 06 · Preparing the data
# ============================================================================================
def check_window_counts(counts: Mapping[int, int], examples: Mapping[str, Any], tokenizer: Any,
                        max_length: int = 128) -> Verdict:
    """Exercise 06.1: ``counts[stride]`` = number of training windows the examples become at
    `max_length` for each stride you tried (at least three strides)."""
    from .features import count_windows

    if len(counts) < 3:
        return verdict(False, "", f"try at least three strides (you gave {len(counts)})")
    for stride, got in sorted(counts.items()):
        expected = count_windows(examples, tokenizer, max_length, stride)
        if got != expected:
            return verdict(False, "", f"stride={stride}: {got} windows are too {'many' if got > expected else 'few'}; "
                                       "count what the tokenizer returns with truncation='only_second', "
                                       f"max_length={max_length}, stride={stride}, return_overflowing_tokens=True")
    ordered = [counts[s] for s in sorted(counts)]
    trend = "more overlap, more windows" if ordered == sorted(ordered) else "counts checked"
    return verdict(True, f"all {len(counts)} counts right ({trend}: {ordered})", "")


CONTEXT_SPAN_CASES: tuple[list, ...] = (
    [None, 0, 0, None, 1, 1, 1, None],
    [None, 0, None, 1, None, None],
    [None, 0, 0, 0, None, 1, 1, 1, 1],  # no final special token: the window ends in context
    [None, 0, None, 1, 1, 1, 1, 1, 1, 1, None, None, None],  # padding after the final [SEP]
)


def reference_context_span(sequence_ids: Sequence[int | None]) -> tuple[int, int]:
    """One solution of exercise 06.2 (used to mark it)."""
    start = list(sequence_ids).index(1)
    return start, start + list(sequence_ids).count(1) - 1


def check_context_span(fn: Callable[[Sequence[int | None]], tuple[int, int]]) -> Verdict:
    """Exercise 06.2: ``fn(sequence_ids)`` returns the first and last token of the context, also
    for a window that ends inside the context (no final ``[SEP]``), where the course's
    ``while sequence_ids[idx] == 1`` loop runs off the end."""
    for seq in CONTEXT_SPAN_CASES:
        expected = reference_context_span(seq)
        try:
            got = tuple(fn(list(seq)))
        except IndexError:
            return verdict(False, "", f"IndexError on {seq}: your loop ran past the end of the window")
        if got != expected:
            return verdict(False, "", f"counter-example: for sequence_ids {seq} you return {got}; the context is "
                                       "the block of 1s, from its first token to its last")
    return verdict(True, f"all {len(CONTEXT_SPAN_CASES)} windows right, including one without a final [SEP]", "")


def check_label_texts(texts: Sequence[str], features: Mapping[str, Any], tokenizer: Any) -> Verdict:
    """Exercise 06.3: the text each training window's labels point at ('' for ``(0, 0)``),
    decoded with the tokenizer."""
    from .features import decode_labels

    expected = decode_labels(features, tokenizer)
    if len(texts) != len(expected):
        return verdict(False, "", f"{len(texts)} texts for {len(expected)} windows")
    for i, (got, want) in enumerate(zip(texts, expected)):
        if got != want:
            s, e = features["start_positions"][i], features["end_positions"][i]
            hint = ("it is labelled (0, 0): no text" if (s, e) == (0, 0) else
                    f"decode input_ids[{s}:{e} + 1]: the end label is the answer's last token")
            return verdict(False, "", f"window {i}: you decoded {got!r}; {hint}")
    empty = sum(not t for t in expected)
    return verdict(True, f"all {len(expected)} windows right ({empty} of them labelled (0, 0))", "")


# ============================================================================================
# 07 · Post-processing and the metric
# ============================================================================================
F1_CASES: tuple[tuple[str, str], ...] = (
    ("Denver Broncos", "Denver Broncos"),
    ("the Denver Broncos", "Denver Broncos"),
    ("Jax, PyTorch", "Jax, PyTorch and TensorFlow"),
    ("in 1879", "1879"),
    ("Paris", "London"),
    ("", "anything"),
    ("a a a b", "a b b"),
    ("The Eiffel-Tower!", "eiffel tower"),
)


_F1_HINTS = {  # what each case of F1_CASES tests
    ("Denver Broncos", "Denver Broncos"): "identical texts",
    ("the Denver Broncos", "Denver Broncos"): "normalise first: the articles a/an/the are dropped",
    ("Jax, PyTorch", "Jax, PyTorch and TensorFlow"): "a partial overlap: precision and recall differ",
    ("in 1879", "1879"): "precision is shared words over the prediction's words",
    ("Paris", "London"): "nothing shared",
    ("", "anything"): "an empty prediction",
    ("a a a b", "a b b"): "normalise first ('a' is an article), then count shared words with multiplicity",
    ("The Eiffel-Tower!", "eiffel tower"): "punctuation is deleted, not replaced by a space",
}


def check_f1(fn: Callable[[str, str], float]) -> Verdict:
    """Exercise 07.1: ``fn(prediction, reference)`` is SQuAD's F1 (0 to 1) after the official
    normalisation (lower case, no punctuation, no a/an/the, single spaces)."""
    from .squad_metric import f1_score

    for prediction, reference in F1_CASES:
        got, want = fn(prediction, reference), f1_score(prediction, reference)
        if abs(float(got) - want) > 1e-9:
            hint = _F1_HINTS.get((prediction, reference), "follow the normalisation step by step")
            return verdict(False, "", f"counter-example: your f1({prediction!r}, {reference!r}) = {got} is too "
                                       f"{'high' if float(got) > want else 'low'} ({hint})")
    return verdict(True, f"all {len(F1_CASES)} pairs right", "")


def reference_best_span(start_logits: np.ndarray, end_logits: np.ndarray, offsets: Sequence[Any],
                        max_answer_length: int = 30) -> tuple[int, int] | None:
    """One solution of exercise 07.2: the exact best (start, end) over *all* valid pairs."""
    valid = np.array([o is not None for o in offsets])
    n = len(offsets)
    scores = start_logits[:n, None] + end_logits[None, :n]
    i, j = np.indices(scores.shape)
    ok = valid[:, None] & valid[None, :] & (j >= i) & (j - i + 1 <= max_answer_length)
    if not ok.any():
        return None
    flat = int(np.argmax(np.where(ok, scores, -np.inf)))
    return divmod(flat, n)


def check_best_span(fn: Callable[..., tuple[int, int] | None], n_cases: int = 200, seed: int = 0) -> Verdict:
    """Exercise 07.2: ``fn(start_logits, end_logits, offsets, max_answer_length)`` returns the
    best valid ``(start, end)`` of one window over all pairs (no ``n_best`` pruning), or None."""
    rng = np.random.default_rng(seed)
    for case in range(n_cases):
        n = int(rng.integers(8, 40))
        offsets: list[Any] = [None] * n
        first = int(rng.integers(1, n // 2))
        for k in range(first, n - 1):
            offsets[k] = (k * 5, k * 5 + 4)
        s, e = rng.standard_normal(n), rng.standard_normal(n)
        max_len = int(rng.integers(1, 12))
        want = reference_best_span(s, e, offsets, max_len)
        got = fn(s, e, offsets, max_len)
        got = None if got is None else tuple(int(x) for x in got)
        if got != want:
            return verdict(False, "", f"counter-example: random window {case} ({n} tokens, context tokens {first} to "
                                       f"{n - 2}, max_answer_length={max_len}): you return {got}; "
                                       + _best_span_hint(got, s, e, offsets, max_len))
    return verdict(True, f"all {n_cases} random windows right", "")


def _best_span_hint(got: tuple[int, int] | None, start_logits: np.ndarray, end_logits: np.ndarray,
                    offsets: Sequence[Any], max_answer_length: int) -> str:
    """Why `got` is not the best valid span of exercise 07.2, without naming the best one."""
    if got is None:
        return "this window has valid pairs"
    i, j = got
    if not (0 <= i < len(offsets) and 0 <= j < len(offsets)) or offsets[i] is None or offsets[j] is None:
        return "a span must start and end on context tokens (offset not None)"
    if j < i:
        return "your span ends before it starts"
    if j - i + 1 > max_answer_length:
        return "your span is longer than max_answer_length tokens"
    return "a valid span, but another valid pair has a higher start_logit + end_logit"


# ============================================================================================
# 08 · Fine-tuning with the Trainer
# ============================================================================================
def check_trainer_steps(answer: Any, n_windows: int, batch_size: int, epochs: float) -> Verdict:
    """Exercise 08.1: optimizer steps of ``num_train_epochs`` epochs over `n_windows` windows with
    `batch_size` windows per step (no gradient accumulation, no ``max_steps``). The last batch of
    an epoch is smaller but is still a step."""
    import math

    expected = math.ceil(float(epochs) * math.ceil(n_windows / batch_size))
    if answer is None:
        return verdict(False, "", "set my_steps to your answer first")
    if int(answer) == expected:
        return verdict(True, f"{expected} steps: {math.ceil(n_windows / batch_size)} per epoch x {epochs}", "")
    hint = " (did you drop the last, smaller batch?)" if int(answer) == int(epochs) * (n_windows // batch_size) else ""
    return verdict(False, "", f"{answer} steps are too {'many' if int(answer) > expected else 'few'}{hint}: "
                               "count the batches of one epoch first, then multiply by the epochs")


def check_renamed_argument(answer: Any) -> Verdict:
    """Exercise 08.2: the transformers 5 name of ``evaluation_strategy``."""
    ok = isinstance(answer, str) and answer.strip() == "eval_strategy"
    return verdict(ok, "eval_strategy: TrainingArguments(eval_strategy='epoch')",
                    f"{answer!r}: look at the TrainingArguments cell (or `help(TrainingArguments)`)")


def check_padding_fraction(answer: Any, stats: Mapping[str, float], tolerance: float = 0.01) -> Verdict:
    """Exercise 08.3: the share of padding in an epoch padded to ``max_length`` (from
    ``loop.padding_stats``: mean window length vs max_length)."""
    expected = 1.0 - stats["mean_length"] * stats["windows"] / stats["tokens_max_length"]
    if answer is None:
        return verdict(False, "", "set my_fraction to a number between 0 and 1")
    ok = abs(float(answer) - expected) <= tolerance
    return verdict(ok, f"{expected:.3f} of the tokens are padding when every window is padded",
                    f"{float(answer):.3f} is too {'high' if float(answer) > expected else 'low'}; compare the "
                    "mean window length to max_length")


# ============================================================================================
# 09 · The Accelerate loop
# ============================================================================================
def check_schedule_steps(answer: Any, batches_per_epoch: int, epochs: int, gradient_accumulation_steps: int) -> Verdict:
    """Exercise 09.1: ``num_training_steps`` of the linear schedule, counted in *optimizer* steps:
    with accumulation, one optimizer step every `gradient_accumulation_steps` batches (the last
    partial group at the end of an epoch still steps)."""
    import math

    expected = epochs * math.ceil(batches_per_epoch / gradient_accumulation_steps)
    if answer is None:
        return verdict(False, "", "set my_schedule_steps first")
    if int(answer) == expected:
        return verdict(True, f"{expected} optimizer steps", "")
    if int(answer) == epochs * batches_per_epoch:
        return verdict(False, "", "that counts batches: the schedule would decay only 1/accumulation of the way")
    return verdict(False, "", f"{answer} is too {'many' if int(answer) > expected else 'few'}: one optimizer "
                               f"step per {gradient_accumulation_steps} batches, and a leftover group at the end "
                               "of an epoch steps too")


def duplicated_windows(n_windows: int, batch_size: int, num_processes: int) -> int:
    """How many windows Accelerate repeats so that every process gets full, equal batches (what
    ``gather_for_metrics`` must drop again). Computed with Accelerate's own batch sharding."""
    from accelerate.data_loader import BatchSamplerShard
    from torch.utils.data import BatchSampler, SequentialSampler

    batches = BatchSampler(SequentialSampler(range(n_windows)), batch_size, drop_last=False)
    served = sum(len(b) for p in range(num_processes)
                 for b in BatchSamplerShard(batches, num_processes, p, split_batches=False, even_batches=True))
    return served - n_windows


def check_duplicated_windows(answer: Any, n_windows: int, batch_size: int, num_processes: int) -> Verdict:
    """Exercise 09.2: windows served twice on `num_processes` processes (evaluation, even batches)."""
    expected = duplicated_windows(n_windows, batch_size, num_processes)
    if answer is None:
        return verdict(False, "", "set my_duplicates first")
    ok = int(answer) == expected
    return verdict(ok, f"{expected} windows repeated; gather_for_metrics drops exactly these",
                    f"{answer} is too {'many' if int(answer) > expected else 'few'}: count the batches each "
                    f"process gets, all of size {batch_size}")


# ============================================================================================
# 10 · Using the fine-tuned model
# ============================================================================================
def check_window_count(answer: Any, tokenizer: Any, question: str, context: str, max_seq_len: int,
                       doc_stride: int) -> Verdict:
    """Exercise 10.1: how many windows the pipeline splits `context` into for these sizes."""
    enc = tokenizer(question, context, truncation="only_second", max_length=max_seq_len, stride=doc_stride,
                    return_overflowing_tokens=True)
    expected = len(enc["input_ids"])
    if answer is None:
        return verdict(False, "", "set my_windows first")
    ok = int(answer) == expected
    return verdict(ok, f"{expected} windows", f"{answer} windows are too {'many' if int(answer) > expected else 'few'}: "
                    "tokenize question and context with truncation='only_second', return_overflowing_tokens=True")


def check_min_answer_len(answer: Any, tokenizer: Any, answer_text: str) -> Verdict:
    """Exercise 10.2: the smallest ``max_answer_len`` (in tokens) that still lets the pipeline
    return `answer_text` whole."""
    expected = len(tokenizer(answer_text, add_special_tokens=False)["input_ids"])
    if answer is None:
        return verdict(False, "", "set my_min_len first")
    ok = int(answer) == expected
    return verdict(ok, f"{expected} tokens: {tokenizer.tokenize(answer_text)}",
                    f"{answer} tokens let the whole answer through, but a smaller max_answer_len does too"
                    if int(answer) > expected else
                    f"with {answer} the answer is cut: max_answer_len counts tokens, not words or characters")
