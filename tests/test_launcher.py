"""`training.launch_in_notebook` (accelerate's notebook_launcher) on CPU: two forked processes
give the one-process EM/F1 over the same model (uneven last batch included), even after the
process already made an Accelerator; bad arguments are refused with a message naming them.

The launch runs in a fresh Python process, as in a notebook kernel: forking the pytest process
itself (which by then holds the browser tests' threads and other tests' state) can deadlock."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.training import launch_in_notebook
from test_qa_distributed import tiny_squad

ROOT = Path(__file__).resolve().parents[1]
EVAL_ARGS = ["--profile", "ci", "--max-length", "64", "--stride", "16", "--batch-size", "4",
             "--eval-only", "--model", "bundled", "--mixed-precision", "no"]
KERNEL = """
import json, sys
from course_utils.qa import train_accelerate as script
from course_utils.training import launch_in_notebook, make_accelerator
make_accelerator("no")  # a kernel that ran the loop's cells already holds a one-process state
args, outputs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for n, out in outputs.items():
    launch_in_notebook(script.main, ([*args, "--metrics-json", out],), num_processes=int(n))
"""


def test_two_notebook_processes_give_the_one_process_metrics(tmp_path):
    data = tiny_squad(tmp_path / "data")
    outputs = {n: str(tmp_path / f"metrics-{n}.json") for n in ("2", "1")}
    env = dict(os.environ, COURSE_QUIET="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", KERNEL, json.dumps([*EVAL_ARGS, "--data-source", str(data)]),
                           json.dumps(outputs)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = {int(n): json.loads(Path(out).read_text()) for n, out in outputs.items()}
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
