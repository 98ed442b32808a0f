"""Exercises at the end of the §6 notebooks, and the ``check_...`` helpers that mark them.

Each checker prints a short verdict and returns it as a ``viz.Verdict`` (true when right; silent
as a cell's last value), so a learner can re-run it until it passes. A failing check shows a counter-example (an input where the answer goes wrong, and what it
gave) and a hint, never the expected answer itself. Imports stay light: the checkers get the data
they need as arguments.

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
        if not isinstance(got, bool):
            return verdict(False, "", f"for {content!r} your function returned {got!r}: return True or False")
        if got != expected:
            why = "it imports one of the four libraries" if expected else "it imports none of the four libraries"
            return verdict(False, "", f"counter-example: your function {'drops' if expected else 'keeps'} "
                                       f"{content!r}, but {why}")
    return verdict(True, f"all {len(IMPORT_FILTER_CASES)} cases right: you keep importers only", "")


def check_first_kept_paths(paths: Sequence[str], stream: Iterable[Mapping[str, Any]], keywords: Sequence[str],
                           n: int = 5) -> Verdict:
    """Exercise 01.2: the paths of the first `n` files of `stream` that mention one of `keywords`
    (with the lazy ``IterableDataset.filter``, which reads only as far as needed)."""
    expected, order = [], {}
    for row in stream:
        matches = any(k in row["content"] for k in keywords)
        order.setdefault(row["path"], (len(order), matches))
        if matches:
            expected.append(row["path"])
            if len(expected) == n:
                break
    paths = list(paths)
    if paths == expected:
        return verdict(True, f"right: {expected}", "")
    return verdict(False, "", _first_kept_hint(paths, expected, order, keywords, n))


def _first_kept_hint(paths: list[str], expected: list[str], order: Mapping[str, tuple[int, bool]],
                     keywords: Sequence[str], n: int) -> str:
    """What is wrong with the first wrong path of exercise 01.2, without naming the right one."""
    if len(paths) != len(expected):
        return f"you gave {len(paths)} paths; the exercise asks for the first {n} (hint: .take({n}))"
    i = next(i for i, (got, want) in enumerate(zip(paths, expected)) if got != want)
    got = paths[i]
    if got not in order or order[got][0] > order[expected[-1]][0]:
        return f"path {i + 1}, {got!r}, is not among the first {n} matching files of the stream"
    if not order[got][1]:
        return f"path {i + 1}, {got!r}, does not mention any of {list(keywords)}"
    return f"path {i + 1}, {got!r}, is out of order: keep the stream's order (the lazy filter does)"


def check_kept_share(share: float, total: int, kept: int) -> Verdict:
    """Exercise 01.3: the share (0-1) of the streamed files your import filter keeps."""
    expected = kept / total if total else 0.0
    ok = abs(float(share) - expected) < 5e-4
    return verdict(ok, f"right: {expected:.2%}",
                    f"{share} is too {'high' if float(share) > expected else 'low'}: count the files your "
                    "imports_library keeps and divide by all the files of the stream")


# ============================================================================================
# 02 · Preparing the dataset
# ============================================================================================
def check_chunks_kept(fn: Callable[[int, int], int]) -> Verdict:
    """Exercise 02.1: `fn(n_tokens, context_length)` = number of chunks the course's ``tokenize``
    keeps from one file of `n_tokens` tokens."""
    for n in (0, 1, 63, 64, 65, 127, 128, 129, 1000, 4096):
        for c in (16, 64, 128):
            if fn(n, c) != n // c:
                return verdict(False, "", f"counter-example: a file of {n} token{'s' * (n != 1)}, context_length={c}: you "
                                           f"say {fn(n, c)}. Cut it into {c}-token pieces by hand: which "
                                           "of them does the course keep?")
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
    if ok:
        return verdict(True, f"right: the course drops {want[0]} tokens, concatenation only {want[1]}", "")
    hints = []
    if course != want[0]:
        hints.append(f"the course's drop ({course}) is not right: each file is cut on its own, so each loses "
                     f"what is left after its full {context_length}-token chunks")
    if concat != want[1]:
        eos = " (did you leave out the EOS tokens?)" if concat == (sum(lengths) % context_length) else ""
        hints.append(f"the concatenation's drop ({concat}) is not right: the files are joined into one stream, "
                     f"with an EOS token after every file, and only that stream's remainder is lost{eos}")
    return verdict(False, "", "; ".join(hints))


def check_vocab_effect(answer: str, n_small: int, n_big: int) -> Verdict:
    """Exercise 02.3: does a smaller vocabulary give 'more' or 'fewer' tokens for the same text?
    `n_small` / `n_big`: the token counts you measured with each tokenizer."""
    truth = "more" if n_small > n_big else "fewer" if n_small < n_big else "same"
    given = str(answer).strip().lower()
    return verdict(given == truth,
                    f"right: {n_small} vs {n_big} tokens -- fewer merges, so longer sequences for the "
                    "same context_length budget",
                    f"{answer!r} is not what your tokenizers measure: count the tokens of the same text with "
                    "both (len(...['input_ids'])) and compare" if given in ("more", "fewer", "same")
                    else f"{answer!r}: answer \"more\" or \"fewer\"")


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
            return verdict(False, "", f"counter-example: (vocab, positions, n_embd, n_layer)={case}: your "
                                       f"{got:,} is too {'many' if got > want else 'few'}{_param_count_hint(got, want, *case)}")
    return verdict(True, "right for all sizes, including the course's 124M GPT-2", "")


def _param_count_hint(got: int, want: int, vocab_size: int, n_positions: int, n_embd: int, n_layer: int) -> str:
    """A likely cause of a wrong GPT-2 count (exercise 03.1), named without giving the count."""
    causes = {vocab_size * n_embd: "did you count lm_head? It is tied to wte: one matrix, counted once",
              -n_positions * n_embd: "did you leave out the position embeddings (wpe)?",
              -2 * n_embd: "did you leave out the final LayerNorm (ln_f)?"}
    hint = causes.get(got - want, "compare with sum(p.numel() for p in model.parameters()) of a small "
                                  "GPT2LMHeadModel, layer by layer (model.named_parameters())")
    return f" ({hint})"


def check_optimizer_steps(fn: Callable[[int, int, int], int]) -> Verdict:
    """Exercise 03.2: `fn(n_chunks, batch_size, gradient_accumulation_steps)` is the number of
    optimizer steps in one epoch (a last partial batch and a last partial accumulation both count)."""
    import math

    cases = [(100, 8, 1), (100, 8, 2), (96, 8, 4), (70, 8, 2), (5, 8, 8), (606720, 32, 8)]
    for n, b, a in cases:
        want = math.ceil(math.ceil(n / b) / a)
        got = fn(n, b, a)
        if got != want:
            last = " (a last, smaller batch or group still makes a step)" if got < want else ""
            return verdict(False, "", f"counter-example: {n} chunks, batch {b}, accumulation {a}: your {got} is "
                                       f"too {'many' if got > want else 'few'}{last}. Count the micro-batches "
                                       "first, then the optimizer steps they make")
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
            what = "computes a mean per group" if expected else "does not compute a mean per group"
            return verdict(False, "", f"counter-example: your pattern {'misses' if expected else 'accepts'} "
                                       f"{text!r}, which {what}")
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
            return verdict(False, "", f"counter-example: for {prompt!r} you return {got!r}. The baseline is the "
                                       "last line of code: skip blank lines and lines that start with #, keep a "
                                       "trailing comment, strip the indentation, and give \"\" when there is none")
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
        case = f"inputs={inputs.tolist()}, keys={keys}, alpha={alpha}"
        if not isinstance(got, torch.Tensor):
            return verdict(False, "", f"for {case} you returned a {type(got).__name__}: return a torch.Tensor")
        if got.shape != want.shape:
            return verdict(False, "", f"for {case} your weights have shape {tuple(got.shape)}: one weight per "
                                       f"sample (row) is shape ({inputs.shape[0]},)")
        if not torch.allclose(got.float(), want):
            return verdict(False, "", f"counter-example: {case}: you return {got.tolist()}. Count the key "
                                       "tokens of each row (torch.isin), then alpha * (1 + count)")
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
