"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, one JupyterLab per session.

Nothing is downloaded at run time: Playwright drives the system Chromium (``executable_path``);
``playwright install`` is never used. Without a browser the tests skip with the way to install
one; with ``CI=true`` a missing browser fails them instead.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "browser"
INSTALL_HINT = ("install a browser for them: `apt-get install -y chromium` (as root, Debian/Ubuntu) and "
                "`pip install playwright` (never `playwright install`: the system Chromium is used), "
                "or point COURSE_CHROMIUM at a Chromium binary")
# Notebooks with a widget, prepared with the ci profile for the JupyterLab session.
WIDGET_NOTEBOOKS = ("04_clm_code_generation", "06_qa_preparing_data", "10_qa_using_the_model")


def chromium_path() -> str | None:
    """COURSE_CHROMIUM, else Debian's chromium on PATH."""
    given = os.environ.get("COURSE_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _missing_browser() -> str | None:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed"
    if chromium_path() is None:
        return "no Chromium found (COURSE_CHROMIUM or `chromium` on PATH)"
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Chromium for the session (skip, or fail under CI=true, when there is none)."""
    missing = _missing_browser()
    if missing:
        message = f"browser tests: {missing}; {INSTALL_HINT}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI=true: a missing browser is a failure)", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("FAILED-*.png"):  # from an earlier session; this one's failures replace them
        old.unlink()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"], headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page per test; a screenshot of where it stood is saved when the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors
    try:
        yield pg
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            pg.screenshot(path=str(SHOTS / f"FAILED-{request.node.name}.png"), full_page=False)
        context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_url(url: str, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited ({process.returncode}) before {url} answered:\n"
                               + log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s:\n" + log.read_text()[-3000:])


class Lab:
    """A running JupyterLab: its base URL, token and the folder it serves."""

    def __init__(self, url: str, token: str, root: Path) -> None:
        self.url, self.token, self.root = url, token, root

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}.ipynb?token={self.token}&reset"


@pytest.fixture(scope="session")
def lab(browser: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab from this venv on 127.0.0.1 (free port, token) over ci-prepared notebooks.

    The kernels get ``COURSE_WIDGETS=1`` so the ci profile shows its widgets (it prints them as
    text in batch runs), and their own Jupyter config/data folders, so a learner's settings on
    this machine neither leak in nor are touched.
    """
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    subprocess.run([sys.executable, "-m", "course_utils.run", "--profile", "ci", "--prepare-only",
                    "--notebooks", ",".join(f"{n}*" for n in WIDGET_NOTEBOOKS), "--output-dir", str(root)],
                   check=True, cwd=ROOT, capture_output=True)
    port, token = free_port(), secrets.token_hex(16)
    env = {**os.environ, "COURSE_WIDGETS": "1", "PYTHONPATH": str(ROOT),
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
           "JUPYTER_CONFIG_DIR": str(base / "config"), "JUPYTER_DATA_DIR": str(base / "data"),
           "JUPYTER_RUNTIME_DIR": str(base / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces")}
    env.pop("COURSE_QUIET", None)
    env.pop("COURSE_METRICS_FILE", None)
    # No news or update checks (no network here), no browser of its own, the app object exposed so
    # the tests can read cell outputs and the kernel's state.
    settings = base / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # Every cell stays in the page (no windowed rendering), so the page's text is the notebook's.
    tracker = base / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    log = base / "lab.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
             f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],  # CI runs as root
            cwd=root, env=env, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_url(f"{url}/api/status?token={token}", process, log)
        yield Lab(url, token, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
