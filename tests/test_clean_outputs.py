"""Clean outputs: what a reader of an executed notebook sees (the scan is tools/scan_outputs.py).

The first tests check the scan on outputs made up here. The others scan the ci run that
`make test` executes into ``build/run-ci`` (``python -m course_utils.run --profile ci``, which
saves every executed notebook) just before pytest: the ``ci_run`` fixture of conftest.py, which
skips (fails under ``CI=true``) when that run is missing or older than the sources.
``COURSE_SCAN_RUN=<run folder>`` scans another run (a ``make course`` run of the workshop profile,
say).
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

_spec = importlib.util.spec_from_file_location("scan_outputs", ROOT / "tools" / "scan_outputs.py")
scan = importlib.util.module_from_spec(_spec)
sys.modules["scan_outputs"] = scan
_spec.loader.exec_module(scan)


# ---- the scan, on made-up outputs ----------------------------------------------------------
def stream(text: str, name: str = "stdout") -> dict:
    return nbformat.v4.new_output("stream", name=name, text=text)


def result(text: str, html: str | None = None, kind: str = "execute_result") -> dict:
    data = {"text/plain": text, **({"text/html": html} if html else {})}
    if kind == "execute_result":
        return nbformat.v4.new_output(kind, data=data, execution_count=1)
    return nbformat.v4.new_output(kind, data=data)


def write_notebook(path: Path, *cells: list[dict]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")]
    for outputs in cells:
        cell = nbformat.v4.new_code_cell("pass", execution_count=1)
        cell.outputs = outputs
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def whats(tmp_path: Path, *outputs: dict) -> list[str]:
    path = write_notebook(tmp_path / "01_x.ipynb", list(outputs))
    return [f.what for f in scan.notebook_findings(path, roots=("/work/project",))]


def test_progress_bars_count_in_their_last_drawn_state(tmp_path: Path) -> None:
    widget = result("Map:   0%|          | 0/10 [00:00<?, ? examples/s]", kind="display_data")
    assert whats(tmp_path, widget) == ["progress bar stuck at 0%"]
    redrawn = stream("train:   0%|     | 0/4\rtrain:  50%|██   | 2/4\rtrain: 100%|█████| 4/4\n", "stderr")
    assert whats(tmp_path, redrawn) == []
    assert whats(tmp_path, stream("train:  50%|██   | 2/4\n", "stderr")) == ["progress bar stuck at 50%"]
    table = "<progress value='6' max='6' style='width:300px;'></progress> [6/6 00:01, Epoch 0/1]"
    assert whats(tmp_path, result("<IPython.core.display.HTML object>", table, "display_data")) == []
    half = table.replace("value='6'", "value='3'")
    assert whats(tmp_path, result("<IPython.core.display.HTML object>", half, "display_data")) == [
        "progress bar at 3/6"]


def test_library_messages_judged_unactionable_or_unjudged_are_found(tmp_path: Path) -> None:
    assert whats(tmp_path, stream("[transformers] `loss_type=None` was set in the config\n", "stderr")) == [
        "unactionable library message ('loss_type=None')"]
    assert whats(tmp_path, stream("[RANK 0] Removed shared tensor {'lm_head.weight'} while saving\n", "stderr")) == [
        "unactionable library message ('Removed shared tensor')"]
    assert whats(tmp_path, result("Writing model shards: 100%|█| 1/1", kind="display_data")) == [
        "unactionable library message ('Writing model shards')"]
    unjudged = whats(tmp_path, stream("[transformers] Token indices sequence length is longer\n", "stderr"))
    assert len(unjudged) == 1 and unjudged[0].startswith("library warning nobody has judged")
    python_warning = stream("/x/site-packages/lib/mod.py:12: FutureWarning: `a` is deprecated\n", "stderr")
    assert [w.split(":")[0] for w in whats(tmp_path, python_warning)] == ["library warning nobody has judged"]
    instructive = stream("[transformers] Some weights of BertForQuestionAnswering were not initialized\n", "stderr")
    lesson = stream("warning: keyword 'plt' is not a single token (2 tokens)\n")
    assert whats(tmp_path, instructive, lesson) == []


def test_no_log_absolute_paths_log_dicts_and_bare_results_are_found(tmp_path: Path) -> None:
    assert whats(tmp_path, result("x", "<td>No log</td>", "display_data")) == ["'No log' in a table"]
    assert whats(tmp_path, stream("model: /work/project/runs/workspace-ci/qa-trainer/1\n")) == [
        "absolute path (/work/project)"]
    assert whats(tmp_path, stream("model: runs/workspace-ci/qa-trainer/1\n")) == []
    assert whats(tmp_path, stream("{'loss': '6.81', 'grad_norm': '0.654', 'learning_rate': '0'}\n")) == [
        "raw training-log dict (print a rounded row, or let Trainer's table show it)"]
    assert whats(tmp_path, stream("{'exact_match': 50.0, 'f1': 83.33333333333333}\n")) == []  # what metric.compute gives
    assert whats(tmp_path, result("False")) == ["bare False as the cell's result"]
    assert whats(tmp_path, result("None"), stream("False True\n")) == ["bare None as the cell's result"]


def test_findings_name_the_notebook_cell_and_line(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "03_y.ipynb", [stream("fine\n")],
                          [stream("ok\nstill ok\n"), stream("[RANK 0] Removed shared tensor {'w'}\n", "stderr")])
    (finding,) = scan.notebook_findings(path, roots=())
    assert (finding.notebook, finding.cell, finding.line) == ("03_y.ipynb", 2, 3)
    assert str(finding).startswith("03_y.ipynb cell 2 line 3: unactionable library message")


def test_a_line_printed_again_by_a_later_notebook_is_found(tmp_path: Path) -> None:
    report = "58.37% of data after filtering (408 of 699 files)."
    first = write_notebook(tmp_path / "01_a.ipynb", [stream("profile=ci offline=True workspace=w\n" + report + "\n"),
                                                     stream(report + "\n")])
    second = write_notebook(tmp_path / "02_b.ipynb", [stream("profile=ci offline=True workspace=w\n")],
                            [stream("resuming from None\n" + report + "\n")])
    (finding,) = scan.repeated_lines([first, second])
    assert (finding.notebook, finding.cell, finding.line, finding.text) == ("02_b.ipynb", 2, 2, report)
    assert finding.what == "already printed by 01_a.ipynb"


def test_the_command_line_exits_1_on_findings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    write_notebook(tmp_path / "01_a.ipynb", [result("False")])
    assert scan.main([str(tmp_path)]) == 1
    assert "01_a.ipynb cell 1 line 1: bare False" in capsys.readouterr().out
    write_notebook(tmp_path / "01_a.ipynb", [stream("all good\n")])
    assert scan.main([str(tmp_path)]) == 0


# ---- the ci run of `make test` (the ci_run fixture is in conftest.py) ------------------------
def test_the_run_executed_every_notebook(ci_run: Path) -> None:
    summary = json.loads((ci_run / "summary.json").read_text())
    statuses = {n["notebook"]: (n["status"], n["error"]) for n in summary["notebooks"]}
    assert sorted(statuses) == [p.name for p in NOTEBOOKS], "the run must hold every notebook"
    failed = {name: s for name, s in statuses.items() if s[0] != "ok"}
    assert not failed, f"notebooks that did not run through (their outputs are incomplete): {failed}"


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_outputs_are_clean(ci_run: Path, name: str) -> None:
    path = ci_run / name
    if not path.exists():
        pytest.fail(f"{path} is missing from the run")
    findings = scan.notebook_findings(path, scan.absolute_roots(ci_run))
    assert not findings, "\n" + "\n".join(map(str, findings))


def test_no_report_is_printed_again_by_a_later_notebook(ci_run: Path) -> None:
    findings = scan.repeated_lines(scan.executed_notebooks(ci_run))
    assert not findings, "\n" + "\n".join(map(str, findings))
