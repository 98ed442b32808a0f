"""Exercises at the end of the §6 notebooks, and the ``check_...`` helpers that mark them.

Each checker prints a short verdict (what is right, or the first case that is wrong) and returns
it as a ``viz.Verdict`` (true when right; silent as a cell's last value), so a learner can re-run
it until it passes. Imports stay light: the checkers get the data they need as arguments.

Sections are appended per notebook (01, 02 here; 03-05 below them).
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..viz import Verdict, verdict

__all__ = [
    "IMPORT_FILTER_CASES",
    "check_imports_filter",
    "check_first_kept_paths",
    "check_kept_share",
    "check_chunks_kept",
    "concat_dropped",
    "course_dropped",
    "check_waste",
    "check_vocab_effect",
    "GPT2_SIZE_CASES",
    "check_gpt2_param_count",
    "check_optimizer_steps",
    "GROUPBY_CASES",
    "check_groupby_pattern",
    "check_repeat_baseline",
    "check_keytoken_weights",
    "check_no_decay_groups",
]


# ============================================================================================
# 01 · Gathering the data
# ============================================================================================
IMPORT_FILTER_CASES: tuple[tuple[str, bool], ...] = (
    ("import pandas as pd", True),
    ("from sklearn.ensemble import RandomForestRegressor", True),
    ("import matplotlib.pyplot as plt", True),
    ("def f():\n    import seaborn as sns\n    return sns", True),
    ("import numpy as np\nfrom pandas import DataFrame", True),
    ("# one day, port this to pandas", False),
    ("name = 'seaborn'", False),
    ("import numpy as np", False),
    ("import pandasql", False),
    ("from mypandas import x", False),
)
_LIBS = ("pandas", "sklearn", "matplotlib", "seaborn")
_IMPORT_RE = re.compile(r"^\s*(?:import|from)\s+(?:%s)\b" % "|".join(_LIBS), re.MULTILINE)


def _reference_imports_library(content: str) -> bool:
    """One solution of exercise 01.1 (used to mark it)."""
    return bool(_IMPORT_RE.search(content))


def check_imports_filter(fn: Callable[[str], bool]) -> Verdict:
    """Exercise 01.1: `fn(content)` is True only when the file *imports* one of the four libraries
    (``import pandas ...`` / ``from sklearn... import``), not when it merely mentions one."""
    for content, expected in IMPORT_FILTER_CASES:
        got = fn(content)
        if bool(got) != expected or not isinstance(got, bool):
            return verdict(False, "", f"for {content!r} your function returned {got!r}, expected {expected}")
    return verdict(True, f"all {len(IMPORT_FILTER_CASES)} cases right: you keep importers only", "")


def check_first_kept_paths(paths: Sequence[str], stream: Iterable[Mapping[str, Any]], keywords: Sequence[str],
                           n: int = 5) -> Verdict:
    """Exercise 01.2: the paths of the first `n` files of `stream` that mention one of `keywords`
    (with the lazy ``IterableDataset.filter``, which reads only as far as needed)."""
    expected = []
    for row in stream:
        if any(k in row["content"] for k in keywords):
            expected.append(row["path"])
            if len(expected) == n:
                break
    return verdict(list(paths) == expected, f"right: {expected}",
                    f"expected {expected}, got {list(paths)} (order matters: the stream's order)")


def check_kept_share(share: float, total: int, kept: int) -> Verdict:
    """Exercise 01.3: the share (0-1) of the streamed files your import filter keeps."""
    expected = kept / total if total else 0.0
    return verdict(abs(float(share) - expected) < 5e-4, f"right: {expected:.2%}",
                    f"expected {expected:.4f} ({kept} of {total}), got {share}")


# ============================================================================================
# 02 · Preparing the dataset
# ============================================================================================
def check_chunks_kept(fn: Callable[[int, int], int]) -> Verdict:
    """Exercise 02.1: `fn(n_tokens, context_length)` = number of chunks the course's ``tokenize``
    keeps from one file of `n_tokens` tokens."""
    for n in (0, 1, 63, 64, 65, 127, 128, 129, 1000, 4096):
        for c in (16, 64, 128):
            if fn(n, c) != n // c:
                return verdict(False, "", f"for a file of {n} tokens and context_length={c} you said "
                                           f"{fn(n, c)}, the course keeps {n // c} (only full chunks)")
    return verdict(True, "right: only full chunks survive, n_tokens // context_length", "")


def concat_dropped(lengths: Sequence[int], context_length: int) -> int:
    """Tokens that concatenate-then-chunk drops when all `lengths` are in one batch (EOS after each)."""
    return (sum(lengths) + len(lengths)) % context_length


def course_dropped(lengths: Sequence[int], context_length: int) -> int:
    """Tokens that the course's chunking drops: every file's tail."""
    return sum(n % context_length for n in lengths)


def check_waste(course: int, concat: int, lengths: Sequence[int], context_length: int) -> Verdict:
    """Exercise 02.2: tokens each chunking drops for files of `lengths` tokens (one batch)."""
    want = (course_dropped(lengths, context_length), concat_dropped(lengths, context_length))
    ok = (course, concat) == want
    return verdict(ok, f"right: the course drops {want[0]} tokens, concatenation only {want[1]}",
                    f"expected (course, concat) = {want}, got {(course, concat)}; remember the EOS "
                    "token added after every file")


def check_vocab_effect(answer: str, n_small: int, n_big: int) -> Verdict:
    """Exercise 02.3: does a smaller vocabulary give 'more' or 'fewer' tokens for the same text?
    `n_small` / `n_big`: the token counts you measured with each tokenizer."""
    truth = "more" if n_small > n_big else "fewer" if n_small < n_big else "same"
    return verdict(str(answer).strip().lower() == truth,
                    f"right: {n_small} vs {n_big} tokens -- fewer merges, so longer sequences for the "
                    "same context_length budget",
                    f"your measurement says {truth!r} ({n_small} vs {n_big} tokens)")


# ============================================================================================
# 03 · Initializing a new model, training with Trainer
# ============================================================================================
def _gpt2_param_count_reference(vocab_size: int, n_positions: int, n_embd: int, n_layer: int) -> int:
    """Tied output layer: token + position embeddings, per block 2 LayerNorms, attention (c_attn,
    c_proj) and MLP (c_fc, c_proj) with biases, and the final LayerNorm."""
    d = n_embd
    block = 2 * (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    return vocab_size * d + n_positions * d + n_layer * block + 2 * d


GPT2_SIZE_CASES: tuple[tuple[int, int, int, int], ...] = (
    (1000, 64, 32, 1), (8000, 128, 256, 4), (50000, 1024, 768, 12), (50257, 1024, 768, 12), (300, 16, 8, 3),
)


def check_gpt2_param_count(fn: Callable[[int, int, int, int], int]) -> Verdict:
    """Exercise 03.1: `fn(vocab_size, n_positions, n_embd, n_layer)` returns the number of parameters
    of a ``GPT2LMHeadModel`` (the output layer shares the token embedding's weights)."""
    for case in GPT2_SIZE_CASES:
        got, want = fn(*case), _gpt2_param_count_reference(*case)
        if got != want:
            hint = " (did you count lm_head twice? it is tied to wte)" if got == want + case[0] * case[2] else ""
            return verdict(False, "", f"for (vocab, positions, n_embd, n_layer)={case} you got {got:,}, expected {want:,}{hint}")
    return verdict(True, "right for all sizes, including the course's 124M GPT-2", "")


def check_optimizer_steps(fn: Callable[[int, int, int], int]) -> Verdict:
    """Exercise 03.2: `fn(n_chunks, batch_size, gradient_accumulation_steps)` is the number of
    optimizer steps in one epoch (a last partial batch and a last partial accumulation both count)."""
    import math

    cases = [(100, 8, 1), (100, 8, 2), (96, 8, 4), (70, 8, 2), (5, 8, 8), (606720, 32, 8)]
    for n, b, a in cases:
        want = math.ceil(math.ceil(n / b) / a)
        got = fn(n, b, a)
        if got != want:
            return verdict(False, "", f"for {n} chunks, batch {b}, accumulation {a}: you got {got}, expected {want}")
    return verdict(True, "right: micro-batches = ceil(chunks / batch), steps = ceil(micro-batches / accumulation)", "")


# ============================================================================================
# 04 · Code generation with a pipeline
# ============================================================================================
GROUPBY_CASES: tuple[tuple[str, bool], ...] = (
    ("df.groupby('profession')['income'].mean()", True),
    ("df.groupby(['profession']).mean()", True),
    ("profession_income = df.groupby(by='profession').income.mean()", True),
    ("df.groupby('profession').agg('mean')", True),
    ("df['income'].mean()", False),
    ("df.groupby('profession').sum()", False),
    ("df.groupby('profession')", False),
    ("np.mean(df.income)", False),
)


def check_groupby_pattern(pattern: str) -> Verdict:
    """Exercise 04.1: a regular expression that accepts a completion computing a mean per group
    with ``groupby`` (``.mean()``, ``.column.mean()``, ``['col'].mean()`` or ``.agg('mean')``)."""
    try:
        rx = re.compile(pattern)
    except re.error as err:
        return verdict(False, "", f"not a valid regular expression: {err}")
    for text, expected in GROUPBY_CASES:
        if bool(rx.search(text)) != expected:
            return verdict(False, "", f"{text!r} should {'match' if expected else 'not match'}")
    return verdict(True, f"all {len(GROUPBY_CASES)} completions classified right", "")


def check_repeat_baseline(fn: Callable[[str], str]) -> Verdict:
    """Exercise 04.2: `fn(prompt)` returns the prompt's last *code* line, stripped (comments and
    blank lines skipped; "" when there is none): the baseline the model must beat."""
    cases = [
        ("import pandas as pd\ndf = pd.read_csv('a.csv')\n# Compute the correlation matrix\n", "df = pd.read_csv('a.csv')"),
        ("x = 1\n\n    y = x + 1\n\n# next\n", "y = x + 1"),
        ("# only comments\n# here\n", ""),
        ("a = 1  # keep this one\n", "a = 1  # keep this one"),
    ]
    for prompt, want in cases:
        got = fn(prompt)
        if got != want:
            return verdict(False, "", f"for {prompt!r} you returned {got!r}, expected {want!r}")
    return verdict(True, "right: that is the repeat-the-last-line baseline", "")


# ============================================================================================
# 05 · Training with Accelerate
# ============================================================================================
def check_keytoken_weights(fn: Callable[..., Any]) -> Verdict:
    """Exercise 05.1: `fn(inputs, keytoken_ids, alpha)` returns one weight per sample,
    ``alpha * (1 + number of key tokens in the sample)``, as a float tensor."""
    import torch

    from .loss import keytoken_weights

    g = torch.Generator().manual_seed(0)
    for trial in range(20):
        inputs = torch.randint(0, 12, (1 + trial % 4, 3 + trial % 7), generator=g)
        keys = torch.randperm(12, generator=g)[: 1 + trial % 3].tolist()
        alpha = [1.0, 0.5, 2.0, 0.0][trial % 4]
        got = fn(inputs, keys, alpha)
        want = keytoken_weights(inputs, keys, alpha)
        if not isinstance(got, torch.Tensor) or got.shape != want.shape or not torch.allclose(got.float(), want):
            return verdict(False, "", f"inputs={inputs.tolist()}, keys={keys}, alpha={alpha}: got {got}, expected {want}")
    return verdict(True, "right, for every alpha: note that alpha=0 switches the loss off entirely", "")


def check_no_decay_groups(fn: Callable[[Any], list[dict[str, Any]]], model: Any) -> Verdict:
    """Exercise 05.2: `fn(model)` returns two optimizer groups where *every* bias and *every*
    LayerNorm weight (GPT-2's ln_1, ln_2, ln_f) has weight_decay 0, and nothing else does."""
    import torch.nn as nn

    groups = fn(model)
    names = {id(p): n for n, p in model.named_parameters()}
    norm = {id(p) for m in model.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters(recurse=False)}
    seen: set[int] = set()
    for g in groups:
        for p in g["params"]:
            pid = id(p)
            if pid in seen:
                return verdict(False, "", f"{names.get(pid)} is in two groups")
            seen.add(pid)
            should_skip = pid in norm or names.get(pid, "").endswith("bias")
            if (g.get("weight_decay", 0.0) == 0.0) != should_skip:
                verb = "escapes" if g.get("weight_decay", 0.0) == 0.0 else "gets"
                return verdict(False, "", f"{names.get(pid)} {verb} weight decay")
    missing = [n for n, p in model.named_parameters() if id(p) not in seen]
    if missing:
        return verdict(False, "", f"parameters in no group: {missing[:3]}")
    return verdict(True, f"right: {len(norm)} LayerNorm parameters and every bias skip weight decay", "")
