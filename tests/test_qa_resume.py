"""SIGKILL a QA Trainer run mid-training, resume with resume_from_checkpoint=True, and get the
uninterrupted run's step count, loss, weights and EM/F1 back, bit for bit (CPU, same seed: the
checkpoint holds the optimizer, scheduler and RNG states, and the sampler is re-seeded, so the
resumed steps compute exactly the same numbers)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from test_qa_distributed import tiny_squad

ROOT = Path(__file__).resolve().parents[1]
MAX_STEPS, SAVE_STEPS, KILL_AT = 6, 2, 5

CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    from course_utils.profiles import activate
    cfg = activate("ci", qa_data_source=sys.argv[1], qa_max_length=64, qa_stride=16, qa_batch_size=4,
                   qa_max_steps={max_steps}, qa_max_train_examples=20, qa_warmup_ratio=0.2)
    from transformers import TrainerCallback
    from course_utils.qa.loop import finetune_with_trainer, loss_history

    class KillAt(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if int(sys.argv[3]) and state.global_step == int(sys.argv[3]):
                os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, as a crash or a closed laptop

    trainer, metrics = finetune_with_trainer(
        cfg, sys.argv[2], resume_from_checkpoint=sys.argv[4] == "resume", eval_strategy="no",
        save_strategy="steps", save_steps={save_steps}, logging_steps=1, callbacks=[KillAt()])
    print(json.dumps({{"steps": trainer.state.global_step, "metrics": metrics,
                      "loss": loss_history(trainer)["loss"]}}))
    """
).format(max_steps=MAX_STEPS, save_steps=SAVE_STEPS)


def _child(data: Path, run: Path, kill_at: int, mode: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, COURSE_QUIET="1", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", CHILD, str(data), str(run), str(kill_at), mode],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)


def _result(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _uninterrupted(data: Path, run: Path) -> dict:
    """The reference run, in this process (same code as CHILD, without the kill)."""
    from course_utils.profiles import activate

    cfg = activate("ci", qa_data_source=str(data), qa_max_length=64, qa_stride=16, qa_batch_size=4,
                   qa_max_steps=MAX_STEPS, qa_max_train_examples=20, qa_warmup_ratio=0.2)
    from course_utils.qa.loop import finetune_with_trainer, loss_history

    trainer, metrics = finetune_with_trainer(cfg, run, eval_strategy="no", save_strategy="steps",
                                             save_steps=SAVE_STEPS, logging_steps=1)
    # the same JSON round trip as the child's output, so tuples compare as lists
    return json.loads(json.dumps({"steps": trainer.state.global_step, "metrics": metrics,
                                  "loss": loss_history(trainer)["loss"]}))


def test_killed_trainer_run_resumes_to_the_same_result(tmp_path):
    from safetensors.torch import load_file

    data = tiny_squad(tmp_path / "data")
    full = _uninterrupted(data, tmp_path / "full")
    assert full["metrics"]["f1"] > 0  # a real number to compare, not a trivial zero

    killed = _child(data, tmp_path / "killed", KILL_AT, "fresh")
    assert killed.returncode == -signal.SIGKILL
    kept = sorted(p.name for p in (tmp_path / "killed").glob("checkpoint-*"))
    assert kept == ["checkpoint-2", "checkpoint-4"]  # the kill came after step 5, before 6
    assert not (tmp_path / "killed" / "model.safetensors").exists()

    resumed = _result(_child(data, tmp_path / "killed", 0, "resume"))
    assert resumed["steps"] == full["steps"] == MAX_STEPS
    # steps 1-4 come back from checkpoint-4's trainer_state, 5-6 were recomputed after the kill
    assert [s for s, _ in resumed["loss"]] == list(range(1, MAX_STEPS + 1))
    assert resumed["loss"] == full["loss"]
    assert resumed["metrics"] == full["metrics"]
    a = load_file(str(tmp_path / "full" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_resume_without_or_with_a_damaged_checkpoint_names_the_folder(tmp_path):
    from course_utils.profiles import activate

    activate("ci")
    from course_utils.training import CheckpointError, trainer_checkpoint as check_resume_checkpoint

    assert check_resume_checkpoint(tmp_path, None) is None
    assert check_resume_checkpoint(tmp_path, True) is None  # a new run folder: start from step 0
    broken = tmp_path / "checkpoint-4"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        check_resume_checkpoint(tmp_path, True)
    with pytest.raises(CheckpointError, match="does not exist"):
        check_resume_checkpoint(tmp_path, str(tmp_path / "checkpoint-99"))
