"""Benchmarks: our helpers against the course's own code, in the same process, on the same input.

Run them with ``python -m benchmarks [--quick] [--out DIR] [--only NAME,...]`` (or ``make bench``).
Each benchmark module exposes ``NAME`` and ``run(quick: bool = False, tiny: bool = False) -> dict``
and returns a result made by `result(...)`: the time of the course's way (``reference_s``), of ours
(``ours_s``), their ``ratio`` (reference / ours: above 1 means ours is faster), whether both gave
the same output (``identical``), plus its own figures. A benchmark whose inputs are absent (shared
data, a GPU) raises `Skipped` with the reason, and the table says so; a helper it names that does
not exist is an error (`require_module`), never a skip.

``tiny=True`` is for the unit tests: a few records, one repeat, seconds of CPU. Timings measured
that way mean nothing; the tests only check that the harness runs and the outputs agree.

The course's plain code that a benchmark compares against is written in the benchmark's own file
under a ``# --- the course's code ---`` banner (or imported from the track's
``course_reference_*`` function where the track keeps one), so a reader can see exactly what the
"reference" is.
"""
from __future__ import annotations

import datetime as _dt
import gc
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable

from course_utils.profiles import PROJECT_ROOT

SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SQUAD_DIR = SHARED_DATA / "squad"

# Order of the table; module names inside this package.
BENCHMARKS: tuple[str, ...] = (
    "qa_postprocess",
    "qa_preprocess",
    "qa_padding",
    "qa_metric",
    "clm_chunking",
    "train_throughput",
    "precision_probe",
    "compile_step",
    "gpu_training",
    "reported",
)


class Skipped(Exception):
    """A benchmark cannot run here (its inputs are absent); the message says why."""


def best_of(fn: Callable[[], Any], repeat: int, warmup: int = 0) -> tuple[float, list[float], Any]:
    """Run `fn` ``warmup + repeat`` times; return (best seconds, all timed seconds, last output).

    Best-of-N rather than the mean: on a shared machine the noise only ever adds time, so the
    minimum is the closest to what the code itself costs.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), [round(t, 4) for t in times], out


def interleaved(fns: dict[str, Callable[[], Any]], repeats: int | dict[str, int],
                warmup: bool = True) -> dict[str, dict[str, Any]]:
    """Time several ways in alternating rounds (a, b, c, a, b, c ...), so that a burst of load
    from another process hurts all of them alike rather than whichever ran during it.

    `repeats` is one count for all or a count per name. Returns per name: ``best`` seconds, all
    ``times`` and the ``output`` of its last run. With `warmup` each runs once untimed first
    (caches, lazy imports, allocator).
    """
    counts = {k: (repeats[k] if isinstance(repeats, dict) else repeats) for k in fns}
    if any(n < 1 for n in counts.values()):
        raise ValueError(f"repeats must be >= 1, got {counts}")
    if warmup:
        for fn in fns.values():
            fn()
    stats: dict[str, dict[str, Any]] = {k: {"times": [], "output": None} for k in fns}
    for i in range(max(counts.values())):
        for key, fn in fns.items():
            if i >= counts[key]:
                continue
            gc.collect()
            start = time.perf_counter()
            stats[key]["output"] = fn()
            stats[key]["times"].append(time.perf_counter() - start)
    for s in stats.values():
        s["best"] = min(s["times"])
        s["times"] = [round(t, 4) for t in s["times"]]
    return stats


def best_of_pair(reference: Callable[[], Any], ours: Callable[[], Any], ref_repeat: int,
                 ours_repeat: int, warmup: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """`interleaved` for the usual two ways: returns (reference stats, ours stats)."""
    stats = interleaved({"reference": reference, "ours": ours},
                        {"reference": ref_repeat, "ours": ours_repeat}, warmup)
    return stats["reference"], stats["ours"]


def paired_ratios(reference_times: list[float], ours_times: list[float]) -> dict[str, float | int]:
    """Round-by-round reference / ours of interleaved timings, as median and spread: a short row
    (well under a second of work) moves by tens of percent between runs on a shared machine, so one
    ratio is noise; the median of paired rounds with its min and max says how far to trust it."""
    import statistics

    pairs = [r / o for r, o in zip(reference_times, ours_times) if o > 0]
    if not pairs:
        raise ValueError(f"no paired rounds to compare: {reference_times!r} vs {ours_times!r}")
    return {"ratio_median": round(statistics.median(pairs), 3), "ratio_min": round(min(pairs), 3),
            "ratio_max": round(max(pairs), 3), "rounds": len(pairs)}


def ratio(reference_s: float | None, ours_s: float | None) -> float | None:
    """reference / ours (how many times faster ours is); None when either is missing."""
    if not reference_s or not ours_s:
        return None
    return round(reference_s / ours_s, 3)


def machine_info(peaks: bool = True) -> dict[str, Any]:
    """What the numbers were measured on (they mean little without it): the CPU model and the flags
    that decide bf16 speed (AMX, AVX-512 BF16, AVX2), library versions, the load, and (`peaks`)
    the fp32 and bf16 matmul peaks measured now, which every MFU figure is relative to."""
    info: dict[str, Any] = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:  # pragma: no cover - torch is a hard dependency
        info["torch_threads"] = None
    for lib in ("transformers", "datasets", "accelerate", "evaluate", "tokenizers", "numpy"):
        try:
            info[lib] = __import__(lib).__version__
        except ImportError:  # pragma: no cover
            pass
    try:
        from course_utils.precision import cpu_flags

        info["cpu_flags"] = cpu_flags()
    except ImportError:  # pragma: no cover - torch is a hard dependency
        info["cpu_flags"] = None
    if peaks:
        from ._inputs import matmul_peaks

        info["matmul_peak_gflops"] = matmul_peaks()
    try:
        info["load_avg_1min"] = round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        pass
    return info


def _cpu_model() -> str:
    from course_utils.precision import cpu_model

    return cpu_model()


REQUIRED_KEYS = ("name", "settings", "reference_s", "ours_s", "ratio", "identical")


def result(
    name: str,
    settings: dict[str, Any],
    reference_s: float | None,
    ours_s: float | None,
    identical: bool | None,
    **figures: Any,
) -> dict[str, Any]:
    """One benchmark's record (what goes into its JSON file)."""
    return {
        "name": name,
        "settings": settings,
        "reference_s": None if reference_s is None else round(reference_s, 4),
        "ours_s": None if ours_s is None else round(ours_s, 4),
        "ratio": ratio(reference_s, ours_s),
        "identical": identical,
        **figures,
    }


def require_module(dotted: str, *names: str):
    """Import a course_utils module and check it has `names`. Every module has landed, so a missing
    one or a missing name is a bug (a renamed helper), raised as ImportError, never a skip: a
    benchmark that skipped for that reason once hid two QA benchmarks for a week."""
    import importlib

    module = importlib.import_module(dotted)
    missing = [n for n in names if not hasattr(module, n)]
    if missing:
        raise ImportError(f"{dotted} has no {', '.join(missing)}: the benchmark names a helper that was renamed or removed")
    return module


def require_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise Skipped(f"{what} absent ({path})")
    return path
