"""The benchmark harness works on tiny inputs. Timings are never asserted: they live in runs/bench-*."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# `benchmarks/` sits next to `course_utils/` but is not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchmarks  # noqa: E402
from benchmarks import REQUIRED_KEYS, Skipped, best_of, interleaved, ratio, result  # noqa: E402
from benchmarks.__main__ import format_table, main, new_bench_dir  # noqa: E402


def _check(row: dict) -> None:
    for key in REQUIRED_KEYS:
        assert key in row, f"{row.get('name')}: missing {key}"
    assert isinstance(row["settings"], dict)
    json.dumps(row, default=str)  # must be writable as JSON


def _run_tiny(module_name: str):
    import importlib

    module = importlib.import_module(f"benchmarks.{module_name}")
    try:
        return module.run(tiny=True)
    except Skipped as exc:
        pytest.skip(f"{module_name}: {exc}")


# ----------------------------------------------------------------------------------------------
# harness
# ----------------------------------------------------------------------------------------------
def test_best_of_returns_minimum_and_output():
    calls = []
    best, times, out = best_of(lambda: calls.append(1) or len(calls), repeat=3, warmup=1)
    assert len(calls) == 4 and out == 4 and len(times) == 3 and best <= min(times) + 1e-4
    with pytest.raises(ValueError):
        best_of(lambda: None, repeat=0)


def test_interleaved_alternates_and_counts():
    order = []
    stats = interleaved({"a": lambda: order.append("a") or "A", "b": lambda: order.append("b") or "B"},
                        {"a": 2, "b": 3}, warmup=False)
    assert order == ["a", "b", "a", "b", "b"]
    assert stats["a"]["output"] == "A" and len(stats["b"]["times"]) == 3


def test_result_ratio_and_keys():
    row = result("x", {"n": 1}, 2.0, 0.5, True, extra=1)
    _check(row)
    assert row["ratio"] == 4.0 and row["extra"] == 1
    assert ratio(None, 1.0) is None and ratio(1.0, 0) is None


def test_table_shows_skips_and_errors():
    table = format_table([
        result("fast", {}, 1.0, 0.1, True, note="10 windows"),
        {"name": "absent", "skipped": "no data"},
        {"name": "broken", "error": "ValueError: bad"},
    ])
    lines = table.splitlines()
    assert lines[0].split()[:5] == ["benchmark", "reference_s", "ours_s", "ratio", "identical"]
    assert "10.00x" in table and "skipped: no data" in table and "ERROR: ValueError: bad" in table


def test_bench_dirs_are_never_reused(tmp_path):
    first, second = new_bench_dir(tmp_path), new_bench_dir(tmp_path)
    assert first != second and first.name.startswith("bench-") and first.is_dir() and second.is_dir()


def _restore_env_after(monkeypatch):
    """main() switches progress bars off for the process; undo that after the test."""
    import os

    for var in ("COURSE_QUIET", "TQDM_DISABLE", "HF_DATASETS_DISABLE_PROGRESS_BARS"):
        if var in os.environ:
            monkeypatch.setenv(var, os.environ[var])
        else:
            monkeypatch.delenv(var, raising=False)


def test_main_writes_json_per_benchmark_and_table(tmp_path, capsys, monkeypatch):
    _restore_env_after(monkeypatch)
    runs = tmp_path / "runs"
    assert main(["--only", "reported", "--out", str(runs)]) == 0
    (folder,) = list(runs.glob("bench-*"))
    names = sorted(p.name for p in folder.glob("*.json"))
    assert "summary.json" in names and "learning_quality.json" in names and "ci_cost.json" in names
    row = json.loads((folder / "learning_quality.json").read_text())
    assert row["machine"]["cpu_count"] >= 1 and "torch_threads" in row["machine"] and "date" in row["machine"]
    assert set(row["machine"]["cpu_flags"]) == {"amx", "avx512_bf16", "avx2"}
    peaks = row["machine"]["matmul_peak_gflops"]
    assert set(peaks) == {"fp32", "bf16"} and all(p["best"] >= p["median"] >= p["min"] > 0 for p in peaks.values())
    out = capsys.readouterr().out
    assert "learning_quality" in out and (folder / "table.txt").exists()


def test_main_rejects_unknown_names(tmp_path, monkeypatch):
    _restore_env_after(monkeypatch)
    with pytest.raises(SystemExit):
        main(["--only", "nope", "--out", str(tmp_path)])


def test_reported_reads_runner_summaries(tmp_path):
    from benchmarks import reported

    runs = tmp_path / "runs"
    old, new = runs / "20260101-000000-000000", runs / "20260102-000000-000000"
    for folder, ppl in ((old, 99.0), (new, 42.0)):
        folder.mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({
            "profile": "workshop", "parameters": {}, "finished": True,
            "notebooks": [{"notebook": "05_train.ipynb", "status": "ok", "seconds": 300.0,
                           "metrics": {"perplexity": ppl}, "error": ""}]}))
    import os
    os.utime(old / "summary.json", (1, 1))
    (runs / "bench-x").mkdir()
    (runs / "bench-x" / "summary.json").write_text(json.dumps({"quick": True, "results": []}))
    (runs / "ci-timing.json").write_text(json.dumps({"make_test_s": 123.4}))
    quality, ci = reported.run(runs=runs)
    _check(quality)
    assert quality["notebooks"][0]["metrics"]["perplexity"] == 42.0
    assert quality["settings"]["source"].endswith("20260102-000000-000000/summary.json")
    _check(ci)
    assert ci["timing_file"] == {"make_test_s": 123.4}


def test_reported_skips_without_runs(tmp_path):
    from benchmarks import reported

    rows = reported.run(runs=tmp_path)
    assert [r["name"] for r in rows] == ["learning_quality", "ci_cost"]
    assert all("skipped" in r for r in rows)


def test_every_listed_benchmark_has_a_module():
    import importlib

    for name in benchmarks.BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        assert callable(module.run)


# ----------------------------------------------------------------------------------------------
# each benchmark on tiny inputs: runs, and ours equals the course's way
# ----------------------------------------------------------------------------------------------
def test_qa_metric_tiny_matches_official_script():
    row = _run_tiny("qa_metric")
    _check(row)
    assert row["identical"] is True
    tiny = row["scores"]["tiny"]
    # a: EM (article and punctuation ignored); b: F1 0.8; c: EM ("1,000" loses its comma); d: unanswered
    assert tiny["official_script"] == {"exact_match": 50.0, "f1": 100 * (1 + 0.8 + 1) / 4}


def test_qa_preprocess_tiny_identical_labels():
    row = _run_tiny("qa_preprocess")
    _check(row)
    assert row["identical"] is True and row["windows"] >= 12


def test_qa_postprocess_tiny_identical_predictions():
    row = _run_tiny("qa_postprocess")
    _check(row)
    assert row["identical"] is True and row["differing_questions"] == 0 and row["questions"] == 16


def test_qa_padding_tiny_same_labels_and_loss():
    row = _run_tiny("qa_padding")
    _check(row)
    assert row["identical"] is True and row["identical_labels"] is True
    assert row["loss_padded"] == pytest.approx(row["loss_dynamic"], rel=1e-4)
    assert len(row["reference_step_s"]) == len(row["ours_step_s"]) == row["settings"]["timed_steps"]


def test_clm_chunking_tiny_identical_chunks_and_waste():
    row = _run_tiny("clm_chunking")
    _check(row)
    assert row["identical"] is True and row["waste_matches_chunking_waste"] is True
    assert 0 <= row["wasted_pct_concat"] <= row["wasted_pct_course"] <= 100


def test_train_throughput_tiny_rows():
    rows = _run_tiny("train_throughput")
    names = [r["name"] for r in rows]
    for row in rows:
        if "skipped" in row:
            continue
        _check(row)
        assert row["identical"] is None  # speed only: nothing to compare
        # MFU is a timing ratio (a loaded machine can even push it past 1): only its presence is checked
        assert row["reference_s"] > 0 and row["ours_s"] > 0 and row["mfu_ours"] >= 0
    assert {"train_clm_trainer", "train_clm_accelerate"} <= set(names) or "train_clm" in names
    assert {"train_qa_trainer", "train_qa_accelerate"} <= set(names) or "train_qa" in names


def test_step_clock_and_flops():
    import torch

    from benchmarks.train_throughput import StepClock, gpt2_flops_per_token

    layer = torch.nn.Linear(2, 2)
    clock = StepClock(layer)
    for _ in range(4):
        layer(torch.zeros(1, 2))
    assert len(clock.times) == 4 and clock.seconds_per_step(1, 2) >= 0
    with pytest.raises(RuntimeError):
        clock.seconds_per_step(2, 2)

    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(vocab_size=100, n_positions=16, n_embd=8, n_layer=1, n_head=2))
    # 2-D weights: wte 100x8 (= tied head), c_attn 8x24, c_proj 8x8, c_fc 8x32, mlp c_proj 32x8
    n = 800 + 192 + 64 + 256 + 256
    assert gpt2_flops_per_token(model, 16) == 6 * n + 12 * 1 * 16 * 8


def test_gpu_training_tiny_on_cpu_and_skip_without_cuda():
    import torch

    from benchmarks import gpu_training

    rows = gpu_training.run(tiny=True)
    assert [r["name"] for r in rows] == ["gpu_gpt2_tiny", "gpu_bert_tiny_qa"]
    for row in rows:
        _check(row)
        assert row["ours_s"] > 0 and row["samples_per_s"] > 0
    if not torch.cuda.is_available():
        with pytest.raises(Skipped, match="no CUDA device"):
            gpu_training.run(quick=True)


def test_precision_probe_tiny_reports_choice_and_speeds():
    row = _run_tiny("precision_probe")
    _check(row)
    assert row["choice"] in ("no", "bf16") and row["identical"] in (True, False)
    assert len(row["seconds_each"]) == 2 and set(row["gflops_median"]) == {"no", "bf16"}


def test_compile_payback_arithmetic():
    from benchmarks.compile_step import payback

    # eager 1.0 s/step, compiled 0.8 s; two warm-up steps took 31 s: 29 s of compiling.
    compile_s, even, steps, net = payback(1.0, 0.8, [30.0, 1.0], budget_s=600)
    assert compile_s == pytest.approx(29.0) and even == pytest.approx(145.0) and steps == 600
    assert net == pytest.approx(0.2 * 600 - 29.0)
    assert payback(1.0, 1.1, [20.0], budget_s=600)[1] is None  # slower compiled: never pays back


def test_machine_line_names_cpu_flags_and_peaks():
    from benchmarks.__main__ import machine_line

    line = machine_line({"cpu_model": "AMD EPYC", "cpu_flags": {"amx": False, "avx512_bf16": True, "avx2": True},
                         "cpu_affinity": 2, "torch": "2.13", "torch_threads": 2, "load_avg_1min": 1.5,
                         "matmul_peak_gflops": {"fp32": {"best": 190.0, "median": 180.0, "spread": 1.1},
                                                "bf16": {"best": 400.0, "median": 390.0, "spread": 1.05}}})
    assert line.startswith("AMD EPYC (no AMX, AVX-512 BF16, AVX2), 2 cores")
    assert "fp32 matmul peak 190 GFLOP/s (median 180, spread 1.10x)" in line and "bf16 matmul peak 400" in line


def test_paired_ratios_give_median_and_spread():
    from benchmarks import paired_ratios

    assert paired_ratios([1.0, 1.2, 0.9], [1.0, 1.0, 1.0]) == {"ratio_median": 1.0, "ratio_min": 0.9, "ratio_max": 1.2,
                                                               "rounds": 3}
    with pytest.raises(ValueError, match="no paired rounds"):
        paired_ratios([], [])


def test_a_helper_a_benchmark_names_must_exist():
    """A renamed helper fails the benchmark instead of skipping it, and every name the benchmarks
    ask for exists today (read from their require_module calls)."""
    import ast

    with pytest.raises(ImportError, match="course_utils.qa.postprocess has no no_such_helper"):
        benchmarks.require_module("course_utils.qa.postprocess", "no_such_helper")
    with pytest.raises(ModuleNotFoundError):
        benchmarks.require_module("course_utils.no_such_module")
    asked = []
    for path in sorted(Path(benchmarks.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require_module":
                asked.append([arg.value for arg in node.args])
    assert len(asked) >= 15
    for dotted, *names in asked:
        benchmarks.require_module(dotted, *names)
