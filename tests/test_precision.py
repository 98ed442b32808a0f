"""Mixed precision: the "auto" rule per machine (the probe with faked timings, its cache), explicit
choices, and clear errors. No timings are asserted: the probe is timed in benchmarks/precision_probe.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_utils.profiles import activate

activate("ci")

import torch  # noqa: E402

from course_utils import precision  # noqa: E402
from course_utils.precision import resolve_mixed_precision, trainer_precision_kwargs  # noqa: E402

needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU rules are tested on a machine without a GPU")


@needs_no_gpu
@pytest.mark.parametrize("measured, expected", [("bf16", "bf16"), ("no", "no")])
def test_auto_on_a_cpu_is_what_the_probe_measured(monkeypatch, measured, expected):
    monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: measured)
    assert resolve_mixed_precision("auto") == expected
    assert resolve_mixed_precision(None) == expected
    assert resolve_mixed_precision("no") == "no"  # an explicit choice never asks the probe


def test_the_test_suite_never_uses_the_users_cache():
    assert precision.precision_cache_path() != Path.home() / ".cache" / "nlp-course-companion" / "precision.json"
    assert "course-tests-precision-" in str(precision.precision_cache_path())


# ----------------------------------------------------------------------------------------------
# the probe, with faked timings
# ----------------------------------------------------------------------------------------------
def fake_timer(seconds: dict[str, list[float]]):
    """A timer that answers the given seconds per mode, round after round."""
    rounds = {m: iter(t) for m, t in seconds.items()}
    return lambda mode, shapes: next(rounds[mode])


SHAPES = ((256, 1024), (1024, 256))
FLOPS = 6 * precision.PROBE_TOKENS * 2 * 256 * 1024  # product_flops(SHAPES)


def test_product_flops_count_forward_and_both_gradients():
    assert precision.product_flops(SHAPES) == FLOPS
    assert precision.product_flops([(2, 3)], tokens=4) == 6 * 4 * 2 * 3


def test_probe_picks_bf16_when_it_is_faster_and_trains():
    r = precision.probe_cpu_precision(SHAPES, timer=fake_timer({"no": [0.002, 0.001, 0.0012], "bf16": [0.0006, 0.0005, 0.0005]}),
                                      check=lambda mode: True)
    assert r.choice == "bf16"
    assert r.gflops == {"no": round(FLOPS / 0.001 / 1e9, 3), "bf16": round(FLOPS / 0.0005 / 1e9, 3)}  # best round counts
    assert r.spread == {"no": 2.0, "bf16": 1.2} and not r.steady  # a 2x spread in fp32: a busy machine
    assert r.shapes == [[256, 1024], [1024, 256]]
    assert "bf16 autocast" in r.summary() and "bf16/fp32 2.00x" in r.summary()


def test_probe_keeps_fp32_when_bf16_is_slower_or_within_noise_or_trains_badly():
    slower = {"no": [0.1] * 3, "bf16": [0.2] * 3}  # emulated bf16 (no AVX-512 BF16, no AMX)
    near = {"no": [0.1] * 3, "bf16": [0.095] * 3}  # 1.05x: under MIN_SPEEDUP
    fast = {"no": [0.1] * 3, "bf16": [0.03] * 3}
    assert precision.probe_cpu_precision(SHAPES, timer=fake_timer(slower), check=lambda m: True).choice == "no"
    assert precision.probe_cpu_precision(SHAPES, timer=fake_timer(near), check=lambda m: True).choice == "no"
    broken = precision.probe_cpu_precision(SHAPES, timer=fake_timer(fast), check=lambda m: m == "no")
    assert broken.choice == "no" and broken.trains == {"no": True, "bf16": False} and broken.steady
    assert "failed the training check" in broken.summary()


def test_choose_rule_and_its_errors():
    assert precision.choose({"no": 100.0, "bf16": 111.0}, {"no": True, "bf16": True}) == "bf16"
    assert precision.choose({"no": 100.0, "bf16": 109.0}, {"no": True, "bf16": True}) == "no"
    assert precision.choose({"no": 100.0, "bf16": 109.0}, {"bf16": True}, min_speedup=1.0) == "bf16"
    with pytest.raises(ValueError, match="positive fp32"):
        precision.choose({"bf16": 100.0}, {"bf16": True})
    with pytest.raises(ValueError, match="positive seconds"):
        precision.probe_cpu_precision(SHAPES, timer=lambda m, s: 0.0, check=lambda m: True)
    with pytest.raises(ValueError, match=r"\(in, out\) pairs"):
        precision.probe_cpu_precision([(256, 0)], timer=lambda m, s: 1.0, check=lambda m: True)
    with pytest.raises(ValueError, match="a CPU probe times"):
        precision.product_round("fp16", SHAPES)


def test_the_real_probe_round_and_training_check_run():
    """Untimed: one real round per mode runs forward + backward, and both modes train correctly on
    this CPU (bf16 autocast is exact enough for the documented 10% tolerance)."""
    for mode in ("no", "bf16"):
        precision.product_round(mode, [(8, 4)], tokens=4)()
    assert precision.trains_correctly("no") and precision.trains_correctly("bf16")
    with pytest.raises(ValueError, match="training check knows"):
        precision.trains_correctly("fp16")


def test_matmul_shapes_are_the_models_own():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4), torch.nn.Linear(4, 8))
    assert precision.matmul_shapes(model) == ((4, 8), (8, 4))
    from transformers import GPT2Config, GPT2LMHeadModel

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=50, n_positions=8))
    assert precision.matmul_shapes(gpt2) == ((16, 48), (16, 16), (16, 64), (64, 16), (16, 50))
    with pytest.raises(ValueError, match="ReLU has no Linear"):
        precision.matmul_shapes(torch.nn.ReLU())


# ----------------------------------------------------------------------------------------------
# the per-machine cache
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """A cache file of this test's own and no decision remembered by the process."""
    path = tmp_path / "cache" / "precision.json"
    monkeypatch.setenv(precision.CACHE_ENV, str(path))
    monkeypatch.setattr(precision, "_DECIDED", {})
    return path


def counting_probe(monkeypatch, seconds):
    calls = []
    real = precision.probe_cpu_precision
    timer = fake_timer(seconds)  # one sequence of rounds across every probe of the test

    def probe(shapes=None):
        calls.append(shapes)
        return real(shapes, timer=timer, check=lambda m: True)

    monkeypatch.setattr(precision, "probe_cpu_precision", probe)
    return calls


@needs_no_gpu
def test_decision_is_measured_once_cached_per_machine_and_printed_once(fresh_cache, monkeypatch, capsys):
    from course_utils.profiles import BATCH_ENV

    for var in ("COURSE_QUIET", BATCH_ENV):  # a learner's kernel (another test's activate("ci") may linger)
        monkeypatch.delenv(var, raising=False)
    calls = counting_probe(monkeypatch, {"no": [0.1] * 3, "bf16": [0.04] * 3})
    assert resolve_mixed_precision("auto") == "bf16"
    assert resolve_mixed_precision("auto") == "bf16" and trainer_precision_kwargs("auto")["bf16"]
    out = capsys.readouterr().out
    assert out.count("mixed_precision='auto' on this CPU -> bf16 autocast") == 1 and "measured in" in out
    assert len(calls) == 1
    entry = json.loads(fresh_cache.read_text())[precision.machine_key()]
    assert entry["choice"] == "bf16" and entry["gflops"]["bf16"] > entry["gflops"]["no"]
    assert precision.cpu_model() in precision.machine_key() and torch.__version__ in precision.machine_key()

    monkeypatch.setattr(precision, "_DECIDED", {})  # a new process on the same machine: read, not measured
    assert resolve_mixed_precision("auto") == "bf16" and len(calls) == 1
    assert "cached" in capsys.readouterr().out
    monkeypatch.setattr(precision, "_DECIDED", {})  # a notebook of a batch run: reused without a word
    monkeypatch.setenv(BATCH_ENV, "1")
    assert resolve_mixed_precision("auto") == "bf16" and len(calls) == 1
    assert capsys.readouterr().out == ""


@needs_no_gpu
def test_another_machine_or_torch_measures_again(fresh_cache, monkeypatch):
    calls = counting_probe(monkeypatch, {"no": [0.1] * 6, "bf16": [0.2] * 6})
    assert resolve_mixed_precision("auto") == "no"
    monkeypatch.setattr(precision, "_DECIDED", {})
    monkeypatch.setattr(precision, "cpu_model", lambda: "Another CPU 9000")
    assert resolve_mixed_precision("auto") == "no" and len(calls) == 2
    assert len(json.loads(fresh_cache.read_text())) == 2  # both machines' decisions kept


@needs_no_gpu
def test_a_busy_machine_is_not_cached(fresh_cache, monkeypatch, capsys):
    calls = counting_probe(monkeypatch, {"no": [0.1, 0.3, 0.1, 0.1, 0.1, 0.1], "bf16": [0.04] * 6})
    assert resolve_mixed_precision("auto") == "bf16"
    assert not fresh_cache.exists() and "busy machine" in capsys.readouterr().out
    monkeypatch.setattr(precision, "_DECIDED", {})
    assert resolve_mixed_precision("auto") == "bf16" and len(calls) == 2 and fresh_cache.exists()


@needs_no_gpu
def test_a_damaged_cache_is_measured_again(fresh_cache, monkeypatch):
    fresh_cache.parent.mkdir(parents=True)
    fresh_cache.write_text("{not json")
    calls = counting_probe(monkeypatch, {"no": [0.1] * 6, "bf16": [0.2] * 6})
    assert resolve_mixed_precision("auto") == "no" and len(calls) == 1
    fresh_cache.write_text(json.dumps({precision.machine_key(): {"choice": "fp8", "gflops": {}}}))
    monkeypatch.setattr(precision, "_DECIDED", {})
    assert resolve_mixed_precision("auto") == "no" and len(calls) == 2  # an entry of another version: measured again


def test_cpu_flags_name_the_bf16_units():
    flags = precision.cpu_flags()
    assert set(flags) == {"amx", "avx512_bf16", "avx2"}
    assert isinstance(flags["amx"], bool)


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
    monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: "bf16")
    assert precision.attention_implementation("auto", "auto") == "eager"
    assert precision.attention_implementation("auto", "no") is None
    monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: "no")
    assert precision.attention_implementation("auto", "auto") is None
    assert precision.attention_implementation("sdpa", "bf16") == "sdpa"  # an explicit choice stands
    assert precision.attention_implementation(None, "bf16") is None


@needs_no_gpu
def test_apple_mps_is_the_device_and_auto_keeps_fp32(monkeypatch):
    """A fake MPS backend: the device is MPS, "auto" stays fp32 there even on a CPU with AMX, and an
    explicit bf16 does not force the CPU (TrainingArguments' use_cpu) on a Mac."""
    assert precision.device_type() == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: "bf16")  # a CPU where bf16 is fast
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


def test_the_ci_profile_never_probes(monkeypatch):
    """CI is deterministic: its fp32 setting and default attention never ask the probe."""
    from course_utils.profiles import get_profile

    def no_probe(shapes=None):
        raise AssertionError("the ci profile must not probe the CPU")

    monkeypatch.setattr(precision, "cpu_precision_choice", no_probe)
    ci = get_profile("ci")
    for track in (ci.clm, ci.qa):
        assert resolve_mixed_precision(track.mixed_precision) == "no"
        assert precision.attention_implementation(track.attn_implementation, track.mixed_precision) is None
        assert trainer_precision_kwargs(track.mixed_precision) == {"fp16": False, "bf16": False}
