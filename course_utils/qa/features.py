"""From (question, context) examples to model inputs: overlapping windows and answer labels.

A context longer than ``max_length`` tokens is cut into windows that overlap by ``stride``
tokens, each one ``[CLS] question [SEP] context-piece [SEP]``. Training windows get the token
positions of the answer's first and last token as labels, or ``(0, 0)`` (the ``[CLS]`` token)
when the answer is not entirely inside the window. Validation windows keep their
``example_id`` and the character offsets of their context tokens, which post-processing needs
to turn predicted token positions back into text.

Same semantics as the course, with three changes (see `preprocess_training_examples`):
clear errors instead of Rust panics, no index past the end of a window whose tokenizer adds no
final ``[SEP]``, and a label search by bisection instead of a token-by-token Python scan.
"""
from __future__ import annotations

import bisect
from typing import Any, Mapping, Sequence

__all__ = [
    "check_batch",
    "WindowError",
    "check_tokenizer",
    "check_window_sizes",
    "answer_token_span",
    "preprocess_training_examples",
    "preprocess_validation_examples",
    "tokenize_windows",
    "decode_labels",
    "count_windows",
]

_FATAL = (KeyboardInterrupt, SystemExit, GeneratorExit)


class WindowError(ValueError):
    """Windows cannot be cut with these settings; the message names the argument or record."""


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------
def check_tokenizer(tokenizer: Any) -> None:
    """Offsets and overflowing windows exist only in the Rust ("fast") tokenizers."""
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(
            f"tokenizer {type(tokenizer).__name__} is not a fast tokenizer: windows with "
            "return_offsets_mapping / return_overflowing_tokens need one "
            "(AutoTokenizer.from_pretrained(..., use_fast=True), or a model that has a tokenizer.json)")


def check_window_sizes(max_length: int, stride: int) -> None:
    """`stride` is the overlap between consecutive windows, so it must be smaller than a window."""
    for name, value in (("max_length", max_length), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {value!r}")
    if max_length < 4:
        raise ValueError(f"max_length={max_length} leaves no room for [CLS] question [SEP] context [SEP]")
    if stride < 0:
        raise ValueError(f"stride={stride} must be >= 0")
    if stride >= max_length:
        raise ValueError(f"stride={stride} must be smaller than max_length={max_length}: "
                         "it is the overlap between two windows, and each window holds max_length tokens")


def _check_questions(tokenizer, questions: Sequence[str], ids: Sequence[Any], max_length: int, stride: int) -> None:
    """Each window must keep at least ``stride + 1`` context tokens after the question, or the
    tokenizer panics (Rust) or cannot truncate. Name the first record that does not fit."""
    specials = tokenizer.num_special_tokens_to_add(pair=True)
    # A token covers at least one byte of its text (plus, for SentencePiece, one leading "▁"), so
    # only questions with more bytes than the free room can be too long: tokenise just those.
    limit = max_length - specials - stride - 2
    suspects = [k for k, q in enumerate(questions) if len(q.encode("utf-8", "surrogatepass")) >= limit]
    if not suspects:
        return
    encoded = tokenizer([questions[k] for k in suspects], add_special_tokens=False)["input_ids"]
    for rid, question, n in zip([ids[k] for k in suspects], [questions[k] for k in suspects], map(len, encoded)):
        room = max_length - specials - n
        if room <= 0:
            raise WindowError(
                f"record {rid!r}: the question has {n} tokens, longer than max_length={max_length} "
                f"allows ({specials} special tokens included): {question[:80]!r}")
        if room <= stride:
            raise WindowError(
                f"record {rid!r}: after its {n}-token question only {room} context tokens fit in "
                f"max_length={max_length}, which must be more than stride={stride}; "
                "raise max_length or lower stride")


def _record_ids(examples: Mapping[str, Any], n: int) -> list[Any]:
    ids = examples.get("id")
    return list(ids) if ids is not None else list(range(n))


def check_batch(examples: Mapping[str, Any], split: str, training: bool) -> None:
    """The loaders' record check (:func:`course_utils.qa.data.check_record`) on a batch that
    ``Dataset.map`` hands to a preprocessing function, so a learner's own records get the same
    clear error naming the record: an answer that is not at its ``answer_start``, a start past the
    context's end, a missing ``answers`` column. Training batches need exactly one answer per
    question; validation batches are checked when they carry answers (scoring needs them)."""
    from .data import BadRecordError, check_record

    if training and "answers" not in examples:
        raise BadRecordError(f"{split} examples need an 'answers' column ({{'text': [...], 'answer_start': [...]}}) "
                             f"for the labels; the batch has {', '.join(examples) or 'no columns'}")
    if "answers" not in examples:
        return
    ids = _record_ids(examples, len(examples["context"]))
    titles = examples.get("title")
    for position, rid in enumerate(ids):
        check_record({"id": str(rid), "title": titles[position] if titles is not None else "",
                      "context": examples["context"][position], "question": examples["question"][position],
                      "answers": examples["answers"][position]}, position, split, one_answer=training)


def _tokenize_windows(tokenizer, examples: Mapping[str, Any], max_length: int, stride: int, padding):
    check_tokenizer(tokenizer)
    check_window_sizes(max_length, stride)
    for key in ("question", "context"):
        if key not in examples:
            raise KeyError(f"examples need a {key!r} column (found {', '.join(examples)})")
    contexts = list(examples["context"])
    ids = _record_ids(examples, len(contexts))
    for rid, q, c in zip(ids, examples["question"], contexts):
        if not isinstance(q, str) or not isinstance(c, str):
            raise TypeError(f"record {rid!r}: question and context must be strings")
        if not c.strip():
            raise ValueError(f"record {rid!r}: empty context")
    # The course strips the questions: some SQuAD questions start with spaces, which would
    # waste window room and shift nothing else.
    questions = [q.strip() for q in examples["question"]]
    _check_questions(tokenizer, questions, ids, max_length, stride)
    try:
        inputs = tokenizer(
            questions,
            contexts,
            max_length=max_length,
            truncation="only_second",
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding=padding,
        )
    except _FATAL:
        raise
    except BaseException as err:  # pyo3 PanicException derives from BaseException
        raise WindowError(f"the tokenizer could not cut windows (max_length={max_length}, "
                          f"stride={stride}): {err}") from None
    return inputs, ids


def _context_span(sequence_ids: list, feature: int, rid: Any) -> tuple[int, int]:
    """First and last token of the context (sequence id 1) in one window.

    The course scans with ``while sequence_ids[idx] == 1``, which runs past the end of the list
    when a tokenizer adds no final special token and the window is full; counting cannot.
    """
    try:
        start = sequence_ids.index(1)
    except ValueError:
        raise WindowError(f"record {rid!r}: window {feature} holds no context token") from None
    return start, start + sequence_ids.count(1) - 1


# --------------------------------------------------------------------------------------------
# Training windows
# --------------------------------------------------------------------------------------------
def answer_token_span(offsets: Sequence[Sequence[int]], context_start: int, context_end: int,
                      start_char: int, end_char: int) -> tuple[int, int]:
    """Token labels of one window: ``(0, 0)`` unless the answer's characters
    ``[start_char, end_char)`` are all inside the window's context tokens.

    Equal to the course's two ``while`` scans: the start label is the last context token that
    begins at or before ``start_char``, the end label the first context token that ends at or
    after ``end_char``. Token offsets grow along a sequence, so both are found by bisection
    (O(log n) instead of walking the window token by token).
    """
    if offsets[context_start][0] > start_char or offsets[context_end][1] < end_char:
        return 0, 0
    lo, hi = context_start, context_end + 1
    start = bisect.bisect_right(offsets, start_char, lo, hi, key=_first) - 1
    end = bisect.bisect_left(offsets, end_char, lo, hi, key=_second)
    return start, end


def _first(offset: Sequence[int]) -> int:
    return offset[0]


def _second(offset: Sequence[int]) -> int:
    return offset[1]


def preprocess_training_examples(examples: Mapping[str, Any], tokenizer: Any, max_length: int = 384,
                                 stride: int = 128, padding: str | bool = "max_length") -> Any:
    """The course's ``preprocess_training_examples`` for ``Dataset.map(batched=True)``.

    Returns the tokenizer's ``BatchEncoding`` (input_ids, attention_mask, token_type_ids...) plus
    ``start_positions`` / ``end_positions``, one row per window; ``offset_mapping`` and
    ``overflow_to_sample_mapping`` are removed as in the course. Use it as
    ``raw["train"].map(preprocess_training_examples, batched=True,
    remove_columns=raw["train"].column_names, fn_kwargs={"tokenizer": tok, ...})``.

    ``padding="max_length"`` is the course's choice; ``padding=False`` leaves each window at its
    own length for dynamic padding in the collator (the labels are the same).
    """
    inputs, ids = _tokenize_windows(tokenizer, examples, max_length, stride, padding)
    check_batch(examples, "train", training=True)
    offset_mapping = inputs.pop("offset_mapping")
    sample_map = inputs.pop("overflow_to_sample_mapping")
    answers = examples["answers"]
    start_positions, end_positions = [], []
    for i, offsets in enumerate(offset_mapping):
        sample = sample_map[i]
        answer = answers[sample]
        if not answer["text"] or not answer["answer_start"]:
            raise ValueError(f"record {ids[sample]!r}: a training example needs one answer, found none")
        start_char = answer["answer_start"][0]
        end_char = start_char + len(answer["text"][0])
        context_start, context_end = _context_span(inputs.sequence_ids(i), i, ids[sample])
        s, e = answer_token_span(offsets, context_start, context_end, start_char, end_char)
        start_positions.append(s)
        end_positions.append(e)
    inputs["start_positions"] = start_positions
    inputs["end_positions"] = end_positions
    return inputs


# --------------------------------------------------------------------------------------------
# Validation windows
# --------------------------------------------------------------------------------------------
def preprocess_validation_examples(examples: Mapping[str, Any], tokenizer: Any, max_length: int = 384,
                                   stride: int = 128, padding: str | bool = "max_length") -> Any:
    """The course's ``preprocess_validation_examples``: windows without labels, each with the
    ``example_id`` it came from and ``offset_mapping`` set to ``None`` outside the context, so
    that post-processing can never pick a question or padding token as part of an answer."""
    if "id" not in examples:
        raise KeyError("validation examples need an 'id' column (post-processing groups windows by it)")
    inputs, ids = _tokenize_windows(tokenizer, examples, max_length, stride, padding)
    check_batch(examples, "validation", training=False)
    sample_map = inputs.pop("overflow_to_sample_mapping")
    example_ids = []
    offset_mapping = inputs["offset_mapping"]
    for i in range(len(inputs["input_ids"])):
        example_ids.append(ids[sample_map[i]])
        sequence_ids = inputs.sequence_ids(i)
        offset_mapping[i] = [o if sequence_ids[k] == 1 else None for k, o in enumerate(offset_mapping[i])]
    inputs["example_id"] = example_ids
    return inputs


# --------------------------------------------------------------------------------------------
# Helpers the notebooks use
# --------------------------------------------------------------------------------------------
def tokenize_windows(tokenizer: Any, question: str, context: str, max_length: int = 100, stride: int = 50):
    """One example's windows with offsets, as in the course's worked example (not padded)."""
    inputs, _ = _tokenize_windows(tokenizer, {"question": [question], "context": [context]},
                                  max_length, stride, padding=False)
    return inputs


def decode_labels(features: Mapping[str, Any], tokenizer: Any) -> list[str]:
    """Turn each window's start/end labels back into text (empty for the ``(0, 0)`` windows)."""
    texts = []
    for ids, s, e in zip(features["input_ids"], features["start_positions"], features["end_positions"]):
        texts.append("" if s == 0 and e == 0 else tokenizer.decode(ids[s:e + 1]))
    return texts


def count_windows(examples: Mapping[str, Any], tokenizer: Any, max_length: int, stride: int) -> int:
    """How many windows a batch of examples becomes (what `max_length`/`stride` cost)."""
    inputs, _ = _tokenize_windows(tokenizer, examples, max_length, stride, padding=False)
    return len(inputs["input_ids"])


