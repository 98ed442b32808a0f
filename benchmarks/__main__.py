"""python -m benchmarks [--quick] [--out DIR] [--only NAME,...]

Runs each benchmark (ours against the course's way, same process, same input), writes one JSON
per benchmark into a new ``<out>/bench-<timestamp>/`` folder (default ``runs/``; an earlier
folder is never overwritten) and prints one table. Heavy: run it under the CPU lock on a shared
machine, ``flock /tmp/cpu.lock python -m benchmarks --quick``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

from course_utils.profiles import PROJECT_ROOT, configure_environment


def new_bench_dir(base: Path) -> Path:
    """``base/bench-<timestamp>``, created fresh (a clash gets the next free suffix)."""
    from course_utils.workspace import timestamp

    base.mkdir(parents=True, exist_ok=True)
    while True:
        path = base / f"bench-{timestamp()}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def _fmt_s(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def _fmt_ratio(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _fmt_identical(value: Any) -> str:
    return {True: "yes", False: "NO", None: "-"}.get(value, str(value))


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """One line per result: name, the two times, ratio, identical, and its headline figures."""
    header = ("benchmark", "reference_s", "ours_s", "ratio", "identical", "figures")
    lines = [header]
    for r in rows:
        if r.get("skipped"):
            lines.append((r["name"], "-", "-", "-", "-", f"skipped: {r['skipped']}"))
        elif r.get("error"):
            lines.append((r["name"], "-", "-", "-", "-", f"ERROR: {r['error']}"))
        else:
            lines.append((r["name"], _fmt_s(r.get("reference_s")), _fmt_s(r.get("ours_s")),
                          _fmt_ratio(r.get("ratio")), _fmt_identical(r.get("identical")),
                          r.get("note", "")))
    widths = [max(len(str(line[i])) for line in lines) for i in range(5)]
    out = []
    for line in lines:
        cells = [str(c).ljust(widths[i]) if i < 5 else str(c) for i, c in enumerate(line)]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "-" * min(140, max(len(x) for x in out)))
    return "\n".join(out)


def machine_line(machine: dict[str, Any]) -> str:
    """The machine in one line, for the table's head: CPU model, its bf16-relevant flags, cores,
    and the matmul peaks MFU is measured against."""
    flags = machine.get("cpu_flags") or {}
    named = ", ".join(f"{'' if on else 'no '}{label}" for key, label in (("amx", "AMX"), ("avx512_bf16", "AVX-512 BF16"),
                                                                       ("avx2", "AVX2")) if (on := flags.get(key)) is not None)
    peaks = machine.get("matmul_peak_gflops") or {}
    peak = "; ".join(f"{k} matmul peak {v['best']:.0f} GFLOP/s (median {v['median']:.0f}, spread {v['spread']:.2f}x)"
                     for k, v in peaks.items())
    return (f"{machine.get('cpu_model', 'unknown CPU')} ({named or 'flags unknown'}), {machine.get('cpu_affinity')} cores, "
            f"torch {machine.get('torch')} {machine.get('torch_threads')} threads, load {machine.get('load_avg_1min')}"
            + (f"; {peak}" if peak else ""))


def run_one(module_name: str, quick: bool) -> list[dict[str, Any]]:
    """Run one benchmark module; a skip or a crash becomes a row instead of stopping the others."""
    from . import Skipped

    start = time.perf_counter()
    try:
        module = importlib.import_module(f"benchmarks.{module_name}")
        out = module.run(quick=quick)
        rows = out if isinstance(out, list) else [out]
    except Skipped as exc:
        rows = [{"name": module_name, "skipped": str(exc)}]
    except Exception as exc:  # a benchmark bug must not hide the other results
        rows = [{"name": module_name, "error": f"{type(exc).__name__}: {exc}"[:300],
                 "traceback": traceback.format_exc()}]
    wall = round(time.perf_counter() - start, 2)
    for row in rows:
        row.setdefault("benchmark_module", module_name)
        row.setdefault("wall_s", wall)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from . import BENCHMARKS

    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (< 2 min)")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "runs"),
                        help="folder in which a new bench-<timestamp>/ is created (default: runs/)")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated benchmark names: {', '.join(BENCHMARKS)}")
    args = parser.parse_args(argv)

    selected = list(BENCHMARKS)
    if args.only:
        selected = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in selected if n not in BENCHMARKS]
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")

    # Before any Hugging Face import: never wait on the network; no progress bars in the table.
    os.environ["COURSE_QUIET"] = "1"
    configure_environment(offline=True)
    from . import machine_info

    folder = new_bench_dir(Path(args.out))
    machine = machine_info()
    print(f"benchmarks -> {folder}  ({'quick' if args.quick else 'full'}; "
          f"{machine['cpu_count']} CPUs, torch threads {machine.get('torch_threads')})\n  {machine_line(machine)}", flush=True)
    rows: list[dict[str, Any]] = []
    total = time.perf_counter()
    for name in selected:
        print(f"  {name} ...", flush=True)
        for row in run_one(name, args.quick):
            row["quick"] = args.quick
            row["machine"] = machine
            rows.append(row)
            path = folder / f"{row['name']}.json"
            path.write_text(json.dumps(row, indent=1, default=str))
            status = row.get("skipped") and "skipped" or row.get("error") and "ERROR" or "done"
            print(f"    {row['name']}: {status} ({row['wall_s']} s)", flush=True)
    table = machine_line(machine) + "\n\n" + format_table(rows)
    summary = {"quick": args.quick, "machine": machine, "total_s": round(time.perf_counter() - total, 1),
               "results": [r["name"] for r in rows], "table": table}
    (folder / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    (folder / "table.txt").write_text(table + "\n")
    print()
    print(table)
    print(f"\n{len(rows)} result(s) in {summary['total_s']} s -> {folder}")
    return 1 if any(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
