"""Issue 3: SIGKILL the Accelerate script mid-training, resume it, and end exactly where an
uninterrupted run ends (same steps, same losses, same weights: bit-identical on CPU, 1 thread)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_clm_model import tiny_lm_datasets, tiny_tokenizer

ROOT = Path(__file__).resolve().parents[1]


def save_tiny_data(tmp: Path, **kwargs) -> tuple[Path, Path]:
    tok = tiny_tokenizer()
    ds = tiny_lm_datasets(tok, **kwargs)
    tok.save_pretrained(tmp / "tok")
    ds.save_to_disk(str(tmp / "ds"))
    return tmp / "ds", tmp / "tok"


def script_cmd(data: Path, tok: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "course_utils.clm.train_accelerate", "--profile", "ci", "--dataset", str(data),
            "--tokenizer", str(tok), "--threads", "1", *extra]


def child_env() -> dict[str, str]:
    env = dict(os.environ, COURSE_QUIET="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    env.pop("WORLD_SIZE", None)
    return env


def result_of(stdout: str) -> dict:
    lines = [l for l in stdout.splitlines() if l.startswith("RESULT ")]
    assert lines, stdout[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.mark.slow
def test_killed_run_resumes_to_identical_result(tmp_path):
    from safetensors.torch import load_file

    data, tok = save_tiny_data(tmp_path)
    # 70 chunks / batch 8 = 9 micro-batches per epoch (last one uneven); accumulation 2 -> 5
    # optimizer steps per epoch. 12 steps cross an epoch boundary; checkpoints every 3 steps.
    common = ["--max-steps", "12", "--gradient-accumulation-steps", "2", "--eval-steps", "3",
              "--logging-steps", "2", "--batch-size", "8", "--warmup-steps", "2"]
    reference = subprocess.Popen(script_cmd(data, tok, "--work", str(tmp_path / "ref"), *common),
                                 cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    work = tmp_path / "work"
    victim = subprocess.Popen(script_cmd(data, tok, "--work", str(work), "--throttle-seconds", "0.4", *common),
                              cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    ckpts: list[Path] = []
    while time.time() < deadline and victim.poll() is None:
        ckpts = [p for p in work.glob("clm-accelerate/*/checkpoints/step-*") if (p / "progress.json").exists()]
        if ckpts:
            break
        time.sleep(0.05)
    assert ckpts, "no checkpoint appeared before the run ended"
    time.sleep(0.5)  # let it go on past the checkpoint, so the kill loses real work
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(30) == -signal.SIGKILL
    run_dir = ckpts[0].parents[1]
    assert not (run_dir / "COMPLETE").exists() and not (run_dir / "model.safetensors").exists()
    saved = json.loads(ckpts[0].joinpath("progress.json").read_text())
    assert 0 < saved["completed_steps"] < 12

    resumed = subprocess.run(script_cmd(data, tok, "--work", str(work), "--resume", *common), cwd=ROOT,
                             env=child_env(), capture_output=True, text=True, timeout=120)
    ref_out, _ = reference.communicate(timeout=120)
    assert reference.returncode == 0, ref_out[-3000:]
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    ref, res = result_of(ref_out), result_of(resumed.stdout)

    assert res["run_dir"] == str(run_dir)  # continued the unfinished run, no new folder
    assert res["resumed_from"] is not None and "step-" in res["resumed_from"]
    assert res["completed_steps"] == ref["completed_steps"] == 12
    assert res["samples_seen"] == ref["samples_seen"]
    assert res["eval_loss"] == ref["eval_loss"]  # bit-identical, not approximately
    assert res["final_train_loss"] == ref["final_train_loss"]
    ref_hist = json.loads(Path(ref["run_dir"], "result.json").read_text())["history"]
    res_hist = json.loads(Path(res["run_dir"], "result.json").read_text())["history"]
    assert res_hist == ref_hist  # every logged loss, lr and eval, including those before the kill
    a = load_file(str(Path(ref["run_dir"]) / "model.safetensors"))
    b = load_file(str(run_dir / "model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    assert (run_dir / "COMPLETE").exists() and not (run_dir / "checkpoints").exists()
