"""Mixed precision: the "auto" rule per machine, explicit choices, and clear errors."""
from __future__ import annotations

import pytest

from course_utils.profiles import activate

activate("ci")

import torch  # noqa: E402

from course_utils import precision  # noqa: E402
from course_utils.precision import resolve_mixed_precision, trainer_precision_kwargs  # noqa: E402

needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU rules are tested on a machine without a GPU")


@needs_no_gpu
@pytest.mark.parametrize("amx, expected", [(True, "bf16"), (False, "no")])
def test_auto_on_a_cpu_picks_bf16_only_with_amx(monkeypatch, amx, expected):
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: amx)
    assert resolve_mixed_precision("auto") == expected
    assert resolve_mixed_precision(None) == expected


def test_auto_on_a_gpu_prefers_bf16_then_fp16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_mixed_precision("auto") == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_mixed_precision("auto") == "fp16"
    assert trainer_precision_kwargs("fp16") == {"fp16": True, "bf16": False}


def test_explicit_choices_pass_through_and_are_normalised():
    assert resolve_mixed_precision("no") == "no"
    assert resolve_mixed_precision(" BF16 ") == "bf16"


@needs_no_gpu
def test_bad_settings_name_the_problem():
    with pytest.raises(ValueError, match="mixed_precision must be one of"):
        resolve_mixed_precision("bfloat16")
    with pytest.raises(ValueError, match="fp16.*needs a CUDA GPU"):
        resolve_mixed_precision("fp16")


@needs_no_gpu
def test_bf16_on_a_cpu_is_accepted_by_training_arguments(tmp_path):
    from transformers import TrainingArguments

    flags = trainer_precision_kwargs("bf16")
    assert flags == {"fp16": False, "bf16": True, "use_cpu": True}
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none", **flags)
    assert args.bf16 and args.use_cpu
    assert trainer_precision_kwargs("no") == {"fp16": False, "bf16": False}


def test_amx_probe_answers_a_bool_even_without_the_probe(monkeypatch):
    assert isinstance(precision.cpu_has_amx(), bool)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported", raising=False)
    assert precision.cpu_has_amx() is False


def test_autocast_runs_matmuls_in_bf16_and_is_a_no_op_for_no():
    layer = torch.nn.Linear(4, 4)
    x = torch.randn(2, 4)
    with precision.autocast("bf16", layer):
        assert layer(x).dtype == torch.bfloat16
    with precision.autocast("no", layer):
        assert layer(x).dtype == torch.float32
    assert layer.weight.dtype == torch.float32


@needs_no_gpu
def test_attention_auto_is_eager_only_for_bf16_on_a_cpu(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: True)
    assert precision.attention_implementation("auto", "auto") == "eager"
    assert precision.attention_implementation("auto", "no") is None
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: False)
    assert precision.attention_implementation("auto", "auto") is None
    assert precision.attention_implementation("sdpa", "bf16") == "sdpa"  # an explicit choice stands
    assert precision.attention_implementation(None, "bf16") is None


@needs_no_gpu
def test_apple_mps_is_the_device_and_auto_keeps_fp32(monkeypatch):
    """A fake MPS backend: the device is MPS, "auto" stays fp32 there even on a CPU with AMX, and an
    explicit bf16 does not force the CPU (TrainingArguments' use_cpu) on a Mac."""
    assert precision.device_type() == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(precision, "cpu_has_amx", lambda: True)
    assert precision.device_type() == "mps"
    assert resolve_mixed_precision("auto") == "no"
    assert trainer_precision_kwargs("auto") == {"fp16": False, "bf16": False}
    assert trainer_precision_kwargs("bf16") == {"fp16": False, "bf16": True}
    with pytest.raises(ValueError, match="fp16.*needs a CUDA GPU"):
        resolve_mixed_precision("fp16")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert precision.device_type() == "cuda"  # a CUDA GPU wins over MPS


def test_auto_on_a_t4_is_fp16_not_emulated_bf16(monkeypatch):
    """A T4 (sm75) answers is_bf16_supported() True only through emulation: "auto" must ask without it."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert resolve_mixed_precision("auto") == "fp16"
