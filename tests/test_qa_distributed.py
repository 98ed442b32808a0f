"""`accelerate launch --num_processes 2` on CPU (gloo): the QA Accelerate script completes, and
EM/F1 over the same checkpoint equal the 1-process numbers exactly (uneven last batch included)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PEOPLE = [
    ("Ada Lovelace", "London", "1815", "mathematics", "the Analytical Engine"),
    ("Alan Turing", "Maida Vale", "1912", "logic", "the Bombe"),
    ("Grace Hopper", "New York", "1906", "physics", "the first compiler"),
    ("Edsger Dijkstra", "Rotterdam", "1930", "theoretical physics", "the shortest path algorithm"),
    ("Barbara Liskov", "Los Angeles", "1939", "mathematics", "the substitution principle"),
    ("Donald Knuth", "Milwaukee", "1938", "physics", "the TeX typesetting system"),
    ("Tim Berners-Lee", "London", "1955", "physics", "the World Wide Web"),
]
QUESTIONS = [
    ("Where was {n} born?", "{c}"),
    ("In which year was {n} born?", "{y}"),
    ("What did {n} study first?", "{s}"),
    ("What is {n} best known for?", "{w}"),
]


def tiny_squad(folder: Path) -> Path:
    """A SQuAD-schema folder (train.jsonl / validation.jsonl) built here, so the test needs no
    shared data: 7 paragraphs x 4 questions; contexts long enough for several 64-token windows."""
    folder.mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[dict]] = {"train": [], "validation": []}
    for i, (n, c, y, s, w) in enumerate(PEOPLE):
        context = (f"{n} was born in {c} in {y}. As a student, {n} first studied {s}, a subject that "
                   f"shaped the rest of a long career. Colleagues remember {n} as generous and exact. "
                   f"Today {n} is best known for {w}, which changed how people work with computers. "
                   f"Many prizes and lectures carry the name of {n}.")
        for j, (q, a) in enumerate(QUESTIONS):
            answer = a.format(n=n, c=c, y=y, s=s, w=w)
            record = {"id": f"p{i}q{j}", "title": f"person{i}", "context": context,
                      "question": q.format(n=n), "answers": {"text": [answer],
                                                             "answer_start": [context.index(answer)]}}
            splits["validation" if i in (2, 5) or (i == 6 and j < 2) else "train"].append(record)
    for split, records in splits.items():
        with open(folder / f"{split}.jsonl", "w") as f:
            for r in records:
                f.write(json.dumps(r) + "\n")
    return folder


SCRIPT_ARGS = ["--profile", "ci", "--max-length", "64", "--stride", "16", "--batch-size", "4",
               "--max-steps", "3", "--max-train-examples", "20"]


def _run(cmd: list[str], tmp: Path) -> dict:
    env = dict(os.environ, COURSE_QUIET="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(Path(cmd[cmd.index("--metrics-json") + 1]).read_text())


@pytest.mark.skipif(shutil.which("accelerate", path=str(Path(sys.executable).parent)) is None,
                    reason="accelerate CLI missing")
def test_two_processes_give_the_one_process_metrics(tmp_path):
    data = tiny_squad(tmp_path / "data")
    accelerate = str(Path(sys.executable).parent / "accelerate")
    two = _run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                "--mixed_precision", "no", "--dynamo_backend", "no",
                "-m", "course_utils.qa.train_accelerate", *SCRIPT_ARGS, "--data-source", str(data),
                "--output-dir", str(tmp_path / "run"), "--metrics-json", str(tmp_path / "two.json")], tmp_path)
    assert two["num_processes"] == 2
    assert two["steps"] == 3
    # the last evaluation batch is uneven on 2 processes: windows are not a multiple of 2 x 8
    assert two["eval_windows"] % (2 * 8) != 0
    final = Path(two["final_model"])
    assert (final / "model.safetensors").exists() and (tmp_path / "run" / "COMPLETE").exists()

    one = _run([sys.executable, "-m", "course_utils.qa.train_accelerate", *SCRIPT_ARGS,
                "--data-source", str(data), "--eval-only", "--model", str(final),
                "--metrics-json", str(tmp_path / "one.json")], tmp_path)
    assert one["num_processes"] == 1
    assert one["eval_windows"] == two["eval_windows"] and one["eval_examples"] == two["eval_examples"]
    for key in ("exact_match", "f1"):
        assert one["metrics"][key] == two["metrics"][key], (key, one["metrics"], two["metrics"])
