"""Issue 3: the Accelerate script under `accelerate launch --num_processes 2` on CPU (gloo).
Training completes, and the validation loss/perplexity of the saved checkpoint is the same number
on 2 processes as on 1 (21 validation chunks, batch 8: the last batch is uneven)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_clm_resume import ROOT, child_env, result_of, save_tiny_data, script_cmd


def launch_cmd(data: Path, tok: Path, *extra: str) -> list[str]:
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent)) or "accelerate"
    # --multi_gpu is accelerate's torchrun launcher; on a machine without GPUs our loop asks
    # Accelerate for its multi-CPU mode, which uses the gloo backend.
    return [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0",
            *script_cmd(data, tok, *extra)[1:]]


@pytest.mark.distributed
@pytest.mark.slow
def test_two_processes_train_and_match_one_process_eval(tmp_path):
    data, tok = save_tiny_data(tmp_path)
    run = subprocess.run(
        launch_cmd(data, tok, "--work", str(tmp_path / "w"), "--max-steps", "4", "--eval-steps", "2", "--batch-size", "8", "--gradient-accumulation-steps", "1"),
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=180,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    two = result_of(run.stdout)
    assert two["num_processes"] == 2 and two["completed_steps"] == 4
    assert two["samples_seen"] == 4 * 8 * 2  # 70 chunks: 4 rounds of 2 x 8 stay inside one epoch
    model_dir = Path(two["run_dir"])
    assert (model_dir / "COMPLETE").exists() and (model_dir / "model.safetensors").exists()

    one = subprocess.run(script_cmd(data, tok, "--eval-only", "--model", str(model_dir), "--batch-size", "8"),
                         cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=120)
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    single = result_of(one.stdout)
    assert single["num_processes"] == 1 and single["n_samples"] == 21
    # the 2-process run evaluated these same final weights: equal to the last bit
    assert two["eval_loss"] == single["eval_loss"]
    assert two["perplexity"] == single["perplexity"]
