"""course_utils.book: a run folder rendered with Sphinx + MyST-NB, never re-executed."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import nbformat
import pytest

from course_utils.book import BOOK_MARKER, BookError, build_book, latest_run, notebook_title, summary_page

BADGE = ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/nlp-course-companion/nlp-course-companion/blob/main/notebooks/{0})")


def png_bytes(y: float) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [3, 1, y])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def executed_notebook(path: Path, title: str, badge: bool = True, y: float = 2.0) -> None:
    """A notebook as a run leaves it: outputs recorded, including ones a re-run would change."""
    nb = nbformat.v4.new_notebook()
    head = (BADGE.format(path.name) + "\n\n" if badge else "") + f"# {title}\n\nSome prose."
    printed = nbformat.v4.new_code_cell("import time\nprint(time.time())", execution_count=1)
    printed.outputs = [nbformat.v4.new_output("stream", name="stdout", text="1234.5 recorded by the run\n")]
    plot = nbformat.v4.new_code_cell("plot()", execution_count=2)
    plot.outputs = [nbformat.v4.new_output("display_data", data={
        "image/png": base64.b64encode(png_bytes(y)).decode(), "text/plain": "<Figure>"})]
    never = nbformat.v4.new_code_cell("1 / 0")  # not executed by the run: must stay without output
    nb.cells = [nbformat.v4.new_markdown_cell(head), printed, plot, never]
    nbformat.write(nb, path)


def make_run(folder: Path, machine: bool = True) -> Path:
    folder.mkdir(parents=True)
    executed_notebook(folder / "06_qa_preparing_data.ipynb", "06 · Preparing the data")
    executed_notebook(folder / "03_clm_model_and_trainer.ipynb", "03 · A GPT-2 from a config", badge=False, y=0.5)
    summary = {"profile": "ci", "parameters": {"clm_max_steps": 7}, "finished": False, "notebooks": [
        {"notebook": "03_clm_model_and_trainer.ipynb", "status": "ok", "seconds": 11.8,
         "metrics": {"clm_trainer_perplexity": 29.3}, "error": ""},
        {"notebook": "06_qa_preparing_data.ipynb", "status": "ok", "seconds": 7.3, "metrics": {}, "error": ""},
        {"notebook": "07_qa_postprocessing_and_metric.ipynb", "status": "not run", "seconds": 0.0,
         "metrics": {}, "error": ""}]}
    if machine:
        summary["machine"] = {"cpu": "AMD EPYC", "cores": 2}
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_book_renders_the_run_as_executed(tmp_path: Path) -> None:
    run = make_run(tmp_path / "runs" / "20261202-070000-000000")
    before = {p.name: p.read_bytes() for p in run.glob("*.ipynb")}
    book = build_book(run)
    assert book.index == run / "book" / "index.html"
    assert (book.pages, book.images) == (3, 2)  # landing page + 2 notebooks; one plot each (badges not counted)
    index = book.index.read_text()
    # the summary table, the machine, the parameters, the course map in course order
    assert "11.8" in index and "clm_trainer_perplexity=29.3" in index and "not run" in index
    assert "AMD EPYC" in index and "clm_max_steps" in index
    assert "the run did not finish" in index
    assert index.index("03 · A GPT-2 from a config") < index.index("06 · Preparing the data")  # toc
    assert index.index(">03_clm_model_and_trainer<") < index.index(">06_qa_preparing_data<")  # table
    assert "§6 Training a causal language model" in index and "§7 Question answering" in index
    page = (run / "book" / "06_qa_preparing_data.html").read_text()
    assert "1234.5 recorded by the run" in page  # what the run printed, not a new time.time()
    assert "ZeroDivisionError" not in page  # the unexecuted cell was not run by the book
    assert "colab.research.google.com/github/nlp-course-companion" in page
    assert 'src="_images/colab-badge.svg"' in page and "colab.research.google.com/assets" not in page
    # a notebook without a badge gets one; the run's own notebooks are untouched
    assert "colab.research.google.com/github" in (run / "book" / "03_clm_model_and_trainer.html").read_text()
    assert {p.name: p.read_bytes() for p in run.glob("*.ipynb")} == before
    assert (run / "book" / BOOK_MARKER).is_file()
    assert not list(run.glob("book-*")), "the staging folder is removed"


def test_rebuild_replaces_only_its_own_book(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", machine=False)
    build_book(run)
    (run / "book" / "stale.html").write_text("old")
    build_book(run)
    assert not (run / "book" / "stale.html").exists()
    assert "Not recorded" in (run / "book" / "index.html").read_text()
    other = make_run(tmp_path / "other")
    (other / "book").mkdir()
    (other / "book" / "notes.md").write_text("a learner's notes")
    with pytest.raises(BookError, match="not written by course_utils.book"):
        build_book(other)
    assert (other / "book" / "notes.md").read_text() == "a learner's notes"


def test_bad_run_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(BookError, match="no summary.json"):
        build_book(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps({"notebooks": [{"notebook": "01_x.ipynb"}]}))
    with pytest.raises(BookError, match="none of the notebooks"):
        build_book(tmp_path)


def test_latest_run_is_the_newest_with_a_summary(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name in ("20261201-090000-000000", "20261202-080000-000000", "bench-20261203-000000", "workspace-ci"):
        (runs / name).mkdir(parents=True)
        (runs / name / "summary.json").write_text("{}")
    (runs / "20261203-080000-000000").mkdir()  # interrupted before its summary: skipped
    assert latest_run(runs).name == "20261202-080000-000000"
    with pytest.raises(BookError, match="make course"):
        latest_run(tmp_path / "nothing")


def test_titles_and_landing_page_escape_table_cells() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("badge\n\n# 01 · Title | with a bar")])
    assert notebook_title(nb, "x") == "01 · Title | with a bar"
    assert notebook_title(nbformat.v4.new_notebook(), "fallback") == "fallback"
    page = summary_page(Path("r"), {"profile": "ci", "finished": True, "notebooks": [
        {"notebook": "01_clm_a.ipynb", "status": "failed", "seconds": 1, "error": "ValueError: a | b"}]},
        {"01_clm_a.ipynb": "01 · Title | with a bar"})
    assert "[01_clm_a](01_clm_a.ipynb)" in page and "01_clm_a" in page.split("toctree")[1]
    assert "ValueError: a \\| b" in page and "0 of 1 notebooks ok" in page
