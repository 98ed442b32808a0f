"""Issue 13 item 8: asked to resume when the newest run is *finished*, every training entry point
starts a new run and leaves the finished one byte for byte (the bug: QA notebooks 08/09 and the
QA script continued inside the finished run and overwrote the learner's model). The CLM Trainer
path is covered in test_clm_loop.test_trainer_run_saves_and_resumes."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fake_finished_run(work: Path, name: str) -> Path:
    """A finished run as the workspace holds it: a model file, its checkpoints, COMPLETE."""
    run = work / name / "20260101-000000"
    (run / "checkpoints" / "step-2").mkdir(parents=True)
    (run / "checkpoint-2").mkdir()
    (run / "checkpoint-2" / "trainer_state.json").write_text("{}")
    (run / "checkpoints" / "step-2" / "progress.json").write_text(json.dumps({"step": 2}))
    (run / "model.safetensors").write_bytes(b"the learner's finished model")
    (run / "COMPLETE").write_text("finished\n")
    return run


def test_qa_script_resume_after_a_finished_run(tmp_path):
    from course_utils.qa import train_accelerate as script

    flags = ["--profile", "ci", "--work", str(tmp_path), "--max-steps", "2", "--max-train-examples", "8",
             "--max-eval-examples", "4"]
    first = script.main(flags)
    done = Path(first["run_dir"])
    assert (done / "COMPLETE").exists()
    before = tree_bytes(done)
    second = script.main(flags + ["--resume-from-checkpoint"])
    assert Path(second["run_dir"]) != done and (Path(second["run_dir"]) / "COMPLETE").exists()
    assert tree_bytes(done) == before


def test_clm_script_resume_after_a_finished_run(tmp_path):
    from course_utils.clm import train_accelerate as script

    flags = ["--profile", "ci", "--work", str(tmp_path), "--max-steps", "2", "--eval-steps", "1"]
    first = script.main(flags)
    done = Path(first["run_dir"])
    before = tree_bytes(done)
    second = script.main(flags + ["--resume-from-checkpoint"])
    assert Path(second["run_dir"]) != done and second["resumed_from"] is None
    assert tree_bytes(done) == before


@pytest.mark.parametrize("notebook, runs", [("08_qa_finetune_trainer", "qa-trainer"),
                                            ("09_qa_accelerate_loop", "qa-accelerate")])
def test_qa_notebooks_resume_after_a_finished_run(tmp_path, notebook, runs):
    import papermill

    work = tmp_path / "work"
    done = fake_finished_run(work, runs)
    before = tree_bytes(done)
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the kernel is this venv
    papermill.execute_notebook(str(ROOT / "notebooks" / f"{notebook}.ipynb"), str(tmp_path / "out.ipynb"),
                               parameters={"profile": "ci", "output_dir": str(work), "resume_from_checkpoint": True,
                                           "qa_max_train_examples": 16, "qa_max_eval_examples": 8, "qa_max_steps": 2,
                                           **({"qa_soup_size": 1} if notebook.startswith("08") else {})},
                               cwd=str(ROOT / "notebooks"), progress_bar=False, kernel_name="python3")
    assert tree_bytes(done) == before
    new = [p for p in (work / runs).iterdir() if p != done]
    assert len(new) == 1 and (new[0] / "COMPLETE").exists()
    text = (tmp_path / "out.ipynb").read_text()
    assert "the newest " + runs + " run is finished" in text  # the learner is told why a new run started
