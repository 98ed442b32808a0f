"""Batch runner: execute the course notebooks in order with papermill, then print a summary.

    python -m course_utils.run --profile workshop
    python -m course_utils.run --profile ci --notebooks '0[1-3]_*' -p clm_max_steps 20
    python -m course_utils.run --profile ci --prepare-only --notebook-dir solutions --output-dir build/nb-ci-solutions

Every run writes into a new ``runs/<timestamp>/`` folder (executed notebooks, the shared
workspace ``work/``, ``summary.json``) and never touches an earlier run. A failing notebook is
saved with its error cell; the exit status is non-zero when any notebook failed.
"""
from __future__ import annotations

import argparse
import ast
import fnmatch
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .profiles import BATCH_ENV, BATCH_OVERRIDES_ENV, PROFILE_NAMES, PROJECT_ROOT, profile_knobs
from .workspace import METRICS_ENV, timestamp

__all__ = [
    "NOTEBOOK_DIR",
    "PREPARED_MARKER",
    "ALWAYS_PASSED",
    "Result",
    "parse_value",
    "find_notebooks",
    "notebook_parameters",
    "absolute_sources",
    "RENAMED_PARAMETERS",
    "renamed_parameters",
    "split_parameters",
    "new_run_folder",
    "prepare_folder",
    "execute",
    "format_table",
    "write_summary",
    "main",
]

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
PREPARED_MARKER = ".prepared-by-course-utils"
ALWAYS_PASSED = ("profile", "output_dir")


@dataclass
class Result:
    notebook: str
    status: str  # ok | failed | not run | interrupted | prepared
    seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def parse_value(text: str) -> Any:
    """papermill-like typing of ``-p NAME VALUE``: numbers, booleans, None, lists, dicts, else the
    string. A tuple becomes a list: papermill writes a tuple into the notebook as its ``str``, which
    the notebook would read back as one string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    if isinstance(value, tuple):
        return list(value)
    return value if isinstance(value, (int, float, list, dict)) else text


def find_notebooks(pattern: str | None = None, directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """Course notebooks in course order (their names start with the two-digit step number)."""
    found = sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))
    if pattern:
        pats = [p if p.endswith(".ipynb") or "*" in p else p + "*" for p in pattern.split(",")]
        found = [p for p in found if any(fnmatch.fnmatch(p.name, pat) for pat in pats)]
    if not found:
        raise SystemExit(f"no notebook matches {pattern!r} in {directory}")
    return found


def notebook_parameters(path: Path) -> set[str]:
    """Names declared in the notebook's `parameters` cell."""
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def absolute_sources(params: dict[str, Any]) -> dict[str, Any]:
    """An asset parameter (``*_source``) naming a path that exists from here is made absolute.

    The kernels run inside the notebooks' folder, so ``-p qa_data_source ../shared/...`` typed at
    the project root would otherwise point somewhere else. Hub ids and ``bundled`` stay as they are.
    """
    out = dict(params)
    for name, value in params.items():
        if name.endswith("_source") and isinstance(value, str) and value and Path(value).exists():
            out[name] = str(Path(value).resolve())
    return out


# Old parameter names of the notebooks, kept working: one name per concept across both tracks now.
RENAMED_PARAMETERS = {"hub_repo_id": "hub_model_id", "resume": "resume_from_checkpoint"}


def renamed_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """`params` with old names replaced by their new ones, saying so once for each."""
    out = dict(params)
    for old, new in RENAMED_PARAMETERS.items():
        if old in out:
            if new in out:
                raise SystemExit(f"-p {old} and -p {new} name the same parameter: drop {old} (the old name)")
            print(f"note: the parameter {old!r} is now called {new!r}; please use -p {new}", file=sys.stderr)
            out[new] = out.pop(old)
    return out


def split_parameters(
    notebooks: Sequence[Path], params: dict[str, Any], shared: set[str] = frozenset()
) -> dict[Path, dict[str, Any]]:
    """Give each notebook only the parameters its `parameters` cell declares.

    A name that no selected notebook declares is a typo, not something to inject silently,
    unless it is in `shared` (profile knobs, which reach every notebook through the environment).
    """
    declared = {nb: notebook_parameters(nb) for nb in notebooks}
    for nb, names in declared.items():
        missing = [n for n in ALWAYS_PASSED if n not in names]
        if missing:
            raise SystemExit(f"{nb.name}: parameters cell lacks {', '.join(missing)}")
    everything = set().union(*declared.values())
    unknown = sorted(set(params) - everything - set(shared))
    if unknown:
        raise SystemExit(
            f"unknown parameter(s) {', '.join(unknown)}: no selected notebook declares them. "
            f"Known: {', '.join(sorted(everything))}"
        )
    return {nb: {k: v for k, v in params.items() if k in names} for nb, names in declared.items()}


def new_run_folder(base: Path) -> Path:
    """A fresh runs/<timestamp> folder: an earlier run is never overwritten."""
    base.mkdir(parents=True, exist_ok=True)
    while True:
        path = base / timestamp()
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def prepare_folder(path: Path) -> None:
    """Prepared (parameter-injected, unexecuted) copies may be regenerated, nothing else."""
    if path.exists() and any(path.iterdir()):
        if not (path / PREPARED_MARKER).exists():
            raise SystemExit(
                f"{path} exists and was not made by --prepare-only: refusing to overwrite it"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / PREPARED_MARKER).write_text("made by python -m course_utils.run --prepare-only\n")


def kernel_config(socket_dir: Path | None = None) -> Any:
    """The kernel talks to the runner over local sockets (IPC) where the OS has them: over TCP,
    ipykernel 7.4 warns once per notebook that the traffic is unencrypted. Windows has no IPC
    transport, so there the kernel keeps TCP (and its warning).

    jupyter_client names IPC sockets ``<ip>-1`` ... ``<ip>-5`` after the first free numbers, with
    ``ip`` = "kernel-ipc" in the working directory by default: two runs started at once in one
    folder (two ``make course``, or the two tracks) picked the same sockets and one kernel never
    answered. Each kernel gets its sockets in ``socket_dir``, a folder of its own."""
    from traitlets.config import Config

    config = Config()
    if sys.platform != "win32":
        config.KernelManager.transport = "ipc"
        if socket_dir is not None:
            config.KernelManager.ip = str(socket_dir / "kernel")
    return config


def execute(
    notebook: Path, out: Path, parameters: dict[str, Any], metrics_file: Path, log_output: bool
) -> Result:
    """Run one notebook with papermill; the output notebook is saved even when a cell fails."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    os.environ[METRICS_ENV] = str(metrics_file)
    start = time.perf_counter()
    sockets = Path(tempfile.mkdtemp(prefix="course-kernel-"))  # short: a socket path has ~100 bytes
    try:
        papermill.execute_notebook(
            str(notebook),
            str(out),
            parameters=parameters,
            cwd=str(notebook.parent),
            progress_bar=False,
            log_output=log_output,
            kernel_name="python3",
            config=kernel_config(sockets),
        )
        status, error = "ok", ""
    except PapermillExecutionError as exc:
        # Ctrl-C in a terminal reaches the kernel too: its cell then dies of KeyboardInterrupt.
        status = "interrupted" if exc.ename == "KeyboardInterrupt" else "failed"
        error = f"{exc.ename}: {exc.evalue}"[:500]
    finally:
        os.environ.pop(METRICS_ENV, None)
        shutil.rmtree(sockets, ignore_errors=True)
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return Result(notebook.name, status, round(time.perf_counter() - start, 1), metrics, error)


def format_table(results: Sequence[Result]) -> str:
    rows = [("notebook", "status", "seconds", "key metrics")]
    for r in results:
        metric_text = ", ".join(f"{k}={v}" for k, v in r.metrics.items())
        rows.append((r.notebook, r.status, f"{r.seconds:.1f}", metric_text or r.error[:60]))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(row))
        for row in rows
    ]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    """What ran the notebooks (CPU, cores, GPU, library versions), for the summary and the book.

    Read without importing torch: the names come from /proc, ``nvidia-smi`` and package metadata.
    """
    import platform
    import subprocess
    from importlib import metadata

    from .precision import cpu_model

    info: dict[str, Any] = {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version()}
    if shutil.which("nvidia-smi"):
        try:
            gpus = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                  capture_output=True, text=True, timeout=10).stdout.split("\n")
            info["gpu"] = ", ".join(g.strip() for g in gpus if g.strip()) or None
        except (OSError, subprocess.SubprocessError):
            pass
    for package in ("torch", "transformers", "datasets", "accelerate"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return info


def write_summary(folder: Path, profile: str, params: dict[str, Any], results: list[Result]) -> Path:
    path = folder / "summary.json"
    payload = {
        "profile": profile,
        "machine": machine_info(),
        "parameters": params,
        "finished": all(r.status == "ok" for r in results),
        "notebooks": [asdict(r) for r in results],
    }
    path.write_text(json.dumps(payload, indent=1, default=str))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="workshop", choices=PROFILE_NAMES)
    parser.add_argument("--notebooks", default=None, help="glob(s), comma-separated, e.g. '0[6-9]_*'")
    parser.add_argument("--output-dir", default=None,
                        help="run folder (default: a new runs/<timestamp>/); must not exist yet")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="notebook parameter, as papermill's -p")
    parser.add_argument("--keep-going", action="store_true",
                        help="run the remaining notebooks after a failure")
    parser.add_argument("--prepare-only", action="store_true",
                        help="only inject parameters (for nbval); nothing is executed")
    parser.add_argument("--assets", default=None,
                        help="a folder made by `python -m course_utils.prepare prepare`: every "
                             "asset is loaded from it (offline workshops)")
    parser.add_argument("--notebook-dir", default=str(NOTEBOOK_DIR), help=argparse.SUPPRESS)
    parser.add_argument("--log-output", action="store_true", help="stream cell output")
    parser.add_argument("--tracks-in-parallel", action="store_true",
                        help="run the CLM and QA notebooks side by side, each track in order in a "
                             "process of its own with half the cores (make test's ci run); not for "
                             "timed runs: the two tracks share the machine")
    args = parser.parse_args(argv)

    # The kernel papermill starts is "python3" -> `python` on PATH: make it this interpreter.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    if args.profile == "ci":
        os.environ["COURSE_QUIET"] = "1"

    notebooks = find_notebooks(args.notebooks, Path(args.notebook_dir))
    user_params = renamed_parameters(absolute_sources({name: parse_value(value) for name, value in args.parameter}))
    for reserved in ALWAYS_PASSED:
        if reserved in user_params:
            raise SystemExit(f"use --{reserved.replace('_', '-')} instead of -p {reserved}")

    if args.assets:
        from .assets import prepared_sources

        declared = set().union(*(notebook_parameters(nb) for nb in notebooks))
        for name, path in prepared_sources(args.assets).items():
            if name in declared or name in profile_knobs():  # a knob (clm_galleries) reaches every notebook
                user_params.setdefault(name, path)
    # Profile knobs also go to every kernel through the environment (not with --prepare-only:
    # nothing executes here, so only what the notebooks declare can be injected).
    shared = set() if args.prepare_only else {k for k in user_params if k in profile_knobs()}
    per_notebook = split_parameters(notebooks, user_params, shared)
    if args.prepare_only:
        folder = Path(args.output_dir or PROJECT_ROOT / "build" / f"nb-{args.profile}").resolve()
        prepare_folder(folder)
    elif args.output_dir:
        folder = Path(args.output_dir).resolve()
        if folder.exists() and any(folder.iterdir()):
            raise SystemExit(f"{folder} already holds a run: choose a new --output-dir")
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = new_run_folder(PROJECT_ROOT / "runs")
    work = folder / "work"
    base = {"profile": args.profile, "output_dir": str(work)}

    if args.prepare_only:
        import papermill

        for nb in notebooks:
            papermill.execute_notebook(str(nb), str(folder / nb.name),
                                       parameters={**base, **per_notebook[nb]}, prepare_only=True,
                                       progress_bar=False)
        print(f"prepared {len(notebooks)} notebook(s) with profile={args.profile} in {folder}")
        return 0

    (folder / "metrics").mkdir()
    os.environ[BATCH_OVERRIDES_ENV] = json.dumps({k: user_params[k] for k in shared})
    os.environ[BATCH_ENV] = "1"  # the kernels: nobody watches, so no progress bars (profiles.quiet)
    try:
        return _run_all(args, notebooks, folder, base, per_notebook, user_params)
    finally:
        for name in (BATCH_OVERRIDES_ENV, BATCH_ENV):  # the kernels had them; this process keeps nothing
            os.environ.pop(name, None)


def tracks(notebooks: Sequence[Path]) -> list[list[Path]]:
    """The notebooks grouped by track, the word after the step number (``03_clm_...``: clm), each
    group in course order. A track's notebooks hand over to each other through the workspace
    (03 trains the model 04 loads); two tracks share nothing but the machine."""
    groups: dict[str, list[Path]] = {}
    for nb in notebooks:
        parts = nb.stem.split("_")
        groups.setdefault(parts[1] if len(parts) > 1 else nb.stem, []).append(nb)
    return list(groups.values())


def _run_chain(chain: Sequence[Path], results: list[Result], numbers: dict[Path, int], total: int,
               folder: Path, base: dict[str, Any], per_notebook: dict[Path, dict[str, Any]],
               keep_going: bool, log_output: bool) -> list[Result]:
    """Execute ``chain`` in order, appending to ``results``: after a failure the rest is `not run`
    (unless ``keep_going``), after an interrupted notebook always."""
    for i, nb in enumerate(chain):
        last = results[-1].status if results else "ok"
        if last == "interrupted" or (last == "failed" and not keep_going):
            results.extend(Result(n.name, "not run") for n in chain[i:])
            break
        print(f"[{numbers[nb]}/{total}] {nb.name} ...", flush=True)
        result = execute(nb, folder / nb.name, {**base, **per_notebook[nb]},
                         folder / "metrics" / f"{nb.stem}.json", log_output)
        results.append(result)
        print(f"    {nb.name}: {result.status} in {result.seconds:.1f} s {result.error}", flush=True)
    return results


def _run_track(chain: list[Path], numbers: dict[Path, int], total: int, folder: Path, base: dict[str, Any],
               per_notebook: dict[Path, dict[str, Any]], keep_going: bool, log_output: bool,
               threads: int) -> list[Result]:
    """One track in a process of its own (--tracks-in-parallel). Its kernels get ``threads`` math
    threads unless OMP_NUM_THREADS is set: two tracks each spinning on all cores run slower
    together than one after the other (ci notebooks on 2 cores: 188 s against 136 s)."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    results: list[Result] = []
    try:
        _run_chain(chain, results, numbers, total, folder, base, per_notebook, keep_going, log_output)
    except KeyboardInterrupt:  # Ctrl-C reaches every process of the terminal: report what finished
        pass
    return results


def _run_all(args: argparse.Namespace, notebooks: Sequence[Path], folder: Path, base: dict[str, Any],
             per_notebook: dict[Path, dict[str, Any]], user_params: dict[str, Any]) -> int:
    results: list[Result] = []
    numbers = {nb: i + 1 for i, nb in enumerate(notebooks)}
    chains = tracks(notebooks) if args.tracks_in_parallel else [list(notebooks)]
    side_by_side = f", {len(chains)} tracks side by side" if len(chains) > 1 else ""
    print(f"running {len(notebooks)} notebook(s), profile={args.profile}{side_by_side}, into {folder}", flush=True)
    try:
        if len(chains) == 1:
            _run_chain(chains[0], results, numbers, len(notebooks), folder, base, per_notebook,
                       args.keep_going, args.log_output)
        else:
            results = _run_side_by_side(chains, numbers, folder, base, per_notebook, args)
    except KeyboardInterrupt as stop:
        results = getattr(stop, "results", results)
        done = {r.notebook for r in results}
        results.extend(Result(n.name, "interrupted") for n in notebooks if n.name not in done)
        write_summary(folder, args.profile, user_params, results)
        print("\ninterrupted: summary of what finished written to", folder / "summary.json")
        print(format_table(results))
        return 130
    summary = write_summary(folder, args.profile, user_params, results)
    print()
    print(format_table(results))
    print(f"\nsummary: {summary}")
    return 0 if all(r.status == "ok" for r in results) else 1


def _run_side_by_side(chains: list[list[Path]], numbers: dict[Path, int], folder: Path, base: dict[str, Any],
                      per_notebook: dict[Path, dict[str, Any]], args: argparse.Namespace) -> list[Result]:
    """Each track in its own process; the results in course order. A failure stops its own track
    only. After Ctrl-C, what each track finished, the rest `interrupted`."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    threads = max(1, (os.cpu_count() or 1) // len(chains))
    order = {nb.name: numbers[nb] for nb in numbers}
    with ProcessPoolExecutor(len(chains), mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(_run_track, chain, numbers, len(numbers), folder, base,
                               {nb: per_notebook[nb] for nb in chain}, args.keep_going, args.log_output,
                               threads) for chain in chains]
        try:
            parts = [f.result() for f in futures]
        except KeyboardInterrupt:
            parts = [f.result() for f in futures]  # the tracks stop at the same Ctrl-C and report
            finished = [r for part in parts for r in part]
            done = {r.notebook for r in finished}
            finished += [Result(nb.name, "interrupted") for nb in numbers if nb.name not in done]
            raise _Interrupted(sorted(finished, key=lambda r: order[r.notebook])) from None
    return sorted((r for part in parts for r in part), key=lambda r: order[r.notebook])


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C during a side-by-side run, carrying what the tracks finished."""

    def __init__(self, results: list[Result]) -> None:
        super().__init__()
        self.results = results


if __name__ == "__main__":
    sys.exit(main())
