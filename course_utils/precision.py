"""Mixed precision: which number format trains fastest on the machine at hand.

The course hard-codes ``fp16=True``, which only works on a CUDA GPU. Both tracks here take one
setting instead, ``mixed_precision`` (a profile knob and a notebook parameter):

* ``"auto"``: bf16 on a GPU that has it, else fp16; on a CPU, bf16 only where the CPU multiplies
  bf16 matrices in hardware (Intel AMX), else full precision;
* ``"no"``, ``"bf16"``, ``"fp16"``: exactly that (fp16 needs a CUDA GPU).

On an Apple-silicon Mac the device is MPS (``device_type()``; ``Trainer`` and ``Accelerator`` pick
it themselves) and ``"auto"`` keeps fp32 there: no faster mixed mode is known to train correctly on
MPS with these libraries, so none is switched on by default.

Why the CPU rule: on the 2-core Xeon (Sapphire Rapids) this project is measured on, AMX multiplies
bf16 matrices about 8x faster than fp32 (3.3 vs 0.42 TFLOP/s for a 1600x384 @ 384x1536 product), and
a fine-tuning step of the QA encoder under bf16 autocast takes 0.53 s instead of 0.73 s. Without AMX
a CPU emulates bf16 and an earlier machine of this project measured it *slower* than fp32 (189 vs
357 GFLOP/s), so ``"auto"`` keeps fp32 there. Weights stay fp32 either way (autocast): only the
matrix products run in bf16, which is why training quality holds (README has the scores).
"""
from __future__ import annotations

from typing import Any

MIXED_PRECISION_CHOICES = ("auto", "no", "bf16", "fp16")

__all__ = ["MIXED_PRECISION_CHOICES", "attention_implementation", "autocast", "cpu_has_amx", "device_type",
           "resolve_mixed_precision", "trainer_precision_kwargs"]


def device_type() -> str:
    """Where training runs: ``"cuda"``, else ``"mps"`` (Apple silicon), else ``"cpu"``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def cpu_has_amx() -> bool:
    """True where this CPU has AMX tiles (the unit that makes bf16 matmuls fast), as PyTorch sees it."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except Exception:  # a PyTorch build without the probe, or a CPU it cannot query
        return False


def resolve_mixed_precision(setting: str | None = "auto") -> str:
    """``"auto"`` (or None) turned into ``"bf16"``, ``"fp16"`` or ``"no"`` for this machine.

    An explicit choice is checked, so a typo or fp16 on a CPU fails here with the reason instead of
    deep inside ``TrainingArguments`` or ``Accelerator``.
    """
    import torch

    choice = "auto" if setting is None else str(setting).strip().lower()
    if choice not in MIXED_PRECISION_CHOICES:
        raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION_CHOICES}, got {setting!r}")
    device = device_type()
    gpu = device == "cuda"
    if choice == "auto":
        if gpu:  # without emulation: a T4 (sm75) "supports" bf16 only emulated, far slower than fp16
            return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
        if device == "mps":
            return "no"
        return "bf16" if cpu_has_amx() else "no"
    if choice == "fp16" and not gpu:
        raise ValueError("mixed_precision='fp16' needs a CUDA GPU; on a CPU use 'bf16' or 'no' (or 'auto')")
    return choice


def trainer_precision_kwargs(precision: str) -> dict[str, Any]:
    """The ``TrainingArguments`` flags for a resolved precision.

    ``TrainingArguments(bf16=True)`` without a GPU is refused unless ``use_cpu=True`` says the CPU
    is meant, so that flag comes along on a CPU.
    """
    precision = resolve_mixed_precision(precision)
    kwargs: dict[str, Any] = {"fp16": precision == "fp16", "bf16": precision == "bf16"}
    if precision == "bf16" and device_type() == "cpu":
        kwargs["use_cpu"] = True
    return kwargs


def autocast(precision: str, model: Any) -> Any:
    """``torch.autocast`` for `model`'s device at a resolved precision (a no-op context for ``"no"``):
    what ``Trainer`` and ``Accelerator`` wrap the forward pass in, for hand-written timing loops."""
    import torch

    precision = resolve_mixed_precision(precision)
    on = next(model.parameters()).device.type
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(on, dtype=dtype, enabled=precision != "no")


def attention_implementation(setting: str | None, precision: str | None = "auto") -> str | None:
    """The ``attn_implementation`` to build a model with; ``"auto"`` decides by the precision.

    Measured here per training step (QA batch 8 x 200 / GPT-2 batch 32 x 128): in bf16 on the CPU
    ``"eager"`` beat PyTorch's fused ``"sdpa"`` (0.30 vs 0.33 s / 0.39 vs 0.45 s); in fp32 ``"sdpa"``
    won (0.49 vs 0.54 s / 0.67 vs 0.69 s). On a GPU ``"sdpa"`` is the fast one. So ``"auto"`` gives
    ``"eager"`` only for bf16 on a CPU, and None (the transformers default) otherwise.
    """
    import torch

    if setting not in (None, "auto", "eager", "sdpa"):
        raise ValueError(f"attn_implementation must be None, 'auto', 'eager' or 'sdpa', got {setting!r}")
    if setting != "auto":
        return setting
    cpu_bf16 = resolve_mixed_precision(precision) == "bf16" and not torch.cuda.is_available()
    return "eager" if cpu_bf16 else None
