"""`training.launch_in_notebook` (accelerate's notebook_launcher) on CPU: two forked processes
give the one-process EM/F1 over the same model (uneven last batch included), even after this
process already made an Accelerator; bad arguments are refused with a message naming them."""
from __future__ import annotations

import json
import os

import pytest

from course_utils.qa import train_accelerate as script
from course_utils.training import launch_in_notebook, make_accelerator
from test_qa_distributed import tiny_squad

EVAL_ARGS = ["--profile", "ci", "--max-length", "64", "--stride", "16", "--batch-size", "4",
             "--eval-only", "--model", "bundled", "--mixed-precision", "no"]


def test_two_notebook_processes_give_the_one_process_metrics(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_QUIET", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = tiny_squad(tmp_path / "data")
    make_accelerator("no")  # a kernel that ran the loop's cells already holds a one-process state
    runs = {}
    for n in (2, 1):
        out = tmp_path / f"metrics-{n}.json"
        launch_in_notebook(script.main, ([*EVAL_ARGS, "--data-source", str(data), "--metrics-json", str(out)],),
                           num_processes=n)
        runs[n] = json.loads(out.read_text())
    assert (runs[2]["num_processes"], runs[1]["num_processes"]) == (2, 1)
    assert runs[2]["eval_windows"] == runs[1]["eval_windows"] and runs[2]["eval_windows"] % (2 * 8) != 0
    for key in ("exact_match", "f1"):
        assert runs[2]["metrics"][key] == runs[1]["metrics"][key], (key, runs)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_bad_process_counts_are_refused(bad):
    with pytest.raises(ValueError, match="num_processes"):
        launch_in_notebook(print, (), num_processes=bad)


def test_a_function_is_required():
    with pytest.raises(TypeError, match="callable"):
        launch_in_notebook("train", (), num_processes=1)
