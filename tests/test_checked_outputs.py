"""The checked cells: each `# NBVAL_CHECK_OUTPUT` cell of notebooks/ prints what it stores.

`make test` executes every notebook once, with the ci profile, into ``build/run-ci`` (the
``ci_run`` fixture); the output scan reads that run, and so does this test. Running the ten
notebooks a second time under ``nbval --nbval-lax`` only to compare these cells took about four
minutes of a ten-minute budget, so the comparison is made here on the saved run, with nbval's
own rules: the cells' streams merged per name (``coalesce_streams``, which also applies ``\\r``),
then every output field compared except those nbval skips (metadata, execution counts, images,
widget ids). A cell that raised is caught by ``test_clean_outputs.test_the_run_executed_every_notebook``.
The solution notebooks still run under nbval: nothing else executes them.
"""
from __future__ import annotations

import copy
from collections import defaultdict
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import coalesce_streams, transform_streams_for_comparison

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CHECK = "NBVAL_CHECK_OUTPUT"
# what nbval leaves out of the comparison (IPyNbFile.skip_compare, without --nbdime)
SKIP = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
        "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}


def comparable(outputs: list) -> dict[str, list]:
    """A cell's outputs as nbval compares them: field (or MIME type) -> its values, in order."""
    merged = transform_streams_for_comparison(coalesce_streams(copy.deepcopy(list(outputs))))
    fields: dict[str, list] = defaultdict(list)
    for output in merged:
        for key, value in output.items():
            if key in SKIP:
                continue
            if key == "data":
                for mime, text in value.items():
                    if mime not in SKIP:
                        fields[mime].append(text)
            else:
                fields[key].append(value)
    return dict(fields)


def checked_cells(path: Path) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code" and CHECK in c.source]


def differences(stored: Path, executed: Path) -> list[str]:
    """One line per checked cell of `stored` whose output in `executed` differs (or is missing)."""
    ran = {c.source: c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"}
    found = []
    for cell in checked_cells(stored):
        first = cell.source.splitlines()[1] if "\n" in cell.source else cell.source
        if cell.source not in ran:
            found.append(f"checked cell '{first[:60]}' is not in {executed.name}")
            continue
        want, got = comparable(cell.outputs), comparable(ran[cell.source].outputs)
        if want != got:
            found.append(f"checked cell '{first[:60]}': stored {want!r}\n    but the run printed {got!r}")
    return found


# ---- the comparison itself, on notebooks made up here -------------------------------------
def _notebook(path: Path, *cells: tuple[str, list]) -> Path:
    nb = nbformat.v4.new_notebook()
    for source, outputs in cells:
        cell = nbformat.v4.new_code_cell(source, execution_count=1)
        cell.outputs = [nbformat.v4.new_output("stream", name=n, text=t) for n, t in outputs]
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def test_the_comparison_follows_nbvals_rules(tmp_path: Path) -> None:
    src = f"# {CHECK}\nprint(1)"
    stored = _notebook(tmp_path / "a.ipynb", (src, [("stdout", "1\n2\n")]), ("x = 1", [("stdout", "free\n")]))
    split = _notebook(tmp_path / "b.ipynb", ("injected = 1", []), (src, [("stdout", "1\n"), ("stdout", "2\n")]),
                      ("x = 1", [("stdout", "anything\n")]))
    assert differences(stored, split) == []  # streams merged, unchecked cells free, extra cells ignored
    redrawn = _notebook(tmp_path / "c.ipynb", (src, [("stdout", "0\r1\n2\n")]))
    assert differences(stored, redrawn) == []  # a carriage return redraws the line, as in nbval
    other = _notebook(tmp_path / "d.ipynb", (src, [("stdout", "1\n3\n")]))
    (line,) = differences(stored, other)
    assert "print(1)" in line and "'1\\n3\\n'" in line
    warned = _notebook(tmp_path / "e.ipynb", (src, [("stdout", "1\n2\n"), ("stderr", "careful\n")]))
    assert len(differences(stored, warned)) == 1  # an extra stream is an unexpected field, as in nbval
    assert "not in f.ipynb" in differences(stored, _notebook(tmp_path / "f.ipynb", ("print(1)", [])))[0]


# ---- the ci run of `make test` --------------------------------------------------------------
@pytest.mark.parametrize("stored", NOTEBOOKS, ids=lambda p: p.name)
def test_checked_cells_print_what_they_store(ci_run: Path, stored: Path) -> None:
    executed = ci_run / stored.name
    if not checked_cells(stored):
        pytest.skip("no checked cell")
    assert executed.exists(), f"{executed} is missing from the run"
    found = differences(stored, executed)
    assert not found, "\n" + "\n".join(found)
