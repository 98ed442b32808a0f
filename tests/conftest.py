"""Shared test fixtures."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CI_RUN = Path(os.environ.get("COURSE_SCAN_RUN", ROOT / "build" / "run-ci"))
MAKE_IT = "make test does (python -m course_utils.run --profile ci --keep-going --output-dir build/run-ci)"

# Tests never touch the network: the same switches the offline profiles set.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HOME", str(ROOT / ".cache" / "huggingface"))
# mixed_precision="auto" on a CPU probes the machine and caches the decision: never in the user's
# ~/.cache from a test run (set before any test imports course_utils; subprocesses inherit it).
_PRECISION_DIR = tempfile.mkdtemp(prefix="course-tests-precision-")
atexit.register(shutil.rmtree, _PRECISION_DIR, ignore_errors=True)
os.environ["COURSE_PRECISION_CACHE"] = str(Path(_PRECISION_DIR) / "precision.json")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: the real SQuAD files are for evaluation and tests only."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


def _newest_source() -> Path:
    sources = [*NOTEBOOKS, *(ROOT / "course_utils").rglob("*.py")]
    return max(sources, key=lambda p: p.stat().st_mtime)


@pytest.fixture(scope="session")
def ci_run() -> Path:
    """The ci run that `make test` executes into build/run-ci before pytest (every notebook, saved
    as a reader sees it), or a skip that says how to make it. Under CI=true a missing or stale run
    fails: the output scan and the checked cells must not pass by skipping there."""
    summary = CI_RUN / "summary.json"
    problem = None
    if not summary.exists():
        problem = f"{CI_RUN} holds no executed run: {MAKE_IT}"
    elif "COURSE_SCAN_RUN" not in os.environ:
        newest = _newest_source()
        if newest.stat().st_mtime > summary.stat().st_mtime:
            problem = f"{CI_RUN} is older than {newest.relative_to(ROOT)}: run it again ({MAKE_IT})"
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(problem)
        pytest.skip(problem)
    return CI_RUN


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """With pytest-xdist's ``--dist loadfile`` (make test), the solution notebooks run on one
    worker, in course order: they share one workspace (build/nb-ci-solutions/work), whose corpus
    and tokenizer the first builds and the next reuse, never two at once."""
    if config.getoption("dist", None) != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SolutionsTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "nb-ci-solutions" if "nb-ci-solutions/" in path else super()._split_scope(nodeid)

    return SolutionsTogether(config, log)
