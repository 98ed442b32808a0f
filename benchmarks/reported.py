"""6. Learning quality at the workshop profile and 7. CI cost: read, never trained here.

Training the workshop models takes tens of minutes, so this benchmark does not train. It reads
what the batch runner already measured: the newest ``runs/*/summary.json`` written by
``python -m course_utils.run`` (per notebook: status, seconds and the key metrics the notebook
recorded, e.g. perplexity or EM/F1), and a CI timing file when the lead wrote one
(any ``runs/**/*timing*.json`` outside our own ``bench-*`` folders: a JSON object of timings,
e.g. ``runs/ci-timing.json`` with the wall time of ``make test`` per part).
Each row says which file its numbers came from and when that file was written.
"""
from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

from course_utils.profiles import PROJECT_ROOT

from . import Skipped, result

NAME = "reported"
TIMING_PATTERN = "*timing*.json"


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def runner_summaries(runs: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every ``summary.json`` of the batch runner under `runs` (newest first); our own bench
    summaries, which have no ``notebooks`` list, are ignored."""
    found = []
    for path in runs.glob("*/summary.json"):
        data = _load(path)
        if data and isinstance(data.get("notebooks"), list) and "profile" in data:
            found.append((path, data))
    found.sort(key=lambda item: (item[0].stat().st_mtime, str(item[0])), reverse=True)
    return found


def _when(path: Path) -> str:
    return _dt.datetime.fromtimestamp(path.stat().st_mtime).astimezone().isoformat(timespec="seconds")


def _notebook_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"notebook": nb.get("notebook"), "status": nb.get("status"), "seconds": nb.get("seconds"),
             "metrics": nb.get("metrics", {})} for nb in summary["notebooks"]]


def learning_quality(runs: Path) -> dict[str, Any]:
    summaries = [(p, s) for p, s in runner_summaries(runs) if s.get("profile") == "workshop"]
    if not summaries:
        raise Skipped(f"no runs/*/summary.json of `python -m course_utils.run --profile workshop` under {runs}")
    # Prefer the newest run that finished; else the newest at all (and say it did not finish).
    finished = [(p, s) for p, s in summaries if s.get("finished")]
    path, summary = (finished or summaries)[0]
    notebooks = _notebook_rows(summary)
    metrics = {nb["notebook"]: nb["metrics"] for nb in notebooks if nb["metrics"]}
    total = sum(nb["seconds"] or 0 for nb in notebooks)
    headline = []
    for nb, values in metrics.items():
        for key, value in values.items():
            if any(word in key for word in ("perplexity", "exact_match", "f1", "em", "seconds")):
                headline.append(f"{nb.split('_')[0]} {key}={value}")
    return result(
        "learning_quality",
        {"profile": "workshop", "source": str(path), "written": _when(path), "finished": summary.get("finished"),
         "parameters": summary.get("parameters")},
        None, None, None,
        notebooks=notebooks,
        total_notebook_s=round(total, 1),
        note=(f"from {path.relative_to(runs.parent) if runs.parent in path.parents else path}"
              f" ({'finished' if summary.get('finished') else 'NOT finished'}); "
              f"{len(notebooks)} notebooks {total:.0f}s; " + ", ".join(headline[:8])),
    )


def ci_cost(runs: Path) -> dict[str, Any]:
    timing_files = sorted((p for p in runs.rglob(TIMING_PATTERN)
                           if not any(part.startswith("bench-") for part in p.relative_to(runs).parts)),
                          key=lambda p: p.stat().st_mtime, reverse=True)
    ci_runs = [(p, s) for p, s in runner_summaries(runs) if s.get("profile") == "ci"]
    if not timing_files and not ci_runs:
        raise Skipped(f"no CI timing file ({TIMING_PATTERN}) and no ci-profile runner summary under {runs}")
    figures: dict[str, Any] = {}
    notes = []
    sources = []
    if timing_files:
        path = timing_files[0]
        figures["timing_file"] = _load(path)
        sources.append({"source": str(path), "written": _when(path)})
        notes.append(f"timing file {path.name}")
    if ci_runs:
        path, summary = ci_runs[0]
        notebooks = _notebook_rows(summary)
        total = sum(nb["seconds"] or 0 for nb in notebooks)
        slowest = max(notebooks, key=lambda nb: nb["seconds"] or 0) if notebooks else None
        figures["ci_notebooks"] = notebooks
        figures["ci_notebooks_total_s"] = round(total, 1)
        sources.append({"source": str(path), "written": _when(path), "finished": summary.get("finished")})
        notes.append(f"ci notebooks {total:.0f}s in all"
                     + (f", slowest {slowest['notebook']} {slowest['seconds']}s" if slowest else "")
                     + f" ({path.parent.name})")
    return result("ci_cost", {"sources": sources}, None, None, None, **figures, note="; ".join(notes))


def run(quick: bool = False, tiny: bool = False, runs: Path | None = None) -> list[dict[str, Any]]:
    runs = Path(runs) if runs is not None else PROJECT_ROOT / "runs"
    rows = []
    for fn, name in ((learning_quality, "learning_quality"), (ci_cost, "ci_cost")):
        try:
            rows.append(fn(runs))
        except Skipped as exc:
            rows.append({"name": name, "skipped": str(exc)})
    return rows
