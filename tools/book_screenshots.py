"""Screenshots of a run's book for the README: the landing page and one notebook page.

    .venv/bin/python tools/book_screenshots.py runs/<timestamp>/book [--page 03_clm_model_and_trainer] [--to docs]

Serves the built book (``make book``) on 127.0.0.1, opens it in Debian's Chromium through
Playwright (``executable_path``: nothing is downloaded) and writes ``book-index.png`` and
``book-notebook.png``; the notebook page is scrolled to its first plot so the picture shows what
the run drew. Only the README's pictures are made this way; the browser tests take their own.
The Japanese links need a CJK font on the machine (Debian: ``apt-get install fonts-noto-cjk``),
or Chromium draws them as boxes.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import shutil
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # no request log
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # a browser that leaves a page drops the downloads it no longer needs: not an error
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """A static http server on 127.0.0.1 (a free port) over `folder`; yields its URL."""
    server = _QuietServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("book", type=Path, help="the book folder of a run (holds index.html)")
    p.add_argument("--page", default="03_clm_model_and_trainer", help="the notebook page to show")
    p.add_argument("--to", type=Path, default=Path("docs"))
    args = p.parse_args(argv)
    if not (args.book / "index.html").is_file():
        p.error(f"{args.book} holds no index.html: build it first (make book RUN=runs/<timestamp>)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        p.error("no Chromium on PATH: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    args.to.mkdir(parents=True, exist_ok=True)
    with serve_folder(args.book) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.goto(url, wait_until="load")
        page.screenshot(path=str(args.to / "book-index.png"))
        page.goto(url + args.page + ".html", wait_until="load")
        page.evaluate("""() => {
            const plot = [...document.querySelectorAll('main img')].find(
                i => i.src.includes('/_images/') && !i.src.includes('badge'));
            if (plot) window.scrollTo(0, plot.getBoundingClientRect().top + window.scrollY - 300);
        }""")
        page.screenshot(path=str(args.to / "book-notebook.png"))
        browser.close()
    print(f"wrote {args.to / 'book-index.png'} and {args.to / 'book-notebook.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
