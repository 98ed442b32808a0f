"""The notebooks and the library never drift apart (in the spirit of nbdev).

* every notebook has the header every notebook needs (badge, parameters, Colab-safe setup);
* every `course_utils` name a notebook imports exists;
* every public helper of `course_utils` is used by a notebook, directly or through a helper a
  notebook uses (the few that exist for scripts, tests and benchmarks are listed with a reason).
"""
from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import course_utils

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COLAB_PREFIX = "https://colab.research.google.com/github/nlp-course-companion/nlp-course-companion/blob/main/notebooks/"

# Public names that no notebook needs to call, and why.
NOT_FOR_NOTEBOOKS = {
    "course_utils.run": "the batch runner's CLI (make course / make test)",
    "course_utils.book": "make book: renders a run folder (tests/test_book.py, tests/browser)",
    "course_utils.prepare.main": "CLI: python -m course_utils.prepare prepare",
    "course_utils.clm.galleries.main": "CLI: python -m course_utils.clm.galleries --to DIR (a teacher fetches once)",
    "course_utils.clm.train_accelerate": "script run by accelerate launch",
    "course_utils.qa.train_accelerate": "script run by accelerate launch",
    "course_utils.qa.squad_metric": "an evaluate module loaded by path, not imported",
    "course_utils.assets.prepared_sources": "used by the runner's --assets option",
    "course_utils.profiles.profile_knobs": "used by the runner to hand -p knobs to every notebook",
    "course_utils.settings": "the typed knobs, which notebooks reach as cfg.clm / cfg.qa",
    "course_utils.clm.course": "the course's own code, the one reference copy tests and benchmarks compare ours with",
    "course_utils.qa.course": "the course's own code, the one reference copy tests and benchmarks compare ours with",
    "course_utils.kit": "the workshop kit behind python -m course_utils.prepare prepare --wheels / check",
    "course_utils.platforms.badges": "written into every notebook's first cell by tools/update_headers.py",
    "course_utils.training.script_run_dir": "the run folder of both training scripts (--work / --output-dir)",
}


def cells(path: Path, kind: str = "code") -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def code_without_magics(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def test_there_are_notebooks_for_both_tracks() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert any("clm" in n for n in names) and any("qa" in n for n in names), names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_header(path: Path) -> None:
    nb = json.loads(path.read_text())
    params = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged 'parameters'"
    tree = ast.parse("".join(params[0]["source"]))
    declared = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
                if isinstance(t, ast.Name)}
    for name in ("profile", "output_dir", "seed", "push_to_hub"):
        assert name in declared, f"parameters cell lacks {name}"
    assert ast.literal_eval(declared["push_to_hub"]) is False, "push_to_hub must default to False"
    import papermill

    seen_by_papermill = set(papermill.inspect_notebook(str(path)))
    assert set(declared) <= seen_by_papermill, (
        f"papermill cannot parse {sorted(set(declared) - seen_by_papermill)} "
        "(an '=' in a comment hides the line from it)")
    markdown = "\n".join(cells(path, "markdown"))
    assert COLAB_PREFIX + path.name in markdown, "Open-in-Colab badge must point at this notebook"
    text = markdown + "\n".join(cells(path))
    assert "what changed" in text.lower() or "changed_box(" in text, "needs a 'what changed' box"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    heavy = sum(len(json.dumps(c.get("outputs", []))) for c in nb["cells"] if c["cell_type"] == "code")
    assert heavy < 20_000, "commit notebooks without (big) outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checked_cells_store_their_expected_output(path: Path) -> None:
    """nbval compares a `# NBVAL_CHECK_OUTPUT` cell with its stored output: without one (or
    without an execution count) it fails the cell, so the ci outputs of those cells are committed."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if "NBVAL_CHECK_OUTPUT" in "".join(cell["source"]):
            assert cell.get("outputs"), f"cell {i} is checked by nbval but stores no output"
        if cell.get("outputs"):
            assert cell.get("execution_count") is not None, (
                f"cell {i} stores outputs without an execution count: run tools/fix_checked_cells.py")


def setup_cell(path: Path) -> str:
    for source in cells(path):
        if "google.colab" in source:
            return source
    raise AssertionError(f"{path.name}: no Colab setup cell")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_setup_installs_only_on_colab_and_keeps_torch(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = setup_cell(path)
    install_part = source.split("from course_utils")[0]
    calls: list[list[str]] = []
    fake_subprocess = types.SimpleNamespace(run=lambda cmd, **kw: calls.append(cmd))
    monkeypatch.setitem(sys.modules, "subprocess", fake_subprocess)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    exec(compile(install_part, path.name, "exec"), {})
    assert calls == [], "nothing may be installed outside Colab and Kaggle"
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    exec(compile(install_part, path.name, "exec"), {})
    assert len(calls) == 1
    cmd = " ".join(calls[0])
    assert "pip install" in cmd and "nlp-course-companion" in cmd
    assert "torch" not in cmd, "Colab's own torch must be kept"


def imported_names(path: Path) -> set[tuple[str, str]]:
    found = set()
    for source in cells(path):
        try:
            tree = ast.parse(code_without_magics(source))
        except SyntaxError as exc:  # pragma: no cover - shown as a failure
            raise AssertionError(f"{path.name}: cell does not parse: {exc}") from exc
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils"):
                found |= {(node.module, alias.name) for alias in node.names}
            elif isinstance(node, ast.Import):
                found |= {(a.name, "") for a in node.names if a.name.startswith("course_utils")}
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_imported_helpers_exist(path: Path) -> None:
    for module, name in sorted(imported_names(path)):
        mod = importlib.import_module(module)
        if name and not hasattr(mod, name):
            importlib.import_module(f"{module}.{name}")  # a submodule is fine


def public_helpers(private: bool = False) -> dict[str, ast.AST]:
    """'module.name' -> its AST, for every public top-level function/class of course_utils
    (``private=True``: the ``_private`` ones too, through which a public helper may be reached)."""
    helpers = {}
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        if any(info.name == skip or info.name.startswith(skip + ".") for skip in NOT_FOR_NOTEBOOKS):
            continue
        spec = importlib.util.find_spec(info.name)
        if not spec or not spec.origin or not spec.origin.endswith(".py"):
            continue
        tree = ast.parse(Path(spec.origin).read_text())
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and (
                    private or not node.name.startswith("_")):
                qual = f"{info.name}.{node.name}"
                if qual not in NOT_FOR_NOTEBOOKS:
                    helpers[qual] = node
    return helpers


def identifiers(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name.split(".")[-1])
            if node.asname:
                names.add(node.asname)
    return names


def test_every_public_helper_is_used_by_a_notebook() -> None:
    public = public_helpers()
    helpers = public_helpers(private=True)  # a public helper reached through a private one is used
    by_name: dict[str, list[str]] = {}
    for qual in helpers:
        by_name.setdefault(qual.rsplit(".", 1)[1], []).append(qual)
    reached: set[str] = set()
    frontier: set[str] = set()
    for path in NOTEBOOKS:
        for source in cells(path):
            frontier |= identifiers(code_without_magics(source))
    while frontier:
        name = frontier.pop()
        for qual in by_name.get(name, []):
            if qual not in reached:
                reached.add(qual)
                frontier |= identifiers(ast.unparse(helpers[qual])) - {name}
    unused = sorted(set(public) - reached)
    assert not unused, f"public helpers no notebook uses (use them, make them private, or explain): {unused}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_what_a_notebook_shows_fits_in_a_head(path: Path) -> None:
    """Issue 13: nothing a notebook passes to show_source from course_utils is longer than 60 lines
    (the course's loop is about 40); longer code becomes small named helpers shown on their own."""
    import inspect

    names: dict[str, str] = {}  # name in the notebook -> "module:attribute"
    shown: list[ast.expr] = []
    for source in cells(path):
        tree = ast.parse(code_without_magics(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils"):
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}:{alias.name}"
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_source":
                shown.extend(node.args)

    for arg in shown:
        parts = ast.unparse(arg).split(".")
        if parts[0] not in names:
            continue  # a library's own code (e.g. transformers' pipeline), shown as the course's reference
        module, attr = names[parts[0]].split(":")
        obj = getattr(importlib.import_module(module), attr, None) or importlib.import_module(f"{module}.{attr}")
        for part in parts[1:]:
            obj = getattr(obj, part)
        lines = len(inspect.getsource(obj).splitlines())
        assert lines <= 60, f"{path.name} shows {ast.unparse(arg)}: {lines} lines (at most 60)"

