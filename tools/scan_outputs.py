"""Scan executed notebooks for outputs a reader should not have to see.

    .venv/bin/python tools/scan_outputs.py build/run-ci     # the ci run `make test` executes
    .venv/bin/python tools/scan_outputs.py runs/<timestamp> # a `make course` run

Prints one line per finding (notebook, cell, line, what, the text) and exits 1 when there is any.
A finding is one of:

* a progress bar below 100% in its last drawn state (a widget bar is saved as first drawn, 0%);
* a library message a learner cannot act on (``profiles.UNACTIONABLE_MESSAGES``, progress text
  such as "Writing model shards"), or a library log line or Python warning nobody has judged yet;
* "No log" (a Trainer table column without values);
* an absolute path (the project, the run folder, the home folder, the venv, /tmp, /root, /home);
* a raw training-log dict (``{'loss': ..., 'learning_rate': ...}``) or a dict with unrounded floats;
* a bare ``True`` / ``False`` / ``None`` as a cell's result (under an exercise check, say);
* the same line printed by several notebooks (a report that should be made once, e.g. the corpus).

Cells are numbered as nbval numbers them (position in the notebook, from 0), lines from 1.
"""
from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils.profiles import PROJECT_ROOT, UNACTIONABLE_MESSAGES  # noqa: E402

# Progress text that never helps a reader of a saved notebook.
UNACTIONABLE_PROGRESS = ("Writing model shards", "Loading weights")
# Library log lines judged instructive: they stay (add a snippet here with the reason).
INSTRUCTIVE_MESSAGES = (
    "Some weights of",        # which weights were freshly initialised: the QA head the course trains
    "newly initialized",
)
# Lines that may repeat across notebooks: every notebook's setup cell names its profile and workspace.
REPEAT_OK = (re.compile(r"^profile=\S+ offline=\S+ workspace="),)
MIN_REPEAT_LENGTH = 25  # shorter lines ("resuming from None", "True") repeat by coincidence

_TEXT_BAR = re.compile(r"(\d{1,3})%\|")
_HTML_BAR = re.compile(r"<progress\s+value='(\d+)'\s+max='(\d+)'")
_LIBRARY_LINE = re.compile(r"^\s*(\[(transformers|accelerate|datasets|huggingface_hub|tokenizers|RANK \d+)\]"
                           r"|\S+\.py:\d+: \w*Warning: |(WARNING|INFO):\w)")
_LOG_DICT = re.compile(r"^\{'(loss|eval_\w+|train_\w+|learning_rate|lr|grad_norm|step|epoch)'")
_DICT_LINE = re.compile(r"^\{'\w+': ")
_LONG_FLOAT = re.compile(r"(?<![\w.])-?\d+\.\d{6,}(?:e-?\d+)?")
_BARE_RESULTS = {"True", "False", "None"}


@dataclass(frozen=True)
class Finding:
    notebook: str
    cell: int
    line: int
    what: str
    text: str

    def __str__(self) -> str:
        return f"{self.notebook} cell {self.cell} line {self.line}: {self.what}: {self.text[:160]!r}"


def rendered_lines(text: str) -> list[str]:
    """The lines as Jupyter draws a stream: of each line, only what follows its last carriage return
    (a text progress bar redraws itself with ``\\r``, so its last state is what a reader sees)."""
    return [line.rsplit("\r", 1)[-1] for line in text.split("\n")]


def output_texts(output: dict) -> Iterator[tuple[str, str]]:
    """``(kind, text)`` of one output: ``stdout``/``stderr``, ``result`` (an execute_result's
    text/plain), ``display`` (a display's text/plain) and ``html`` (any text/html)."""
    kind = output.get("output_type")
    if kind == "stream":
        yield output.get("name", "stdout"), "\n".join(rendered_lines(output.get("text", "")))
    elif kind in ("execute_result", "display_data"):
        data = output.get("data", {})
        if "text/plain" in data:
            yield ("result" if kind == "execute_result" else "display"), _joined(data["text/plain"])
        if "text/html" in data:
            yield "html", _joined(data["text/html"])


def _joined(value: str | list[str]) -> str:
    return "".join(value) if isinstance(value, list) else value


def absolute_roots(run: Path | None = None) -> tuple[str, ...]:
    """The path prefixes that give away a machine: this project, the run, home, the venv, temp folders."""
    roots = {str(PROJECT_ROOT), str(Path.home() / "x")[:-1], sys.prefix, str(Path(tempfile.gettempdir()) / "x")[:-1],
             "/tmp/", "/root/", "/home/", "/Users/"}
    if run is not None:
        roots.add(str(run.resolve()))
    return tuple(sorted(r for r in roots if len(r) > 1))


def line_findings(kind: str, line: str, roots: Iterable[str]) -> Iterator[str]:
    """What is wrong with one line of output of `kind` (see :func:`output_texts`)."""
    if kind == "html":
        for value, maximum in _HTML_BAR.findall(line):
            if int(value) < int(maximum):
                yield f"progress bar at {value}/{maximum}"
        if "No log" in line:
            yield "'No log' in a table"
        return  # markup: paths and dicts in HTML are the text/plain's business
    for percent in _TEXT_BAR.findall(line):
        if int(percent) < 100:
            yield f"progress bar stuck at {percent}%"
    for snippet in UNACTIONABLE_MESSAGES + UNACTIONABLE_PROGRESS:
        if snippet in line:
            yield f"unactionable library message ({snippet!r})"
            break
    else:
        if kind == "stderr" and _LIBRARY_LINE.search(line) and not any(s in line for s in INSTRUCTIVE_MESSAGES):
            yield ("library warning nobody has judged: drop it (profiles.UNACTIONABLE_MESSAGES) or "
                   "keep it (INSTRUCTIVE_MESSAGES here)")
    if "No log" in line:
        yield "'No log' in a table"
    for root in roots:
        if root in line:
            yield f"absolute path ({root})"
            break
    stripped = line.strip()
    if _LOG_DICT.match(stripped):
        yield "raw training-log dict (print a rounded row, or let Trainer's table show it)"
    elif _DICT_LINE.match(stripped) and _LONG_FLOAT.search(stripped) and "'loss'" in stripped:
        yield "unrounded float in a log line"


def cell_findings(name: str, index: int, cell: dict, roots: Iterable[str]) -> list[Finding]:
    """Every finding in one code cell's outputs."""
    found, number = [], 0  # lines counted across the cell's outputs, as a reader counts them
    for output in cell.get("outputs", []):
        for kind, text in output_texts(output):
            if kind == "html":  # the same output's text/plain holds the lines a reader counts
                found += [Finding(name, index, number + 1, what, "<html>")
                          for line in text.split("\n") for what in line_findings(kind, line, roots)]
                continue
            if kind == "result" and text.strip() in _BARE_RESULTS:
                found.append(Finding(name, index, number + 1, f"bare {text.strip()} as the cell's result", text))
            else:
                found += [Finding(name, index, number + i, what, line) for i, line in enumerate(text.split("\n"), 1)
                          for what in line_findings(kind, line, roots)]
            number += text.rstrip("\n").count("\n") + 1
    return found


def notebook_findings(path: Path, roots: Iterable[str] | None = None) -> list[Finding]:
    """Every finding in one executed notebook (the checks that need no other notebook)."""
    nb = nbformat.read(path, as_version=4)
    roots = absolute_roots(path.parent) if roots is None else tuple(roots)
    return [f for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for f in cell_findings(path.name, i, cell, roots)]


def printed_lines(path: Path) -> Iterator[tuple[int, int, str]]:
    """``(cell, line, text)`` of every stdout/stderr line of a notebook (lines numbered as above)."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        number = 0
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            for kind, text in output_texts(output):
                if kind == "html":
                    continue
                for offset, line in enumerate(text.split("\n"), 1):
                    if kind in ("stdout", "stderr"):
                        yield i, number + offset, line.strip()
                number += text.rstrip("\n").count("\n") + 1


def repeated_lines(paths: Iterable[Path]) -> list[Finding]:
    """Lines that an earlier notebook already printed: a report made again instead of reused."""
    first_seen: dict[str, str] = {}
    found = []
    for path in paths:
        seen_here = set()
        for cell, number, line in printed_lines(path):
            if len(line) < MIN_REPEAT_LENGTH or any(p.search(line) for p in REPEAT_OK) or line in seen_here:
                continue
            seen_here.add(line)
            if line in first_seen:
                found.append(Finding(path.name, cell, number, f"already printed by {first_seen[line]}", line))
            else:
                first_seen[line] = path.name
    return found


def executed_notebooks(run: Path) -> list[Path]:
    """The executed course notebooks of a run folder, in course order."""
    return sorted(run.glob("[0-9][0-9]_*.ipynb"))


def scan_run(run: Path) -> list[Finding]:
    """Every finding of every executed notebook of `run`, then the repeats across them."""
    paths = executed_notebooks(run)
    roots = absolute_roots(run)
    return [f for p in paths for f in notebook_findings(p, roots)] + repeated_lines(paths)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("run", type=Path, help="a run folder of python -m course_utils.run")
    args = parser.parse_args(argv)
    if not executed_notebooks(args.run):
        parser.error(f"{args.run} holds no executed notebook (NN_*.ipynb)")
    findings = scan_run(args.run)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s) in {len(executed_notebooks(args.run))} notebook(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
