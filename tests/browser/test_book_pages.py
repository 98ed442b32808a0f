"""The book of a ci run (course_utils.book), opened through a local http server in Chromium:
every page loads, every image has rendered, no internal link is broken, no page shows a traceback."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from course_utils.book import build_book

from .conftest import ROOT, SHOTS

pytestmark = pytest.mark.browser

# One quick notebook whose ci run draws plots and tables (two plots, ~11 s): keeps make test short.
BOOK_NOTEBOOKS = "06_*"


_spec = importlib.util.spec_from_file_location("book_screenshots", ROOT / "tools" / "book_screenshots.py")
book_screenshots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(book_screenshots)


@pytest.fixture(scope="module")
def book(browser: object, tmp_path_factory: pytest.TempPathFactory) -> Any:
    run = tmp_path_factory.mktemp("book") / "run"
    proc = subprocess.run([sys.executable, "-m", "course_utils.run", "--profile", "ci", "--notebooks",
                           BOOK_NOTEBOOKS, "--output-dir", str(run)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    built = build_book(run)
    assert built.pages == 2 and built.images >= 2, built
    return built


@pytest.fixture(scope="module")
def book_url(book: Any) -> Iterator[str]:
    with book_screenshots.serve_folder(book.index.parent) as url:
        yield url


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_every_book_page_loads_with_its_images_and_links(page: Any, book_url: str) -> None:
    page.goto(book_url)
    toc = page.locator("nav.bd-links a.reference.internal")
    listed = [urllib.parse.urljoin(book_url, href) for href in dict.fromkeys(toc.evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"))]
    pages = [url for url in listed if url.rstrip("/") != book_url.rstrip("/") and not url.endswith("index.html")]
    assert [Path(p).name for p in pages] == ["06_qa_preparing_data.html"], f"the table of contents lists {listed}"
    text = page.locator("main").inner_text()
    assert "A run of the course" in text and "Profile ci" in text
    page.screenshot(path=str(SHOTS / "book-index.png"), full_page=False)

    seen_links: set[str] = set()
    plots = 0
    for number, url in enumerate([book_url, *pages]):
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("load")
        images = page.evaluate("() => [...document.images].map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0}))")
        broken = [i["src"] for i in images if not i["ok"]]
        assert not broken, f"{url}: images that did not render: {broken}"
        assert images or url == book_url, f"{url}: no image at all (badges, plots)"
        body = page.locator("main").inner_text()
        assert "Traceback" not in body, f"{url} shows a Python traceback"
        if url != book_url:
            assert page.locator("main img").first.get_attribute("alt").lower() == "open in colab"
            colab = page.locator("main a[href*='colab.research.google.com/github/']").first
            assert Path(urllib.parse.urlparse(url).path).stem in colab.get_attribute("href")
            plots += sum("/_images/" in i["src"] and "badge" not in i["src"] for i in images)
            if number == 1:
                page.screenshot(path=str(SHOTS / "book-notebook.png"), full_page=False)
        links = page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)")
        seen_links.update(link.split("#")[0] for link in links if link.startswith(book_url))
    broken_links = sorted(link for link in seen_links if status_of(link) != 200)
    assert not broken_links, f"broken internal links: {broken_links}"
    assert len(seen_links) >= 3
    assert plots >= 1, "no plot of the run on any notebook page"
    assert not page.js_errors, page.js_errors[:3]


def test_the_readme_screenshots_tool_pictures_a_book(book: Any, tmp_path: Path) -> None:
    """tools/book_screenshots.py, which made docs/book-*.png from a workshop run (its own process:
    Playwright's sync API does not nest inside this session's browser)."""
    tool = [sys.executable, str(ROOT / "tools" / "book_screenshots.py")]
    proc = subprocess.run([*tool, str(book.index.parent), "--page", "06_qa_preparing_data", "--to", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("book-index.png", "book-notebook.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    refused = subprocess.run([*tool, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "holds no index.html" in refused.stderr
