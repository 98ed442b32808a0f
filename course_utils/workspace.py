"""Folders that hand artefacts from one notebook to the next, never overwriting a learner's work.

A *workspace* (the notebooks' ``output_dir``) holds one folder per artefact kind
(``clm-tokenizer``, ``clm-trainer``, ``qa-trainer`` ...). Each training run writes into a new,
time-stamped folder inside it; later notebooks load the newest complete one.
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from . import platforms
from .profiles import PROJECT_ROOT

__all__ = [
    "COMPLETE_MARKER",
    "default_workspace",
    "workspace",
    "shown_path",
    "timestamp",
    "new_run_dir",
    "mark_complete",
    "latest_complete",
    "METRICS_ENV",
    "record_metrics",
    "unfinished_run",
    "run_folder",
]

COMPLETE_MARKER = "COMPLETE"


def default_workspace(profile_name: str) -> Path:
    """``runs/workspace-<profile>`` under the project: one shared hand-over folder per profile
    (on Colab a folder on Google Drive when mounted, on Kaggle ``/kaggle/working``: see platforms)."""
    hosted = platforms.hosted_workspace(profile_name)
    return hosted if hosted is not None else PROJECT_ROOT / "runs" / f"workspace-{profile_name}"


def workspace(output_dir: str | os.PathLike | None, profile_name: str) -> Path:
    """The notebooks' ``output_dir`` parameter, defaulted and created."""
    path = Path(output_dir) if output_dir else default_workspace(profile_name)
    path.mkdir(parents=True, exist_ok=True)
    return path


def shown_path(path: str | os.PathLike) -> str:
    """A path as a notebook prints it: relative to the project (``runs/workspace-ci/clm-tokenizer/...``).

    Outputs are read by others (a saved run, the book): the absolute form names the machine and
    the person who ran it and says nothing more. Outside the project, the home folder becomes
    ``~``; any other place (Google Drive on Colab, ``/kaggle/working``) is shown as it is, and so
    is anything that is not an absolute path (a relative folder, a Hub id).
    """
    full = Path(path).expanduser()
    if not full.is_absolute():
        return str(path)
    full = full.resolve()
    for base, prefix in ((PROJECT_ROOT, ""), (Path.home().resolve(), "~/")):
        try:
            return prefix + full.relative_to(base).as_posix()
        except ValueError:
            continue
    return str(full)


def timestamp() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")


def new_run_dir(base: str | os.PathLike, name: str) -> Path:
    """A fresh ``base/name/<timestamp>`` folder; never reuses an existing one."""
    parent = Path(base) / name
    parent.mkdir(parents=True, exist_ok=True)
    while True:
        path = parent / timestamp()
        try:
            path.mkdir()
            return path
        except FileExistsError:  # two calls within the same microsecond
            continue


def mark_complete(path: str | os.PathLike) -> None:
    """Written last, so a run killed half-way is never mistaken for a finished one."""
    Path(path, COMPLETE_MARKER).write_text(timestamp() + "\n")


def latest_complete(base: str | os.PathLike, name: str) -> Path | None:
    """The newest finished run of artefact `name`, or None."""
    parent = Path(base) / name
    if not parent.is_dir():
        return None
    done = sorted(p for p in parent.iterdir() if (p / COMPLETE_MARKER).exists())
    return done[-1] if done else None


METRICS_ENV = "COURSE_METRICS_FILE"


def record_metrics(**metrics: float | int | str) -> dict:
    """Report a notebook's key numbers (perplexity, EM/F1, seconds) to the batch runner.

    `python -m course_utils.run` points ``COURSE_METRICS_FILE`` at a per-notebook JSON file and
    puts these numbers in its summary table; run by hand, this only returns them.
    """
    import json

    target = os.environ.get(METRICS_ENV)
    clean = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()}
    if target:
        path = Path(target)
        old = json.loads(path.read_text()) if path.exists() else {}
        old.update(clean)
        path.write_text(json.dumps(old, indent=1))
    return clean


def unfinished_run(base: str | os.PathLike, name: str) -> Path | None:
    """The run a resume continues: the newest run of `name`, if it is not finished; else None.

    Never a finished run (that would train on inside a learner's finished model and overwrite
    it), and never an older abandoned run behind a newer finished one.
    """
    parent = Path(base) / name
    runs = sorted(p for p in parent.iterdir() if p.is_dir()) if parent.is_dir() else []
    if not runs or (runs[-1] / COMPLETE_MARKER).exists():
        return None
    return runs[-1]


def run_folder(base: str | os.PathLike, name: str, resume: bool = False) -> Path:
    """The folder a training run writes into, for every training notebook and script.

    ``resume=True``: the newest run of `name` when it is unfinished (:func:`unfinished_run`);
    otherwise, and when there is none, a new time-stamped folder (:func:`new_run_dir`).
    """
    if resume:
        previous = unfinished_run(base, name)
        if previous is not None:
            return previous
        print(f"resume asked, but the newest {name} run is finished or there is none: starting a new run")
    return new_run_dir(base, name)
