"""A book of one executed run: ``runs/<timestamp>/`` -> ``runs/<timestamp>/book/index.html``.

    python -m course_utils.book                    # the newest run of `make course`
    python -m course_utils.book --run runs/<timestamp>

Learners of d2l, fastbook or the nlp-with-transformers notebooks read outputs and plots before they
run anything; the notebooks here are committed without outputs, so this renders a run instead. The
tool is Sphinx with MyST-NB (what Jupyter Book 1 is built on, without its extra configuration
layer; Jupyter Book 2 moved to the Node.js ``mystmd`` toolchain, which is not in this Python
environment): the executed notebooks with their plots and tables (``nb_execution_mode = "off"``,
never re-executed), the course map as the table of contents, the run's ``summary.json`` (status,
seconds, metrics, profile, machine) as the landing page, and each page's Colab / Kaggle badges,
drawn from local files so the book also reads offline.
"""
from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any, Sequence

from .platforms import COLAB_BADGE, KAGGLE_BADGE, badges
from .profiles import PROJECT_ROOT

__all__ = ["BookError", "Book", "latest_run", "notebook_title", "summary_page", "build_book", "main"]

BOOK_MARKER = ".book-by-course-utils"
TRACKS = (("_clm_", "§6 Training a causal language model from scratch"),
          ("_qa_", "§7 Question answering"))
# The badges' images on the web, replaced by the book's local copies (the links stay).
BADGES = {COLAB_BADGE: "colab-badge.svg", KAGGLE_BADGE: "kaggle-badge.svg"}
BADGE_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{text}">
<rect width="{width}" height="20" rx="3" fill="{color}"/>
<text x="{mid}" y="14" fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">{text}</text>
</svg>
"""
CONF_PY = '''# Written by course_utils.book: the book of one executed run (Sphinx + MyST-NB).
project = {title!r}
extensions = ["myst_nb"]
nb_execution_mode = "off"          # render what the run executed; never run a notebook again
nb_output_stderr = "show"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath"]
html_theme = "sphinx_book_theme"
html_title = {title!r}
html_theme_options = {{"show_toc_level": 2, "home_page_in_toc": True}}
html_static_path = ["_static"]
html_last_updated_fmt = ""
exclude_patterns = ["_build"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]
'''


class BookError(ValueError):
    """The run folder cannot be rendered (no summary.json, no notebooks, a foreign book folder)."""


@dataclass
class Book:
    index: Path
    pages: int
    images: int
    seconds: float
    warnings: list[str]


def latest_run(runs: str | Path = PROJECT_ROOT / "runs") -> Path:
    """The newest ``runs/<timestamp>`` that holds a ``summary.json`` (benchmarks and workspaces skipped)."""
    runs = Path(runs)
    found = sorted(p for p in runs.glob("[0-9]*") if (p / "summary.json").is_file()) if runs.is_dir() else []
    if not found:
        raise BookError(f"no run with a summary.json under {runs}: run `make course` first, or pass RUN=<folder>")
    return found[-1]


def notebook_title(nb: Any, fallback: str) -> str:
    """The first ``# `` heading of the notebook's markdown: its page title in the table of contents."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if match:
                return match.group(1).strip()
    return fallback


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_page(run: Path, summary: dict[str, Any], titles: dict[str, str]) -> str:
    """The landing page (MyST markdown): what ran where, how long, what it measured; the course map
    (the notebooks' titles) as its table of contents."""
    notebooks = summary.get("notebooks", [])
    total = sum(float(n.get("seconds") or 0) for n in notebooks)
    ok = sum(n.get("status") == "ok" for n in notebooks)
    lines = [f"# A run of the course: {run.name}", "",
             f"Profile **{summary.get('profile', '?')}**, {ok} of {len(notebooks)} notebooks ok, "
             f"**{total / 60:.1f} min** of notebook time"
             + ("" if summary.get("finished") else " (**the run did not finish**)") + ".", "",
             "Every page is a notebook exactly as this run executed it (outputs and plots included);"
             " the badges open the same notebook on Colab or Kaggle.", "",
             "| notebook | status | seconds | key metrics |", "|---|---|---:|---|"]
    for n in notebooks:
        name = n["notebook"]
        link = f"[{Path(name).stem}]({name})" if name in titles else _cell(Path(name).stem)
        metrics = "<br>".join(html.escape(f"{_cell(k)}={_cell(v)}") for k, v in (n.get("metrics") or {}).items())  # one per line
        detail = metrics or _cell((n.get("error") or "")[:120])
        lines.append(f"| {link} | {_cell(n.get('status', '?'))} | {float(n.get('seconds') or 0):.1f} | {detail} |")
    machine = summary.get("machine") or {}
    lines += ["", "## The machine", ""]
    if machine:
        lines += ["| | |", "|---|---|"] + [f"| {_cell(k)} | {_cell(v)} |" for k, v in machine.items()]
    else:
        lines.append("Not recorded (this run's summary.json predates the `machine` entry).")
    params = summary.get("parameters") or {}
    lines += ["", "## Parameters given to the run", ""]
    lines += (["| | |", "|---|---|"] + [f"| `{_cell(k)}` | `{_cell(v)}` |" for k, v in params.items()]
              if params else ["None beyond the profile's defaults."])
    groups = [(caption, [name for name in titles if marker in name]) for marker, caption in TRACKS]
    groups.append(("Other notebooks", [name for name in titles if not any(m in name for m, _ in TRACKS)]))
    for caption, names in groups:  # the course map, in course order: the book's table of contents
        if names:
            lines += ["", "```{toctree}", f":caption: {caption}", ":maxdepth: 1", ""]
            lines += [Path(name).stem for name in names] + ["```"]
    return "\n".join(lines) + "\n"


def _localise_badges(nb: Any, name: str) -> None:
    """Point the badges at the book's own images; give a notebook without a Colab badge the
    notebooks' own badge line (`platforms.badges`)."""
    import nbformat

    if not any(cell.cell_type == "markdown" and COLAB_BADGE in cell.source for cell in nb.cells):
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(badges(f"notebooks/{name}")))
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for url, local in BADGES.items():
            if url in cell.source:
                cell.source = cell.source.replace(url, f"_static/{local}")


def _write_badges(static: Path) -> None:
    static.mkdir(parents=True, exist_ok=True)
    for local, text, color, width in (("colab-badge.svg", "Open in Colab", "#f9ab00", 117),
                                      ("kaggle-badge.svg", "Open in Kaggle", "#20beff", 121)):
        (static / local).write_text(BADGE_SVG.format(width=width, mid=width / 2, text=text, color=color))


def build_book(run: str | Path, quiet: bool = True) -> Book:
    """Render ``run`` into ``run/book/`` (replacing only a book this module built there before)."""
    import nbformat
    from sphinx.application import Sphinx

    run = Path(run).resolve()
    summary_file = run / "summary.json"
    if not summary_file.is_file():
        raise BookError(f"{run} holds no summary.json: not a run folder of `make course` / course_utils.run")
    summary = json.loads(summary_file.read_text())
    listed = [n["notebook"] for n in summary.get("notebooks", [])]
    present = [name for name in listed if (run / name).is_file()]
    if not present:
        raise BookError(f"{run}: none of the notebooks in summary.json ({listed[:3]}...) is in the folder")
    book = run / "book"
    if book.exists() and not (book / BOOK_MARKER).exists():
        raise BookError(f"{book} exists and was not written by course_utils.book: refusing to overwrite it")

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="book-", dir=run) as tmp:
        source, html = Path(tmp) / "source", Path(tmp) / "html"
        _write_badges(source / "_static")
        titles: dict[str, str] = {}
        for name in present:  # copies: the run's own notebooks are never touched
            nb = nbformat.read(run / name, as_version=4)
            titles[name] = notebook_title(nb, Path(name).stem)
            _localise_badges(nb, name)
            nbformat.write(nb, source / name)
        (source / "index.md").write_text(summary_page(run, summary, titles))
        title = f"nlp-course-companion · run {run.name}"
        (source / "conf.py").write_text(CONF_PY.format(title=title))
        warnings = StringIO()
        app = Sphinx(str(source), str(source), str(html), str(Path(tmp) / "doctrees"), "html",
                     status=None if quiet else sys.stdout, warning=warnings, freshenv=True)
        app.build()
        if app.statuscode:
            raise BookError(f"Sphinx failed to build the book of {run}:\n{warnings.getvalue()[-2000:]}")
        (html / BOOK_MARKER).write_text("written by python -m course_utils.book; rebuilt on demand\n")
        (html / ".buildinfo").unlink(missing_ok=True)
        if book.exists():
            shutil.rmtree(book)
        html.rename(book)
    pages = len(present) + 1
    images = sum(p.name not in BADGES.values() for p in (book / "_images").glob("*"))  # plots, tables as images
    return Book(book / "index.html", pages, images, round(time.perf_counter() - start, 1),
                [line for line in warnings.getvalue().splitlines() if line.strip()])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.book", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default=None, help="a runs/<timestamp> folder (default: the newest)")
    parser.add_argument("--verbose", action="store_true", help="show Sphinx's progress and warnings")
    args = parser.parse_args(argv)
    try:
        run = Path(args.run) if args.run else latest_run()
        result = build_book(run, quiet=not args.verbose)
    except BookError as err:
        print(f"make book: {err}", file=sys.stderr)
        return 2
    if args.verbose:
        print("\n".join(result.warnings))
    print(f"book: {result.index}  ({result.pages} pages, {result.images} images, {result.seconds:.1f} s,"
          f" {len(result.warnings)} Sphinx warnings)\nopen it: python -m http.server -d {result.index.parent}"
          f" 8000, then http://127.0.0.1:8000/ (or open the file in a browser)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
