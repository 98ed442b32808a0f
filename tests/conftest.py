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
