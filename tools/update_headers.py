"""Rewrite the header of every notebook from `course_utils.platforms`: the Colab and Kaggle badges,
the course links (English, Japanese, the course's videos for the step), the link to the experiment
history (docs/experiments.md; course notebooks only) and the install lines of the setup cell. Only
those parts change; every other cell and line is kept as it is.

    .venv/bin/python tools/update_headers.py          # rewrite notebooks/ and solutions/
    .venv/bin/python tools/update_headers.py --check  # exit 1 if a notebook is out of date

Run it after changing `platforms.REPO` (the one place that holds the repository's URL).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils import platforms  # noqa: E402

COURSE = "https://huggingface.co/learn/llm-course"
# The course's videos, by the step of chapter 7 they open (ids as the course's §6/§7 pages embed them).
VIDEO = {
    "intro6": ("the §6 introduction", "Vpjb1lu0MDk"),
    "data6": ("preparing the dataset", "ma1TrR7gE7I"),
    "accelerate6": ("training with 🤗 Accelerate", "Hm8_PgVTFuc"),
    "intro7": ("the §7 introduction", "ajPx5LwJD-I"),
    "data7": ("processing the training data", "qgaM0weJHpA"),
    "post7": ("post-processing", "BNy08iIWVJM"),
}
# notebook number -> (course section, videos for that step)
STEPS = {
    "01": (6, ["intro6"]), "02": (6, ["data6"]), "03": (6, ["intro6"]), "04": (6, ["intro6"]),
    "05": (6, ["accelerate6"]), "06": (7, ["intro7", "data7"]), "07": (7, ["post7"]),
    "08": (7, ["intro7"]), "09": (7, ["intro7"]), "10": (7, ["intro7"]),
}
LINKS_PREFIX = "**In the course:**"
EXPERIMENTS_PREFIX = "**Measured elsewhere:**"

INSTALL = f'''# Setup. On Colab or Kaggle this installs the course package (their own torch is kept; on Kaggle,
# switch Internet on in the notebook's settings first); elsewhere it installs nothing. Then the
# profile sets the offline switches *before* any HF import.
import os, subprocess, sys
if "google.colab" in sys.modules or os.environ.get("KAGGLE_KERNEL_RUN_TYPE"):
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "{platforms.INSTALL_SPEC}"],
                   check=True)
'''


def course_links(number: str) -> str:
    """The line of course links for notebook `number` ("01" ... "10")."""
    if number not in STEPS:
        raise ValueError(f"no course step is known for notebook {number!r} (known: {', '.join(STEPS)})")
    section, videos = STEPS[number]
    page = f"chapter7/{section}"
    parts = [f"[§{section} in English]({COURSE}/{page})", f"[§{section} 日本語版]({COURSE}/ja/{page})"]
    parts += [f"[video: {VIDEO[v][0]}](https://www.youtube.com/watch?v={VIDEO[v][1]})" for v in videos]
    return f"{LINKS_PREFIX} " + " · ".join(parts)


def experiments_line() -> str:
    """The one line by which a course notebook points at what was measured elsewhere: its prose
    states no figure of the learner's run that the run does not print (tests/test_notebook_figures.py)."""
    url = f"{platforms.REPO_URL}/blob/main/docs/experiments.md"
    return (f"{EXPERIMENTS_PREFIX} the figures behind this notebook's choices, each with the machine and "
            f"the date it was measured on, are in [docs/experiments.md]({url}); what it says about *your* run, it prints.")


def header_markdown(source: str, relpath: str) -> str:
    """The first markdown cell with its badge line, course-links line and (in notebooks/) the
    experiments line brought up to date."""
    lines = source.split("\n")
    if not lines[0].startswith("[![Open In Colab]"):
        raise ValueError(f"{relpath}: the first markdown cell must start with the badge line")
    lines[0] = platforms.badges(relpath)
    lines = [line for line in lines if not line.startswith((LINKS_PREFIX, EXPERIMENTS_PREFIX))]
    while lines and not lines[-1].strip():
        lines.pop()
    number = Path(relpath).name[:2]
    extra = ["", experiments_line()] if relpath.startswith("notebooks/") else []
    return "\n".join(lines + ["", course_links(number)] + extra)


def setup_source(source: str, relpath: str) -> str:
    """The setup cell with its install lines (everything before the first `from course_utils`) replaced."""
    head, sep, rest = source.partition("from course_utils")
    if not sep or "pip" not in head:
        raise ValueError(f"{relpath}: the setup cell has no install lines before `from course_utils`")
    return INSTALL + "\n" + sep + rest


def update(path: Path) -> bool:
    """Rewrite one notebook's header; True if anything changed."""
    relpath = path.relative_to(ROOT).as_posix()
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    changed = False
    first_md = next(c for c in nb.cells if c.cell_type == "markdown")
    setup = [c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source]
    if len(setup) != 1:
        raise ValueError(f"{relpath}: expected one setup cell mentioning google.colab, found {len(setup)}")
    for cell, new in ((first_md, header_markdown(first_md.source, relpath)),
                      (setup[0], setup_source(setup[0].source, relpath))):
        if cell.source != new:
            cell.source = new
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report out-of-date notebooks, change nothing")
    args = parser.parse_args(argv)
    stale = []
    for path in notebooks():
        if args.check:
            nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
            relpath = path.relative_to(ROOT).as_posix()
            md = next(c for c in nb.cells if c.cell_type == "markdown")
            setup = next(c for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source)
            if md.source != header_markdown(md.source, relpath) or setup.source != setup_source(setup.source, relpath):
                stale.append(relpath)
        elif update(path):
            print(f"updated {path.relative_to(ROOT)}")
    for relpath in stale:
        print(f"out of date: {relpath} (run tools/update_headers.py)")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
