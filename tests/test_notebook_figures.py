"""No notebook prose states a figure about "this run" that the run itself does not print (issue 14.1).

The notebooks are committed without outputs and run on every kind of machine and profile, so a
number in their text about the learner's own run (seconds, steps, the share of files kept, a
speed-up, an F1, a perplexity) is true on one machine at best, and wrong for the next learner.
Such a number belongs in an output cell, printed from the run's variables. A number measured
elsewhere belongs in docs/experiments.md (or the README), with the machine and the date, and the
notebook links there.

The rule, checked on every Markdown cell of ``notebooks/`` and ``solutions/``, on the text of each
``changed_box([...])`` (rendered as Markdown in the notebook) and on the docstrings of what a
notebook shows with ``show_source``:

1. Code is not prose: fenced blocks, ``code spans`` and link targets are removed first.
2. A *figure* is a number with a unit or a measure next to it (see ``FIGURE``): a percentage
   (``31%``, ``3 %``), a factor (``2.8x``, ``25 times``), a duration (``s``, ``ms``, ``min``,
   ``hours``), a rate or a size (``tokens/s``, ``TFLOP/s``, ``MB``, ``5M``), a count of what a run
   makes or sees (``steps``, ``epochs``, ``questions``, ``windows``, ``prompts``, ``files``,
   ``tokens``, ``chunks``, ``nats``...), a score (``F1 56.6``, ``EM 83.8``, ``perplexity 29``),
   ``N of M``, or a number in scientific notation (``5e-4``).
3. Every figure must be in ``REFERENCE_FIGURES`` for its notebook: the few figures that do not
   depend on the run, each with the reason it stays (the course's own numbers, sizes of fixed data
   and of the models, the settings of a profile that the notebook prints as well, the inputs of an
   exercise). Plain numbers (``section 3``, ``§7``, ``transformers 5``) are not figures.

A failure names the notebook, the place and the sentence: print that number from the run, or move
the sentence to docs/experiments.md. Only add a figure to the list when it is a fact of the course,
the data or the settings, never a measurement.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from course_utils import platforms

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
EXPERIMENTS = ROOT / "docs" / "experiments.md"
EXPERIMENTS_URL = f"{platforms.REPO_URL}/blob/main/docs/experiments.md"  # tools/update_headers.py writes the line

_DIGITS = r"\d+(?:,\d{3})*(?:\.\d+)?"  # 1,000 or 0.78, never a trailing comma
_NUMBER = rf"(?<![\w.-])[~≈]?{_DIGITS}(?:\s*[-–]\s*{_DIGITS})?(?:\s+(?:million|thousand))?"
_UNITS = (  # right after the number
    r"%|per\s?cent\b|x\b|times\b|ms\b|s\b|sec\b|seconds?\b|min\b|minutes?\b|h\b|hours?\b"
    r"|tokens?/s\b|tok/s\b|feat/s\b|[GT]FLOP/s|[KMG]B\b|[MBk]\b|nats?\b|-(?:step|epoch|core)s?\b"
)
_COUNTED = (  # what a run makes or sees, at most two words after the number ("816 data-science prompts")
    r"(?:steps?|epochs?|questions?|windows?|prompts?|files?|scripts?|tokens?|chunks?|lines|passes"
    r"|seeds?|runs|examples|paragraphs|micro-batches|batches|parameters|features|cores?)\b"
)
FIGURE = re.compile(
    rf"{_NUMBER}\s*(?:{_UNITS})"                                         # 31%, 2.8x, 463 s, 1.7 nats
    rf"|{_NUMBER}\s+(?:[A-Za-z][\w-]*\s+){{0,2}}{_COUNTED}"              # 765 questions, 28 exact lines
    rf"|\b(?:F1|EM|exact match|[Pp]erplexity|similarity|loss)\s*(?:of\s*)?[~≈]?{_DIGITS}"  # F1 56.6
    rf"|{_NUMBER}\s+of\s+(?:the\s+)?{_DIGITS}"                          # 0 of 4
    r"|−\d+(?:\.\d+)?"                                                  # a log-probability, −12.4
    r"|(?<![\w.])\d(?:\.\d+)?e-?\d+\b",                                # 5e-4
)

# (notebook number, figure as written) -> why it may stay in the prose. The number matches the
# notebook and its solutions. Facts of the course, the data, the models or the settings only.
REFERENCE_FIGURES: dict[tuple[str, str], str] = {
    ("01", "3 %"): "the course's own figure: about 3 % of GitHub's Python files pass its filter",
    ("01", "50 GB"): "the size of the course's Hub dataset, transformersbook/codeparrot",
    ("01", "900 scripts"): "the example galleries of the sdists of the pinned versions (the cell below prints the count)",
    ("01", "5 files"): "the input of exercise 01.2",
    ("02", "90 tokens"): "the inputs of exercise 02.2 (files of 300, 50, 130 and 90 tokens)",
    ("02", "0 chunks"): "solution 02.1: integer division of a file shorter than context_length",
    ("02", "186 tokens"): "solution 02.2: arithmetic on the exercise's fixed inputs",
    ("02", "574 tokens"): "solution 02.2: arithmetic on the exercise's fixed inputs",
    ("02", "62 tokens"): "solution 02.2: arithmetic on the exercise's fixed inputs",
    ("03", "124M"): "the course's GPT-2",
    ("03", "5M"): "the workshop profile's GPT-2 (4 layers of 256, 8k vocabulary); the cell above prints the run's size",
    ("03", "8k"): "the workshop profile's vocab_size (8000); the config cell prints it",
    ("04", "25 times"): "the course's 124M GPT-2 against the workshop profile's 5M: the two models' sizes",
    ("04", "2.3 nats"): "arithmetic: exp(2.3) is 10",
    ("04", "10 times"): "arithmetic: exp(2.3) is 10",
    ("05", "8 times"): "the course's gradient accumulation, 8",
    ("05", "1,000 warm-up steps"): "the course's warm-up (the picture's code cell passes 1000)",
    ("05", "80,000 micro-batches"): "the course's sizes for the schedule picture (its code cell passes 80_000)",
    ("05", "20 optimizer steps"): "solution 05.3 trains at most 20 steps (its code cell's 20)",
    ("05", "256 validation chunks"): "solution 05.3 evaluates on 256 chunks (its code cell's 256)",
    ("06", "136 paragraphs"): "the bundled QA set is fixed (tools/make_bundled_qa.py)",
    ("06", "865 questions"): "the bundled QA set is fixed (tools/make_bundled_qa.py)",
    ("06", "5x"): "MiniLM-L6 (22M parameters) against bert-base-cased (110M): the two models' sizes",
    ("06", "100 tokens"): "the course's worked example: windows of 100 tokens, an overlap of 50",
    ("07", "100 questions"): "an order of magnitude, against SQuAD dev's size",
    ("07", "10,784 windows"): "SQuAD v1.1 dev at the course's max_length 384 and stride 128",
    ("08", "22M"): "MiniLM-L6's size; the model cell prints it",
    ("08", "110M"): "bert-base-cased's size",
    ("08", "2e-5"): "the course's learning rate",
    ("08", "1.5e-4"): "the workshop profile's learning rate; the arguments cell prints it",
    ("08", "10%"): "the warm-up share, a setting; the arguments cell prints the warm-up",
    ("08", "88,000 SQuAD questions"): "the size of SQuAD's training set, as the course says",
    ("08", "88k"): "the size of SQuAD's training set, as the course says",
    ("08", "33,000 steps"): "arithmetic on the course's sizes: three epochs over SQuAD at its batch size",
    ("09", "3 epochs"): "the input of exercise 09.1",
    ("09", "4 batches"): "solution 09.1: the exercise's gradient accumulation, 4",
    ("09", "4 times"): "solution 09.1: the exercise's gradient accumulation, 4",
    ("10", "32 tokens"): "solution 10.1: the exercise's doc_stride, 32",
}


def _strip_code(text: str) -> str:
    """Prose without fenced blocks, inline code, link targets (a URL is full of digits) and exercise labels."""
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"(?<![\w.])\d\d\.\d(?=\*\*|\s+[A-Z(])", " ", text)  # an exercise's label: 02.2 Short files
    return re.sub(r"https?://\S+", " ", text)


_SENTENCE_END = re.compile(r"[.!?:;]\s|\n\s*\n|\n\s*[*-] ")


def figures(text: str) -> list[tuple[str, str]]:
    """The figures of a piece of prose: (figure as written, whitespace collapsed; its sentence)."""
    prose = _strip_code(text)
    found = []
    for match in FIGURE.finditer(prose):
        starts = [m.end() for m in _SENTENCE_END.finditer(prose, 0, match.start())]
        end = _SENTENCE_END.search(prose, match.end())
        sentence = " ".join(prose[starts[-1] if starts else 0:end.start() + 1 if end else len(prose)].split())
        found.append((" ".join(match.group().split()), sentence))
    return found


def _changed_box_texts(source: str) -> list[str]:
    texts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "changed_box":
            for arg in node.args:
                texts += [c.value for c in ast.walk(arg) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
    return texts


def _shown_docstrings(sources: list[str]) -> list[tuple[str, str]]:
    """(name, docstring) of every course_utils object a notebook passes to show_source."""
    names: dict[str, str] = {}
    shown: list[str] = []
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("course_utils"):
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}:{alias.name}"
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "show_source":
                shown += [ast.unparse(a) for a in node.args]
    docs = []
    for dotted in shown:
        head, *rest = dotted.split(".")
        if head not in names:
            continue  # not ours (e.g. a library's own code shown as the course's reference)
        module, attr = names[head].split(":")
        obj = getattr(importlib.import_module(module), attr, None) or importlib.import_module(f"{module}.{attr}")
        for part in rest:
            obj = getattr(obj, part)
        docs.append((dotted, inspect.getdoc(obj) or ""))
    return docs


def prose_of(path: Path) -> list[tuple[str, str]]:
    """(where, text) for every piece of prose a notebook shows the learner."""
    nb = json.loads(path.read_text())
    pieces, code = [], []
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            pieces.append((f"markdown cell {i} ({cell.get('id')})", source))
        elif cell["cell_type"] == "code":
            lines = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
            code.append(lines)
            pieces += [(f"changed_box in cell {i} ({cell.get('id')})", t) for t in _changed_box_texts(lines)]
    pieces += [(f"docstring of {name}, shown with show_source", doc) for name, doc in _shown_docstrings(code)]
    return pieces


def unsupported_figures(path: Path) -> list[str]:
    number = path.name[:2]
    bad = []
    for where, text in prose_of(path):
        for figure, sentence in figures(text):
            if (number, figure) not in REFERENCE_FIGURES:
                bad.append(f"{where}: {figure!r} in \"{sentence}\"")
    return bad


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_prose_states_no_figure_of_the_run(path: Path) -> None:
    bad = unsupported_figures(path)
    assert not bad, (
        f"{path.name} states figures that this run does not print (print them from the run's variables, "
        "or move them to docs/experiments.md with the machine and date; see this test's docstring):\n  "
        + "\n  ".join(bad))


def test_every_reference_figure_is_still_used() -> None:
    """A stale entry would let the same figure back in elsewhere: every allowed figure appears."""
    seen = {(p.name[:2], f) for p in NOTEBOOKS + SOLUTIONS for _, text in prose_of(p) for f, _ in figures(text)}
    stale = sorted(set(REFERENCE_FIGURES) - seen)
    assert not stale, f"REFERENCE_FIGURES entries no notebook uses any more (remove them): {stale}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_links_the_experiment_history(path: Path) -> None:
    """What was measured elsewhere lives in docs/experiments.md: one line per notebook points there."""
    markdown = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "markdown")
    assert EXPERIMENTS_URL in markdown, f"{path.name} does not link {EXPERIMENTS_URL}"
    assert EXPERIMENTS.exists()


@pytest.mark.parametrize("text, expected", [
    ("Roughly 83.33% survive, in 463 s (2.8x faster); 765 questions, F1 56.6, still 0 of 4, lr 5e-4.",
     ["83.33%", "463 s", "2.8x", "765 questions", "F1 56.6", "0 of 4", "5e-4"]),
    ("about eight minutes, ~4,500 tokens/s, 1.7 nats, perplexity 24.9, 1,000 steps",
     ["~4,500 tokens/s", "1.7 nats", "perplexity 24.9", "1,000 steps"]),
    ("section 3, §7, notebook 08, transformers 5, `0.78 s` in code, [link](https://x.org/7/6 5%)", []),
])
def test_what_counts_as_a_figure(text: str, expected: list[str]) -> None:
    assert [f for f, _ in figures(text)] == expected
