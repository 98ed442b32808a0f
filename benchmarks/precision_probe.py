"""8. The precision probe itself: how long ``mixed_precision="auto"`` takes to decide on a CPU, and
what it decides.

``course_utils.precision.probe_cpu_precision`` (the measurement behind ``"auto"`` on a CPU, run
once per machine and then cached) is timed here on the workshop models' matrix shapes, `repeats`
times in one process: the first call pays torch's one-off start-up (thread pool, autograd engine,
oneDNN kernel selection) that any training in the same process pays anyway; the later calls are
the probe's own cost. Rows: the median seconds of the later calls with their spread, the first
call's seconds, the choice and the GFLOP/s it measured (median per mode), and whether every call
chose the same. ``reference_s`` is the first call (cold), ``ours_s`` the warm median: the ratio says
how much of the first call was start-up.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

from . import require_module, result

NAME = "precision_probe"


def run(quick: bool = False, tiny: bool = False) -> dict[str, Any]:
    precision = require_module("course_utils.precision", "probe_cpu_precision", "DEFAULT_SHAPES")
    shapes = ((16, 32), (32, 16)) if tiny else precision.DEFAULT_SHAPES
    repeats = 2 if tiny else 4 if quick else 8
    seconds, results = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        results.append(precision.probe_cpu_precision(shapes))
        seconds.append(time.perf_counter() - t0)
    warm = seconds[1:]
    choices = [r.choice for r in results]
    gflops = {m: round(statistics.median(r.gflops[m] for r in results[1:]), 1) for m in results[0].gflops}
    median = statistics.median(warm)
    return result(
        "precision_probe", {"shapes": [list(s) for s in shapes], "probe_tokens": precision.PROBE_TOKENS,
                            "probe_repeats": precision.PROBE_REPEATS, "calls": repeats,
                            "min_speedup": precision.MIN_SPEEDUP},
        seconds[0], median, len(set(choices)) == 1,
        unit="seconds per probe (reference = the first call of the process, ours = median of the others)",
        seconds_each=[round(s, 3) for s in seconds], warm_spread=round(max(warm) / min(warm), 2),
        choice=choices[-1], choices=choices, gflops_median=gflops,
        bf16_over_fp32=round(gflops["bf16"] / gflops["no"], 2) if gflops.get("no") else None,
        spread_per_call=[r.spread for r in results],
        note=(f"chose {'bf16 autocast' if choices[-1] == 'bf16' else 'fp32'} ({', '.join(sorted(set(choices)))} over "
              f"{repeats} calls): fp32 {gflops['no']:.0f}, bf16 {gflops['bf16']:.0f} GFLOP/s; probe {median:.2f} s "
              f"(median, spread {max(warm) / min(warm):.2f}x), first call {seconds[0]:.2f} s"),
    )
