"""The batch runner behind `make course`: order, parameters, failure, no overwriting."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_utils import run


def make_notebook(path: Path, body: str, params: str = "profile = 'ci'\noutput_dir = None\nx = 1\n") -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [cell, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture()
def nbdir(tmp_path: Path) -> Path:
    d = tmp_path / "nbs"
    d.mkdir()
    make_notebook(d / "01_ok.ipynb",
                  "from course_utils.workspace import record_metrics\n"
                  "record_metrics(x_seen=x, profile=profile)\nprint('x =', x)")
    make_notebook(d / "02_fails.ipynb", "raise ValueError('boom in cell 2')")
    make_notebook(d / "03_after.ipynb", "print('after')")
    return d


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_utils.run", *args],
                          capture_output=True, text=True, timeout=300)


def test_failure_is_saved_reported_and_stops(nbdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run1"
    proc = run_cli("--profile", "ci", "--notebook-dir", str(nbdir), "--output-dir", str(out),
                   "-p", "x", "7")
    assert proc.returncode == 1, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    statuses = [(n["notebook"], n["status"]) for n in summary["notebooks"]]
    assert statuses == [("01_ok.ipynb", "ok"), ("02_fails.ipynb", "failed"),
                        ("03_after.ipynb", "not run")]
    assert summary["notebooks"][0]["metrics"] == {"x_seen": 7, "profile": "ci"}
    assert "boom in cell 2" in summary["notebooks"][1]["error"]
    # the failing notebook is saved, with its error in the output
    failed = nbformat.read(out / "02_fails.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in failed.cells for o in c.get("outputs", []))
    assert "02_fails.ipynb  failed" in proc.stdout
    if sys.platform != "win32":  # the kernels talk over IPC: no unencrypted-TCP warning per notebook
        assert "without encryption" not in proc.stdout + proc.stderr


def test_keep_going_runs_the_rest(nbdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run2"
    proc = run_cli("--profile", "ci", "--notebook-dir", str(nbdir), "--output-dir", str(out),
                   "--keep-going", "--notebooks", "02_*,03_*")
    assert proc.returncode == 1
    summary = json.loads((out / "summary.json").read_text())
    assert [n["status"] for n in summary["notebooks"]] == ["failed", "ok"]


def test_never_overwrites_an_earlier_run(nbdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run3"
    out.mkdir()
    (out / "my-notes.txt").write_text("precious")
    proc = run_cli("--profile", "ci", "--notebook-dir", str(nbdir), "--output-dir", str(out))
    assert proc.returncode != 0
    assert "already holds a run" in proc.stderr
    assert (out / "my-notes.txt").read_text() == "precious"


def test_prepare_only_refuses_foreign_folder_and_regenerates_its_own(nbdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "prep"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit, match="refusing to overwrite"):
        run.main(["--profile", "ci", "--notebook-dir", str(nbdir), "--output-dir", str(out),
                  "--prepare-only"])
    fresh = tmp_path / "prep2"
    for _ in range(2):  # the second call regenerates its own folder
        assert run.main(["--profile", "ci", "--notebook-dir", str(nbdir), "--output-dir",
                         str(fresh), "--prepare-only", "-p", "x", "3"]) == 0
    nb = nbformat.read(fresh / "01_ok.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "x = 3" in injected[0].source and "profile = \"ci\"" in injected[0].source


def test_unknown_parameter_and_profile_are_rejected(nbdir: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown parameter.*typo_name"):
        run.main(["--profile", "ci", "--notebook-dir", str(nbdir), "--output-dir",
                  str(tmp_path / "r"), "-p", "typo_name", "1"])
    proc = run_cli("--profile", "nope", "--notebook-dir", str(nbdir))
    assert proc.returncode == 2 and "invalid choice: 'nope'" in proc.stderr
    with pytest.raises(SystemExit, match="--output-dir"):
        run.main(["--profile", "ci", "--notebook-dir", str(nbdir), "-p", "output_dir", "x"])


@pytest.mark.parametrize("text, value", [("3", 3), ("2e-5", 2e-5), ("True", True), ("none", None),
                                         ("bundled", "bundled"), ("../a/b", "../a/b"),
                                         # a tuple becomes a list: papermill would write its str
                                         ("('a', 'b')", ["a", "b"]), ("['a']", ["a"])])
def test_parse_value(text: str, value: object) -> None:
    assert run.parse_value(text) == value


def test_table_lists_metrics() -> None:
    table = run.format_table([run.Result("01_x.ipynb", "ok", 1.25, {"ppl": 42.0})])
    assert "01_x.ipynb" in table and "ppl=42.0" in table and "1.2" in table


def test_ctrl_c_in_the_kernel_stops_the_run_and_leaves_a_summary(nbdir: Path, tmp_path: Path) -> None:
    """A terminal's Ctrl-C interrupts the kernel: the cell dies of KeyboardInterrupt; the runner
    marks that notebook `interrupted`, runs nothing more (even with --keep-going), keeps a summary."""
    make_notebook(nbdir / "02_fails.ipynb", "raise KeyboardInterrupt()")
    out = tmp_path / "run-int"
    proc = run_cli("--profile", "ci", "--notebook-dir", str(nbdir), "--output-dir", str(out),
                   "--keep-going")
    assert proc.returncode == 1
    summary = json.loads((out / "summary.json").read_text())
    assert [n["status"] for n in summary["notebooks"]] == ["ok", "interrupted", "not run"]
    assert summary["finished"] is False


def test_relative_asset_paths_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils.run import absolute_sources

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.jsonl").write_text("{}\n")
    monkeypatch.chdir(tmp_path)
    out = absolute_sources({"qa_data_source": "data/train.jsonl", "qa_encoder_source": "bundled",
                            "clm_corpus_source": "transformersbook/codeparrot-train", "qa_learning_rate": 1e-4,
                            "qa_eval_source": "missing/dev.json"})
    assert out == {"qa_data_source": str(tmp_path / "data" / "train.jsonl"), "qa_encoder_source": "bundled",
                   "clm_corpus_source": "transformersbook/codeparrot-train", "qa_learning_rate": 1e-4,
                   "qa_eval_source": "missing/dev.json"}  # a missing path is left for the notebook's clear error


def test_profile_knobs_reach_every_notebook_declared_or_not(tmp_path: Path) -> None:
    import os

    d = tmp_path / "nbs"
    d.mkdir()
    body = ("from course_utils.profiles import activate\n"
            "from course_utils.workspace import record_metrics\n"
            "cfg = activate(profile, clm_max_steps={steps})\n"
            "record_metrics(exclude_tests=cfg.clm.exclude_tests, max_steps=cfg.clm.max_steps)")
    # 01 declares neither knob; 02 declares clm_max_steps and sets it itself in code
    make_notebook(d / "01_reads.ipynb", body.format(steps="None"))
    make_notebook(d / "02_declares.ipynb", body.format(steps="clm_max_steps"),
                  params="profile = 'ci'\noutput_dir = None\nclm_max_steps = None\n")
    out = tmp_path / "r"
    assert run.main(["--profile", "ci", "--notebook-dir", str(d), "--output-dir", str(out),
                     "-p", "clm_exclude_tests", "True", "-p", "clm_max_steps", "3"]) == 0
    metrics = {p.stem: json.loads(p.read_text()) for p in (out / "metrics").glob("*.json")}
    assert metrics == {"01_reads": {"exclude_tests": True, "max_steps": 3},
                       "02_declares": {"exclude_tests": True, "max_steps": 3}}
    assert "COURSE_PROFILE_OVERRIDES" not in os.environ  # nothing leaks into this process
    # a misspelt knob is still an error, and --prepare-only injects only declared parameters
    with pytest.raises(SystemExit, match="unknown parameter.*clm_exclude_test\\b"):
        run.main(["--profile", "ci", "--notebook-dir", str(d), "--output-dir", str(tmp_path / "r2"),
                  "-p", "clm_exclude_test", "True"])
    with pytest.raises(SystemExit, match="unknown parameter.*clm_exclude_tests"):
        run.main(["--profile", "ci", "--notebook-dir", str(d), "--output-dir", str(tmp_path / "r3"),
                  "--prepare-only", "-p", "clm_exclude_tests", "True"])


def test_summary_records_the_machine(tmp_path: Path) -> None:
    """The book's landing page shows where a run ran: CPU, cores, library versions."""
    import os
    from importlib import metadata

    path = run.write_summary(tmp_path, "ci", {}, [run.Result("01_ok.ipynb", "ok", 1.0)])
    machine = json.loads(path.read_text())["machine"]
    assert machine["cores"] == os.cpu_count()
    assert machine["torch"] == metadata.version("torch")
    assert machine["transformers"] == metadata.version("transformers")
    assert machine["cpu"] and machine["python"].count(".") == 2


def test_batch_runs_switch_progress_bars_off_whatever_the_profile(tmp_path: Path) -> None:
    """Nobody watches the runner's kernels and a saved widget bar stays at 0%: the workshop profile
    (which keeps its bars for a learner) runs without them here, set before any library import."""
    d = tmp_path / "nbs"
    d.mkdir()
    make_notebook(d / "01_bars.ipynb",
                  "import os\nfrom course_utils.profiles import activate, quiet\n"
                  "from course_utils.workspace import record_metrics\ncfg = activate(profile)\n"
                  "record_metrics(profile=cfg.name, quiet=quiet(), tqdm=os.environ.get('TQDM_DISABLE', ''),\n"
                  "               datasets=os.environ.get('HF_DATASETS_DISABLE_PROGRESS_BARS', ''))")
    out = tmp_path / "run-bars"
    proc = run_cli("--profile", "workshop", "--notebook-dir", str(d), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "summary.json").read_text())["notebooks"][0]["metrics"]
    assert metrics == {"profile": "workshop", "quiet": True, "tqdm": "1", "datasets": "1"}


def test_tracks_in_parallel_run_each_track_in_order_and_stop_only_the_failing_one(tmp_path: Path) -> None:
    """--tracks-in-parallel (make test's ci run): one process per track, each track in course
    order (a notebook sees what the one before it in its track wrote), a failure stops its own
    track only, and the summary lists every notebook in course order, as a sequential run does."""
    d = tmp_path / "nbs"
    d.mkdir()
    make_notebook(d / "01_a_first.ipynb", "from pathlib import Path\nPath(output_dir).mkdir(parents=True, exist_ok=True)\n"
                                          "(Path(output_dir) / 'a.txt').write_text('from 01')")
    make_notebook(d / "02_b_fails.ipynb", "raise ValueError('boom in track b')")
    make_notebook(d / "03_a_second.ipynb", "import os\nfrom pathlib import Path\n"
                                           "from course_utils.workspace import record_metrics\n"
                                           "record_metrics(seen=(Path(output_dir) / 'a.txt').read_text(),\n"
                                           "               threads=os.environ.get('OMP_NUM_THREADS'))")
    make_notebook(d / "04_b_after.ipynb", "print('never')")
    assert run.tracks(sorted(d.glob("*.ipynb"))) == [[d / "01_a_first.ipynb", d / "03_a_second.ipynb"],
                                                      [d / "02_b_fails.ipynb", d / "04_b_after.ipynb"]]
    out = tmp_path / "run-tracks"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run([sys.executable, "-m", "course_utils.run", "--profile", "ci", "--notebook-dir", str(d),
                           "--output-dir", str(out), "--tracks-in-parallel"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "2 tracks side by side" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert [(n["notebook"], n["status"]) for n in summary["notebooks"]] == [
        ("01_a_first.ipynb", "ok"), ("02_b_fails.ipynb", "failed"),
        ("03_a_second.ipynb", "ok"), ("04_b_after.ipynb", "not run")]
    assert summary["notebooks"][2]["metrics"] == {
        "seen": "from 01", "threads": str(max(1, (os.cpu_count() or 1) // 2))}
    assert "boom in track b" in summary["notebooks"][1]["error"]


def test_two_runs_at_once_in_one_folder_do_not_share_kernel_sockets(nbdir: Path, tmp_path: Path) -> None:
    """jupyter_client numbers IPC sockets from 1 in the working directory: two runners started
    together picked the same ones, and one kernel never answered (60 s, then a failure)."""
    procs = [subprocess.Popen([sys.executable, "-m", "course_utils.run", "--profile", "ci", "--notebook-dir",
                               str(nbdir), "--notebooks", "01_*", "--output-dir", str(tmp_path / f"r{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert not list(nbdir.glob("kernel*")), "sockets left in the notebooks' folder"
