"""From start/end logits back to answer texts, and the SQuAD score.

The model gives every token of every window a start score and an end score. The course turns
them into one answer per question by, for each window, taking the ``n_best`` highest start
positions and the ``n_best`` highest end positions, keeping the pairs that lie inside the
context, in order, and at most ``max_answer_length`` tokens long, and picking the pair with the
highest ``start + end`` score over all windows of the question.

`predict_answers` does exactly that -- same candidates, same ties, so the same texts as the
course's loop (kept in `course_utils.qa.course`) -- but for all windows at once
with NumPy: top-``n_best`` per row by ``argpartition``, offsets read from Arrow columns
instead of row by row, and one ``(windows, n_best, n_best)`` score array.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

__all__ = [
    "METRIC_FILE",
    "LogitsMismatchError",
    "WindowOffsets",
    "window_offsets",
    "top_n_desc",
    "Candidates",
    "candidate_spans",
    "best_span_per_window",
    "predict_answers",
    "top_candidates",
    "load_squad_metric",
    "references_of",
    "compute_metrics",
    "oracle_logits",
    "MODEL_INPUTS",
    "predict_logits",
    "concat_padded",
]

METRIC_FILE = Path(__file__).with_name("squad_metric.py")


class LogitsMismatchError(ValueError):
    """Logits that do not belong to these features (count, width or shape)."""


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------
def _as_logits(array: Any, name: str) -> np.ndarray:
    if hasattr(array, "detach"):  # a torch tensor
        array = array.detach().cpu().numpy()
    out = np.asarray(array)
    if out.dtype == object or not np.issubdtype(out.dtype, np.floating):
        raise TypeError(f"{name} must be a 2-D float array (windows x tokens), got dtype {out.dtype}; "
                        "pad ragged logits to one width first (e.g. with -100)")
    if out.ndim != 2:
        raise LogitsMismatchError(f"{name} must be 2-D (windows x tokens), got shape {out.shape}")
    if np.isnan(out).any():
        raise ValueError(f"{name} contains NaN: the model's outputs are not usable (did training diverge?)")
    return out


@dataclass
class WindowOffsets:
    """The validation windows' ``offset_mapping`` as flat arrays (one entry per token).

    Token ``t`` of the flat layout (window ``w``'s tokens are ``row_start[w]:row_start[w + 1]``)
    is inside the context when ``in_context[t]``; its characters are then
    ``values[pair_at[t]]`` to ``values[pair_at[t] + 1]``. Kept in this raw form so that only
    the few candidate tokens are ever looked up.
    """

    example_ids: list[str]
    row_start: np.ndarray  # (windows + 1,)
    in_context: np.ndarray  # (tokens,) bool: offset is not None
    pair_at: np.ndarray  # (tokens + 1,) index of each token's [start, end] pair in `values`
    values: np.ndarray  # flat character offsets

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.row_start)

    def _pair(self, token: np.ndarray) -> np.ndarray:
        # Null tokens own no pair; clip so that looking them up (then masked out) stays in bounds.
        return np.minimum(self.pair_at[token], max(self.values.size - 2, 0))

    def char_start(self, token: np.ndarray) -> np.ndarray:
        return self.values[self._pair(token)] if self.values.size else np.zeros(np.shape(token), np.int64)

    def char_end(self, token: np.ndarray) -> np.ndarray:
        return self.values[self._pair(token) + 1] if self.values.size else np.zeros(np.shape(token), np.int64)


def _is_dataset(obj: Any) -> bool:
    try:
        from datasets import Dataset
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, Dataset)


def _arrow_columns(dataset: Any, columns: Sequence[str]):
    """Columns of a `Dataset` as one Arrow table (respects select/shuffle index mappings)."""
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise KeyError(f"missing column(s) {', '.join(missing)} (have {', '.join(dataset.column_names)})")
    return dataset.select_columns(list(columns)).with_format("arrow")[:]


def window_offsets(features: Any) -> WindowOffsets:
    """Read ``example_id`` and ``offset_mapping`` of all windows at once.

    A `datasets.Dataset` is read through Arrow, without one Python object per token (the
    course's ``features[i]["offset_mapping"]`` builds ~400 per window); anything else (a list of
    dicts, a dict of lists) goes through a plain loop.
    """
    if _is_dataset(features):
        import pyarrow as pa

        table = _arrow_columns(features, ["example_id", "offset_mapping"])
        example_ids = table.column("example_id").to_pylist()
        outer = table.column("offset_mapping").combine_chunks()
        if isinstance(outer, pa.ChunkedArray):
            outer = outer.chunk(0) if outer.num_chunks else pa.array([], outer.type)
        row_start = np.asarray(outer.offsets, dtype=np.int64)
        inner = outer.values  # one list (or null) per token; row_start indexes it directly
        if isinstance(inner, pa.FixedSizeListArray):
            pair_at = np.arange(len(inner) + 1, dtype=np.int64) * inner.type.list_size
        else:
            pair_at = np.asarray(inner.offsets, dtype=np.int64)
        in_context = inner.is_valid().to_numpy(zero_copy_only=False)
        values = inner.values.to_numpy(zero_copy_only=False)
        if values.dtype.kind not in "iu":
            raise TypeError(f"offset_mapping must hold integers, got {inner.type}")
        start = row_start[0]
        if start:  # a sliced array: keep positions relative to its first window
            row_start = row_start - start
            in_context = in_context[start:]
            pair_at = pair_at[start:]
        sizes = np.diff(pair_at)[in_context[: len(pair_at) - 1]]
        if sizes.size and (sizes != 2).any():
            raise ValueError("offset_mapping entries must be [start, end] pairs or None")
        return WindowOffsets(example_ids, row_start, in_context, pair_at, values.astype(np.int64, copy=False))
    rows = features
    if isinstance(features, Mapping):
        rows = [dict(zip(features, values)) for values in zip(*features.values())]
    example_ids, lengths, flat = [], [], []
    for row in rows:
        example_ids.append(row["example_id"])
        lengths.append(len(row["offset_mapping"]))
        flat.extend(row["offset_mapping"])
    in_context = np.array([o is not None for o in flat], dtype=bool)
    values = np.array([o if o is not None else (-1, -1) for o in flat], dtype=np.int64).reshape(-1)
    row_start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    pair_at = np.arange(len(flat) + 1, dtype=np.int64) * 2
    return WindowOffsets(example_ids, row_start, in_context, pair_at, values)


def _examples_columns(examples: Any) -> tuple[list[str], list[str]]:
    if _is_dataset(examples):
        table = _arrow_columns(examples, ["id", "context"])
        return table.column("id").to_pylist(), table.column("context").to_pylist()
    if isinstance(examples, Mapping):
        return list(examples["id"]), list(examples["context"])
    return [e["id"] for e in examples], [e["context"] for e in examples]


# --------------------------------------------------------------------------------------------
# Top-n per row, in the course's order
# --------------------------------------------------------------------------------------------
def top_n_desc(logits: np.ndarray, n: int) -> np.ndarray:
    """Per row, the same indices in the same order as the course's
    ``np.argsort(row)[-1 : -n - 1 : -1]``.

    ``argpartition`` finds the top ``n + 1`` of every row at once; rows whose top values are all
    distinct then have one correct order. Rows with ties among them (padding with -inf, tiny
    windows, rounded logits) are sorted with the course's own ``np.argsort``, row by row, so
    that even the order of equal scores is the course's.
    """
    rows, width = logits.shape
    if width > n:
        part = np.argpartition(logits, width - n - 1, axis=1)[:, width - n - 1:]
    else:  # every position is a candidate
        part = np.broadcast_to(np.arange(width), (rows, width))
    values = np.take_along_axis(logits, part, axis=1)
    by_value = np.argsort(-values, axis=1, kind="stable")
    part = np.take_along_axis(part, by_value, axis=1)
    values = np.take_along_axis(values, by_value, axis=1)
    tied = (values[:, 1:] == values[:, :-1]).any(axis=1)
    top = np.ascontiguousarray(part[:, :n])
    for row in np.flatnonzero(tied):
        top[row] = np.argsort(logits[row])[-1:-n - 1:-1]
    return top


# --------------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------------
@dataclass
class Candidates:
    """The course's candidate spans of every window: ``(windows, n_best, n_best)`` arrays."""

    start_index: np.ndarray  # (W, n) token positions, course order
    end_index: np.ndarray  # (W, n)
    score: np.ndarray  # (W, n, n) start_logit + end_logit, logits' dtype
    valid: np.ndarray  # (W, n, n) the course's filters
    char_start: np.ndarray  # (W, n) character start of each start token
    char_end: np.ndarray  # (W, n) character end of each end token


def candidate_spans(start_logits: Any, end_logits: Any, offsets: WindowOffsets, n_best: int = 20,
                    max_answer_length: int = 30) -> Candidates:
    """Every window's ``n_best x n_best`` (start, end) pairs with the course's filters applied."""
    if isinstance(n_best, bool) or not isinstance(n_best, int) or n_best < 1:
        raise ValueError(f"n_best must be a positive int, got {n_best!r}")
    if isinstance(max_answer_length, bool) or not isinstance(max_answer_length, int) or max_answer_length < 1:
        raise ValueError(f"max_answer_length must be a positive int, got {max_answer_length!r}")
    start = _as_logits(start_logits, "start_logits")
    end = _as_logits(end_logits, "end_logits")
    n_windows = len(offsets.row_start) - 1
    if start.shape != end.shape:
        raise LogitsMismatchError(f"start_logits {start.shape} and end_logits {end.shape} differ in shape")
    if start.shape[0] != n_windows:
        raise LogitsMismatchError(
            f"{start.shape[0]} rows of logits for {n_windows} features: pass the logits of exactly "
            "these validation features, in the same order (e.g. trainer.predict(features))")
    lengths = offsets.lengths
    if n_windows and lengths.max() > start.shape[1]:
        bad = int(np.argmax(lengths > start.shape[1]))
        raise LogitsMismatchError(
            f"feature {bad} (example {offsets.example_ids[bad]!r}) has {lengths[bad]} tokens but the "
            f"logits only {start.shape[1]} columns: logits must cover every token of every feature")
    s_idx = top_n_desc(start, n_best)
    e_idx = top_n_desc(end, n_best)
    s_val = np.take_along_axis(start, s_idx, axis=1)
    e_val = np.take_along_axis(end, e_idx, axis=1)

    def lookup(idx: np.ndarray, chars) -> tuple[np.ndarray, np.ndarray]:
        # Positions past a window's own length are padding (dynamic padding): never valid.
        inside = idx < lengths[:, None]
        token = offsets.row_start[:-1, None] + np.where(inside, idx, 0)
        token = np.minimum(token, max(len(offsets.in_context) - 1, 0))
        if len(offsets.in_context) == 0:
            return np.zeros(idx.shape, bool), np.zeros(idx.shape, np.int64)
        ok = inside & offsets.in_context[token]
        return ok, np.where(ok, chars(token), -1)

    s_ok, s_char = lookup(s_idx, offsets.char_start)
    e_ok, e_char = lookup(e_idx, offsets.char_end)
    small = np.int16 if start.shape[1] < 2**15 else np.int64
    span = e_idx.astype(small)[:, None, :] - s_idx.astype(small)[:, :, None]
    valid = (span >= 0) & (span < min(max_answer_length, 2**15 - 1))
    valid &= s_ok[:, :, None]
    valid &= e_ok[:, None, :]
    score = s_val[:, :, None] + e_val[:, None, :]
    return Candidates(s_idx, e_idx, score, valid, s_char, e_char)


def best_span_per_window(c: Candidates) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each window: whether it has a valid pair, the first best pair (flat index in the
    course's start-major order) and its score."""
    w, n, _ = c.score.shape
    valid = c.valid.reshape(w, n * n)
    score = c.score.reshape(w, n * n)
    masked = score.copy()
    np.copyto(masked, -np.inf, where=~valid)
    best = np.argmax(masked, axis=1) if w else np.zeros(0, np.int64)
    has_any = valid.any(axis=1)
    best_score = masked[np.arange(w), best]
    # All valid pairs score -inf: the course keeps the first valid one it met.
    fix = has_any & np.isneginf(best_score)
    best[fix] = np.argmax(valid[fix], axis=1)
    return has_any, best, best_score


def predict_answers(start_logits: Any, end_logits: Any, features: Any, examples: Any, n_best: int = 20,
                    max_answer_length: int = 30) -> list[dict[str, str]]:
    """One ``{"id", "prediction_text"}`` per example: the course's answer, computed for all
    windows at once. An example whose windows hold no valid span gets ``""``, as in the course.
    """
    offsets = window_offsets(features)
    c = candidate_spans(start_logits, end_logits, offsets, n_best, max_answer_length)
    has_any, best, best_score = best_span_per_window(c)
    n = c.start_index.shape[1]
    rows = np.flatnonzero(has_any)
    ids = offsets.example_ids
    # Group windows by example; inside a group the highest score wins, the earliest window on ties.
    codes: dict[str, int] = {}
    group = np.fromiter((codes.setdefault(ids[r], len(codes)) for r in rows), dtype=np.int64, count=len(rows))
    order = np.lexsort((rows, -best_score[rows], group))
    first = np.ones(len(order), dtype=bool)
    first[1:] = group[order][1:] != group[order][:-1]
    winners = rows[order[first]]
    chosen: dict[str, tuple[int, int]] = {}
    for r in winners:
        i, j = divmod(int(best[r]), n)
        chosen[ids[r]] = (int(c.char_start[r, i]), int(c.char_end[r, j]))
    example_ids, contexts = _examples_columns(examples)
    out = []
    for eid, context in zip(example_ids, contexts):
        span = chosen.get(eid)
        out.append({"id": eid, "prediction_text": context[span[0]:span[1]] if span else ""})
    return out


def top_candidates(start_logits: Any, end_logits: Any, features: Any, context: str, k: int = 5,
                   n_best: int = 20, max_answer_length: int = 30) -> list[dict[str, Any]]:
    """The `k` best valid spans of one example's windows, with their scores (for the notebooks)."""
    offsets = window_offsets(features)
    c = candidate_spans(start_logits, end_logits, offsets, n_best, max_answer_length)
    found = []
    for w, i, j in zip(*np.nonzero(c.valid)):
        found.append({
            "score": float(c.score[w, i, j]),
            "text": context[c.char_start[w, i]:c.char_end[w, j]],
            "window": int(w),
            "start_token": int(c.start_index[w, i]),
            "end_token": int(c.end_index[w, j]),
        })
    found.sort(key=lambda x: -x["score"])
    return found[:k]


# --------------------------------------------------------------------------------------------
# Metric
# --------------------------------------------------------------------------------------------
def load_squad_metric():
    """The SQuAD v1.1 metric as an `evaluate` module, loaded from this package's own file
    (`evaluate.load("squad")` needs the Hub). Same interface as the course's metric."""
    import evaluate

    return evaluate.load(str(METRIC_FILE))


def references_of(examples: Any) -> list[dict[str, Any]]:
    """``[{"id", "answers"}]`` as the metric wants them."""
    try:
        from datasets import Dataset
    except ImportError:  # pragma: no cover
        Dataset = ()
    if isinstance(examples, Dataset):
        return [{"id": i, "answers": a} for i, a in zip(examples["id"], examples["answers"])]
    if isinstance(examples, Mapping):
        return [{"id": i, "answers": a} for i, a in zip(examples["id"], examples["answers"])]
    return [{"id": e["id"], "answers": e["answers"]} for e in examples]


def compute_metrics(start_logits: Any, end_logits: Any, features: Any, examples: Any, n_best: int = 20,
                    max_answer_length: int = 30, metric: Any = None) -> dict[str, float]:
    """The course's ``compute_metrics``: predictions (as `predict_answers`) scored with the
    SQuAD metric -> ``{"exact_match": ..., "f1": ...}`` (percentages)."""
    predictions = predict_answers(start_logits, end_logits, features, examples, n_best, max_answer_length)
    metric = metric or load_squad_metric()
    return metric.compute(predictions=predictions, references=references_of(examples))


# --------------------------------------------------------------------------------------------
# Logits of a perfect model (for the notebooks and tests)
# --------------------------------------------------------------------------------------------
def oracle_logits(features: Any, examples: Any, width: int | None = None, high: float = 10.0,
                  low: float = -10.0) -> tuple[np.ndarray, np.ndarray]:
    """Start/end logits a perfect model would give: ``high`` on the first and last token of the
    first reference answer in every window that holds it whole, ``low`` everywhere else.

    Post-processing these must give back every answer (EM = F1 = 100), which checks the whole
    chain -- windows, offsets, candidate search, metric -- without training anything.
    """
    offsets = window_offsets(features)
    ids, _ = _examples_columns(examples)
    refs = {r["id"]: r["answers"] for r in references_of(examples)}
    lengths = offsets.lengths
    width = int(width or (lengths.max() if len(lengths) else 0))
    start = np.full((len(lengths), width), low, dtype=np.float32)
    end = np.full((len(lengths), width), low, dtype=np.float32)
    for row, example_id in enumerate(offsets.example_ids):
        answers = refs.get(example_id)
        if not answers or not answers["text"]:
            continue
        a0 = answers["answer_start"][0]
        a1 = a0 + len(answers["text"][0])
        tokens = np.arange(offsets.row_start[row], offsets.row_start[row + 1])
        inside = offsets.in_context[tokens]
        if not inside.any():
            continue
        chars0 = offsets.char_start(tokens[inside])
        chars1 = offsets.char_end(tokens[inside])
        if chars0.min() > a0 or chars1.max() < a1:
            continue  # the answer is not whole in this window: the course's (0, 0) case
        positions = np.flatnonzero(inside)
        first = positions[np.flatnonzero(chars0 <= a0)[-1]]
        last = positions[np.flatnonzero(chars1 >= a1)[0]]
        start[row, first] = high
        end[row, last] = high
    return start, end


# --------------------------------------------------------------------------------------------
# Logits of a model over validation windows
# --------------------------------------------------------------------------------------------
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def predict_logits(model: Any, features: Any, batch_size: int = 32, pad_value: float = -100.0) -> tuple[np.ndarray, np.ndarray]:
    """Run a QA model over validation windows, batch by batch, without ``Trainer``.

    Each batch is padded only to its own longest window (dynamic padding); the rows are then
    stacked with ``pad_value`` past each batch's width, which post-processing never picks.
    """
    import torch

    columns = [c for c in MODEL_INPUTS if c in features.column_names]
    if "input_ids" not in columns:
        raise KeyError("features need an 'input_ids' column (from preprocess_validation_examples)")
    inputs = features.select_columns(columns)
    starts, ends = [], []
    model.eval()
    with torch.no_grad():
        for lo in range(0, len(inputs), batch_size):
            rows = inputs[lo:lo + batch_size]
            width = max(len(ids) for ids in rows["input_ids"])
            batch = {k: torch.tensor([list(x) + [0] * (width - len(x)) for x in rows[k]], device=model.device)
                     for k in columns}
            out = model(**batch)
            starts.append(out.start_logits.float().cpu().numpy())
            ends.append(out.end_logits.float().cpu().numpy())
    if not starts:  # no window at all: empty logits, as the rest of post-processing expects
        return np.zeros((0, 0), dtype=np.float32), np.zeros((0, 0), dtype=np.float32)
    return concat_padded(starts, pad_value), concat_padded(ends, pad_value)


def concat_padded(chunks: Iterable[np.ndarray], pad_value: float = -100.0) -> np.ndarray:
    """Stack ``(batch, length_i)`` arrays of different widths into one ``(n, max length)`` array.

    With dynamic padding every batch has its own width; the missing positions get -100, which
    post-processing never picks (they are outside every context).
    """
    chunks = [np.asarray(c) for c in chunks]
    if not chunks:
        raise ValueError("no logits to concatenate (empty evaluation set?)")
    width = max(c.shape[1] for c in chunks)
    out = np.full((sum(len(c) for c in chunks), width), pad_value, dtype=np.float32)
    row = 0
    for c in chunks:
        out[row : row + len(c), : c.shape[1]] = c
        row += len(c)
    return out
