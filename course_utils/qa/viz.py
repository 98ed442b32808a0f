"""Pictures of the §7 data: the sliding windows of one example, the shape of a SQuAD-format set,
and the candidate answers of post-processing.

Each drawing has a plain-text twin (`windows_text`, the dicts the plots are made from) so that
scripts, tests and papermill runs see the same facts a learner sees in the browser.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

from .features import answer_token_span, tokenize_windows

__all__ = [
    "ANSWER_BG",
    "ANSWER_OUTSIDE_BG",
    "OVERLAP_BG",
    "ZERO_BORDER",
    "Window",
    "example_windows",
    "windows_text",
    "windows_html",
    "show_windows",
    "context_token_lengths",
    "answer_positions",
    "plot_dataset_shape",
    "plot_candidates",
]

# Colours: answer (green), overlap with the previous window (grey), (0, 0) windows (red border).
ANSWER_BG = "#b7f0b1"
ANSWER_OUTSIDE_BG = "#f6e27a"
OVERLAP_BG = "#e6e6e6"
ZERO_BORDER = "#d33"


@dataclass
class Window:
    """One window of one example: which context characters it holds and its labels."""

    index: int
    n_tokens: int
    char_start: int  # first context character inside the window
    char_end: int  # one past the last
    start_position: int  # label (token index), 0 when the answer is not fully inside
    end_position: int
    label_text: str  # the labels decoded back to text ("" for (0, 0))

    @property
    def has_answer(self) -> bool:
        return not (self.start_position == 0 and self.end_position == 0)


def example_windows(tokenizer: Any, question: str, context: str, answer_text: str, answer_start: int,
                    max_length: int = 100, stride: int = 50) -> list[Window]:
    """The windows the course's preprocessing cuts from one example, with their labels."""
    inputs = tokenize_windows(tokenizer, question, context, max_length=max_length, stride=stride)
    end_char = answer_start + len(answer_text)
    windows = []
    for i, offsets in enumerate(inputs["offset_mapping"]):
        seq = inputs.sequence_ids(i)
        first = seq.index(1)
        last = first + seq.count(1) - 1
        s, e = answer_token_span(offsets, first, last, answer_start, end_char)
        label = "" if (s, e) == (0, 0) else context[offsets[s][0]:offsets[e][1]]
        windows.append(Window(i, len(inputs["input_ids"][i]), offsets[first][0], offsets[last][1], s, e, label))
    return windows


def windows_text(windows: Sequence[Window], context: str, width: int = 60) -> str:
    """The windows as text: character span, labels, and the start/end of each window's context."""
    lines = []
    for w in windows:
        piece = context[w.char_start:w.char_end]
        shown = piece if len(piece) <= width else piece[: width // 2 - 2] + " … " + piece[-(width // 2 - 2):]
        label = f"labels ({w.start_position}, {w.end_position}) -> {w.label_text!r}" if w.has_answer else "labels (0, 0): answer not inside"
        lines.append(f"window {w.index}: {w.n_tokens} tokens, context chars {w.char_start}-{w.char_end}, {label}\n    {shown}")
    return "\n".join(lines)


def windows_html(windows: Sequence[Window], context: str, answer_start: int, answer_text: str) -> str:
    """One row per window: its part of the context, the characters it shares with the previous
    window shaded, the answer highlighted (green where the labels point at it, yellow where it is
    cut off), and windows labelled ``(0, 0)`` framed in red."""
    a0, a1 = answer_start, answer_start + len(answer_text)
    rows = []
    prev_end = -1
    for w in windows:
        pieces = []
        bounds = sorted({w.char_start, w.char_end, max(w.char_start, min(prev_end, w.char_end)),
                         min(max(a0, w.char_start), w.char_end), min(max(a1, w.char_start), w.char_end)})
        for lo, hi in zip(bounds, bounds[1:]):
            text = html.escape(context[lo:hi])
            styles = []
            if lo < a1 and hi > a0:
                styles.append(f"background:{ANSWER_BG if w.has_answer else ANSWER_OUTSIDE_BG};font-weight:bold")
            elif hi <= prev_end:
                styles.append(f"background:{OVERLAP_BG}")
            pieces.append(f'<span style="{";".join(styles)}">{text}</span>' if styles else text)
        border = f"2px solid {ZERO_BORDER}" if not w.has_answer else "1px solid #999"
        label = (f"labels ({w.start_position}, {w.end_position}) → <b>{html.escape(w.label_text)}</b>"
                 if w.has_answer else f'<span style="color:{ZERO_BORDER}">labels (0, 0): the answer is not fully inside</span>')
        rows.append(
            f'<div style="border:{border};margin:4px 0;padding:4px;font-family:monospace;font-size:12px">'
            f"<div><b>window {w.index}</b> · {w.n_tokens} tokens · {label}</div><div>{''.join(pieces)}</div></div>")
        prev_end = w.char_end
    legend = (f'<div style="font-size:12px">'
              f'<span style="background:{ANSWER_BG}">answer, labelled</span> · '
              f'<span style="background:{ANSWER_OUTSIDE_BG}">answer, cut off by the window</span> · '
              f'<span style="background:{OVERLAP_BG}">overlap with the previous window (stride)</span> · '
              f'<span style="border:2px solid {ZERO_BORDER}">&nbsp;(0, 0) window&nbsp;</span></div>')
    return legend + "".join(rows)


def show_windows(tokenizer: Any, example: dict, max_length: int = 100, stride: int = 50) -> list[Window]:
    """Display the windows of a `squad`-schema example as coloured HTML (text outside notebooks)."""
    text, start = example["answers"]["text"][0], example["answers"]["answer_start"][0]
    windows = example_windows(tokenizer, example["question"], example["context"], text, start, max_length, stride)
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:  # pragma: no cover
        print(windows_text(windows, example["context"]))
        return windows
    if get_ipython() is None:
        print(windows_text(windows, example["context"]))
    else:
        display(HTML(windows_html(windows, example["context"], start, text)))
    return windows


# ----------------------------------------------------------------------------------------------
# The shape of a dataset
# ----------------------------------------------------------------------------------------------
def context_token_lengths(dataset: Any, tokenizer: Any) -> list[int]:
    """Tokens per distinct context (special tokens excluded)."""
    contexts = list(dict.fromkeys(dataset["context"]))
    encoded = tokenizer(contexts, add_special_tokens=False, verbose=False)  # no "longer than 512" warning
    return [len(ids) for ids in encoded["input_ids"]]


def answer_positions(dataset: Any) -> dict[str, list[float]]:
    """Where answers sit in their context (0 = first character, 1 = last) and how long they are."""
    relative, words = [], []
    for context, answers in zip(dataset["context"], dataset["answers"]):
        for text, start in zip(answers["text"], answers["answer_start"]):
            relative.append(start / max(len(context), 1))
            words.append(len(text.split()))
    return {"relative_start": relative, "answer_words": words}


def plot_dataset_shape(dataset: Any, tokenizer: Any, window_sizes: Sequence[int] = (256, 384), title: str = "") -> dict[str, float]:
    """Three histograms: context length in tokens (with window sizes marked), where answers
    start, and answer length in words. Returns the share of contexts longer than each window."""
    import matplotlib.pyplot as plt

    lengths = context_token_lengths(dataset, tokenizer)
    pos = answer_positions(dataset)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
    axes[0].hist(lengths, bins=30, color="#4c72b0")
    for size in window_sizes:
        axes[0].axvline(size, color="#d33", linestyle="--")
        axes[0].text(size, axes[0].get_ylim()[1] * 0.9, f" {size}", color="#d33")
    axes[0].set(title="context length (tokens)", xlabel="tokens", ylabel="contexts")
    axes[1].hist(pos["relative_start"], bins=20, range=(0, 1), color="#55a868")
    axes[1].set(title="where the answer starts", xlabel="position in the context (0 = start, 1 = end)", ylabel="answers")
    top = max(pos["answer_words"]) if pos["answer_words"] else 1
    axes[2].hist(pos["answer_words"], bins=range(1, min(top, 30) + 2), color="#c44e52")
    axes[2].set(title="answer length", xlabel="words", ylabel="answers")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.show()
    return {f"share_longer_than_{n}": sum(l > n for l in lengths) / len(lengths) for n in window_sizes}


def plot_candidates(candidates: Sequence[dict], title: str = "top candidate answers") -> None:
    """Horizontal bars: the best spans of post-processing and their ``start + end`` scores."""
    import matplotlib.pyplot as plt

    if not candidates:
        print("no valid candidate span")
        return
    labels = [f"{c['text'][:40]!r} (w{c['window']})" for c in candidates][::-1]
    scores = [c["score"] for c in candidates][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(candidates) + 1))
    ax.barh(labels, scores, color=["#4c72b0"] * (len(scores) - 1) + ["#55a868"])
    ax.set(xlabel="start logit + end logit", title=title)
    fig.tight_layout()
    plt.show()
