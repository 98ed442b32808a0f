"""§6 step 3, "Initializing a new model": a GPT-2 configuration built from the tokenizer.

The course builds the config with ``AutoConfig.from_pretrained("gpt2", n_ctx=...)``. Two things
changed since: transformers 5 ignores ``n_ctx`` (the position table stays 1024 long unless
``n_positions`` is given), and GPT-2's default BOS/EOS ids are 50256, outside a small tokenizer's
vocabulary. So everything here is taken from the tokenizer, and nothing needs the Hub.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..precision import attention_implementation
from ..settings import ClmSettings, settings_from
from .tokenize import TokenizerError  # one error class for "this tokenizer cannot drive a causal LM"

__all__ = [
    "ModelSizeError",
    "TokenizerError",
    "make_config",
    "build_model",
    "count_parameters",
    "describe_size",
    "make_collator",
    "CausalLMCollator",
    "batch_shapes",
]


class ModelSizeError(ValueError):
    """Sizes that cannot work together (context longer than the position table, n_embd % n_head ...)."""


def check_tokenizer(tokenizer: Any) -> None:
    """A causal LM needs an end-of-text token: files are separated by it and batches padded with it."""
    if tokenizer is None or not hasattr(tokenizer, "__len__"):
        raise TokenizerError(f"tokenizer: expected a Hugging Face tokenizer, got {type(tokenizer).__name__}")
    if getattr(tokenizer, "eos_token_id", None) is None:
        raise TokenizerError(
            "tokenizer has no EOS token (eos_token_id is None): a causal LM needs one to mark the end "
            "of each file and to pad batches. Set it, e.g. tokenizer.eos_token = '<|endoftext|>', "
            "after adding that token to the vocabulary."
        )


def make_config(
    tokenizer: Any,
    cfg: Any,
    *,
    context_length: int | None = None,
    n_positions: int | None = None,
):
    """``GPT2Config`` with the vocabulary, context length and special ids of `tokenizer`.

    `cfg` gives ``n_layer``, ``n_embd``, ``n_head``, ``dropout`` (and ``context_length`` unless it
    is passed). ``n_positions`` defaults to the context length, which is what the course meant
    by ``n_ctx``. Dropout 0 on CPU is a speed choice: drawing the masks costs a share of every step
    (measured in docs/experiments.md).

    Two more speed choices that do not change what the model computes: the activation is
    ``gelu_pytorch_tanh``, the same tanh approximation of GELU as GPT-2's ``gelu_new`` but one fused
    PyTorch kernel instead of five Python-level tensor ops (a faster step: docs/experiments.md);
    and ``attn_implementation`` (profile knob; ``"auto"``: ``"eager"`` under bf16 on a CPU, where it
    beat ``"sdpa"``, see :func:`course_utils.precision.attention_implementation`).
    """
    from transformers import GPT2Config

    check_tokenizer(tokenizer)
    clm = settings_from(cfg, ClmSettings)
    context_length = int(context_length if context_length is not None else clm.context_length)
    n_positions = int(n_positions if n_positions is not None else context_length)
    if context_length < 2:
        raise ModelSizeError(f"context_length={context_length}: a causal LM needs at least 2 tokens")
    if context_length > n_positions:
        raise ModelSizeError(
            f"context_length={context_length} is larger than the model's n_positions={n_positions}: "
            "the position-embedding table has no row for the later tokens. Use "
            f"n_positions >= {context_length} or a shorter context_length."
        )
    n_embd, n_head, n_layer = int(clm.n_embd), int(clm.n_head), int(clm.n_layer)
    if n_layer < 1 or n_head < 1 or n_embd < 1:
        raise ModelSizeError(f"n_layer={n_layer}, n_head={n_head}, n_embd={n_embd}: all must be >= 1")
    if n_embd % n_head:
        raise ModelSizeError(f"n_embd={n_embd} is not divisible by n_head={n_head}")
    dropout = float(clm.dropout or 0.0)
    try:
        attn = attention_implementation(clm.attn_implementation, clm.mixed_precision)
    except ValueError as exc:
        raise ModelSizeError(str(exc)) from None
    extra = {"attn_implementation": attn} if attn else {}
    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        activation_function="gelu_pytorch_tanh",
        bos_token_id=tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        **extra,
    )


def build_model(tokenizer: Any, cfg: Any, *, seed: int | None = None, **config_kwargs: Any):
    """A freshly initialised ``GPT2LMHeadModel`` (seeded, so two runs start from the same weights)."""
    import torch
    from transformers import GPT2LMHeadModel

    config = make_config(tokenizer, cfg, **config_kwargs)
    if seed is None:
        seed = getattr(cfg, "seed", None)
    if seed is not None:
        torch.manual_seed(int(seed))
    return GPT2LMHeadModel(config)


def count_parameters(model: Any) -> int:
    """Parameters counted once: GPT-2 ties the output layer to the token embedding."""
    return sum(p.numel() for p in model.parameters())


def describe_size(model: Any) -> str:
    """The course's ``GPT-2 size: 124.2M parameters`` line."""
    n = count_parameters(model)
    return f"GPT-2 size: {n / 1000**2:.1f}M parameters" if n >= 100_000 else f"GPT-2 size: {n:,} parameters"


def make_collator(tokenizer: Any):
    """``DataCollatorForLanguageModeling(tokenizer, mlm=False)`` with the pad token set to EOS.

    Labels are a copy of the inputs (the model shifts them by one itself). GPT-2 has no pad
    token, so padding uses EOS, as in the course. But the library's collator then masks *every*
    EOS in the labels, including the real ones between files inside our chunks, so the model
    would never learn where a file ends; ours masks only the padded positions (see
    `CausalLMCollator`). With fixed-length chunks nothing is padded at all.
    """
    check_tokenizer(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return _collator_class()(tokenizer, mlm=False)


def _collator_class():
    from transformers import DataCollatorForLanguageModeling

    class CausalLMCollator(DataCollatorForLanguageModeling):
        """Causal-LM collator that ignores padding, not the EOS tokens that happen to equal it."""

        def torch_call(self, examples):
            batch = super().torch_call(examples)
            mask = batch.get("attention_mask")
            if mask is not None:
                labels = batch["input_ids"].clone()
                labels[mask == 0] = -100
                batch["labels"] = labels
                if bool(mask.all()):
                    # Full-length chunks: an all-ones mask adds work and changes nothing.
                    del batch["attention_mask"]
            return batch

    return CausalLMCollator


def __getattr__(name: str):
    # Built lazily so that importing this module does not import transformers.
    if name == "CausalLMCollator":
        return _collator_class()
    raise AttributeError(name)


def batch_shapes(collator: Any, examples: Sequence[Mapping[str, Any]]) -> dict[str, tuple[int, ...]]:
    """Shapes of one collated batch, as the course prints them."""
    if len(examples) == 0:
        raise ValueError("batch_shapes: no examples given")
    out = collator([{"input_ids": ex["input_ids"]} for ex in examples])
    return {key: tuple(value.shape) for key, value in out.items()}
