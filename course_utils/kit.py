"""The workshop kit: a wheelhouse for every laptop's platform, checksums, and the check before the day.

A room without internet loses its first hour to ``pip install`` (the CPU torch wheel alone is
~200 MB). A teacher with internet writes everything onto one folder (a USB stick):

* ``wheels/``: every wheel that ``requirements.txt`` + ``constraints.txt`` resolve to, at the exact
  pinned versions, for each platform asked for (Linux x86-64, macOS arm64, Windows x86-64), CPU
  torch on each; one flat folder, since pure-Python wheels serve every platform;
* ``manifest.json``: the sha256 and size of every file, which wheels each platform needs, and how
  long ``make course`` took where the kit was made.

Learners then install with ``pip install --no-index --find-links DIR/wheels ...``: no network, and
a wheel that is missing is pip's error naming the package, never a silent download.

Resolving for another platform: ``pip download --platform`` picks wheels for the target but still
evaluates the dependencies' environment markers (``sys_platform == "win32"``) on the machine it runs
on (pip issues #4304, #6117): from Linux it would follow torch's CUDA dependencies into a macOS
resolve and leave Windows without ``colorama``. So pip runs here with the target's marker
environment (:data:`PLATFORMS`), and the rest is plain pip: a dry run with ``--report`` (which
files, their sha256 and size, said before the kit is written), then ``pip download --no-deps`` of
exactly those files with their hashes pinned.

This module needs nothing beyond the standard library, so ``check`` runs on a fresh machine's
Python before any package is installed.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform as _stdlib_platform
import re
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .precision import cpu_model  # one reader of the CPU's name (stdlib only at import)

__all__ = [
    "KitError", "Platform", "PLATFORMS", "Wheel", "KitReport", "MANIFEST", "WHEELS_DIR",
    "this_platform", "resolve_wheels", "plan_sizes", "download_wheels", "file_checksums",
    "latest_course_seconds", "made_on", "wheels_manifest", "check_kit", "format_size",
]

MANIFEST = "manifest.json"  # the same file as assets.MANIFEST: one manifest per kit
WHEELS_DIR = "wheels"
# The Python the kit is for: this interpreter's version, as constraints.txt was locked on it. The
# patch level matters: pip compares it with Requires-Python (soupsieve 4.1 needs >= 3.11.5).
PYTHON = _stdlib_platform.python_version()
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


class KitError(RuntimeError):
    """A kit could not be made or does not hold what it should; the message names the package."""


@dataclass(frozen=True)
class Platform:
    """A learner's platform: pip's wheel tags for it and the PEP 508 marker values it has."""

    name: str
    pip_platforms: tuple[str, ...]
    markers: Mapping[str, str]


# manylinux_2_28 is torch's (glibc 2.28+: Debian 10, Ubuntu 18.10, RHEL 8 and later); pip does not
# widen a manylinux_2_28 tag to older ones itself, so they are listed. A macOS tag is widened to
# every older macOS by pip; torch 2.13's arm64 wheel is macosx_14_0 (macOS 14 Sonoma or later).
PLATFORMS: Mapping[str, Platform] = {
    "linux-x86_64": Platform(
        "linux-x86_64",
        tuple(f"manylinux_2_{m}_x86_64" for m in range(28, 16, -1))
        + ("manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"),
        {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64"},
    ),
    "macos-arm64": Platform(
        "macos-arm64", ("macosx_14_0_arm64",),
        {"sys_platform": "darwin", "platform_system": "Darwin", "os_name": "posix", "platform_machine": "arm64"},
    ),
    "windows-x86_64": Platform(
        "windows-x86_64", ("win_amd64",),
        {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt", "platform_machine": "AMD64"},
    ),
}

# pip, with the target's marker environment swapped in before it resolves anything
_PIP_FOR_TARGET = """
import json, sys
from pip._vendor.packaging import markers
target = dict(markers.default_environment(), **json.loads(sys.argv[1]))
markers.default_environment = lambda: dict(target)
from pip._internal.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    filename: str
    url: str
    sha256: str
    requires: tuple[str, ...] = ()
    size: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def this_platform() -> str | None:
    """The kit platform of this machine, or None when the kit has no wheels for its kind."""
    machine = _stdlib_platform.machine().lower()
    if sys.platform.startswith("linux") and machine in ("x86_64", "amd64"):
        return "linux-x86_64"
    if sys.platform == "darwin" and machine == "arm64":
        return "macos-arm64"
    if sys.platform == "win32" and machine in ("amd64", "x86_64"):
        return "windows-x86_64"
    return None


def _platform(name: str) -> Platform:
    if name not in PLATFORMS:
        raise KitError(f"unknown platform {name!r}: choose from {', '.join(PLATFORMS)}")
    return PLATFORMS[name]


def _target_markers(target: Platform, python: str) -> dict[str, str]:
    parts = python.split(".")
    full = python if len(parts) == 3 else f"{python}.0"
    return {**target.markers, "python_version": ".".join(parts[:2]), "python_full_version": full}


def _run_pip(args: Sequence[str], target: Platform, python: str, what: str) -> None:
    cmd = [sys.executable, "-c", _PIP_FOR_TARGET, json.dumps(_target_markers(target, python)), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR")] or proc.stderr.splitlines()[-8:]
        missing = re.findall(r"No matching distribution found for (\S+)", proc.stderr)
        hint = (f" No {target.name} wheel (Python {python}) of {', '.join(missing)} could be found: "
                "pick other platforms, or ask the package for a wheel.") if missing else ""
        raise KitError(f"{what} for {target.name} failed.{hint}\n" + "\n".join(errors))


def _pip_source_args(pip_args: Sequence[str], torch_index: str | None) -> list[str]:
    return [*pip_args, *(["--extra-index-url", torch_index] if torch_index else [])]


def resolve_wheels(platform: str, requirements: Sequence[str], python: str = PYTHON,
                   pip_args: Sequence[str] = (), torch_index: str | None = None) -> list[Wheel]:
    """Every wheel `requirements` (pip arguments: ``-r file``, ``-c file``, specifiers) need on `platform`.

    A pip dry run with ``--report`` (file URLs, sha256, dependencies). To read the dependencies pip
    fetches metadata, which recent pips take from the index alone where it serves it; pip 23 fetches
    whole wheels into its cache, so :func:`download_wheels` then copies them from there.
    Fails when the resolved torch is a CUDA build."""
    target = _platform(platform)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        args = ["install", "--dry-run", "--quiet", "--ignore-installed", "--only-binary=:all:",
                "--python-version", python, "--target", str(Path(tmp) / "target"), "--report", str(report),
                *[f"--platform={p}" for p in target.pip_platforms],
                *_pip_source_args(pip_args, torch_index), *requirements]
        _run_pip(args, target, python, "resolving the wheels")
        items = json.loads(report.read_text())["install"]
    wheels = []
    for item in items:
        info, meta = item["download_info"], item["metadata"]
        url = info["url"]
        sha = info.get("archive_info", {}).get("hashes", {}).get("sha256") or info.get("archive_info", {}).get("hash", "").removeprefix("sha256=")
        wheels.append(Wheel(meta["name"], meta["version"], urllib.parse.unquote(url.rsplit("/", 1)[-1]), url, sha,
                            tuple(meta.get("requires_dist", []))))
    _refuse_cuda_torch(wheels, target)
    return sorted(wheels, key=lambda w: w.name.lower())


def _refuse_cuda_torch(wheels: Sequence[Wheel], target: Platform) -> None:
    """Linux torch on PyPI is the CUDA build (its nvidia-* packages add gigabytes); the CPU one is ``+cpu``.

    The resolve ran with the target's markers, so a CUDA torch shows as nvidia-*/cuda-* wheels in it."""
    cuda = [w.name for w in wheels if re.match(r"(nvidia-|cuda-)", w.name.lower())]
    torch = [w for w in wheels if w.name.lower() == "torch"]
    if torch and cuda:
        raise KitError(
            f"torch {torch[0].version} for {target.name} is the CUDA build (it pulls in {', '.join(sorted(cuda)[:3])} "
            f"and more, gigabytes a laptop has no use for). Ask for the CPU build: "
            f"--torch-index {TORCH_CPU_INDEX} (its wheels are named torch-<version>+cpu-...).")


def _size_of(url: str) -> int | None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        path = Path(urllib.request.url2pathname(parsed.path))
        return path.stat().st_size if path.exists() else None
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=30) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length else None
    except OSError:
        return None


def plan_sizes(plan: Mapping[str, Sequence[Wheel]]) -> dict[str, list[Wheel]]:
    """The same plan with each wheel's size (local files: stat; the index: a HEAD request)."""
    urls = sorted({w.url for wheels in plan.values() for w in wheels})
    with ThreadPoolExecutor(8) as pool:
        sizes = dict(zip(urls, pool.map(_size_of, urls)))
    return {p: [Wheel(**{**w.__dict__, "size": sizes[w.url]}) for w in wheels] for p, wheels in plan.items()}


def format_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError


def download_wheels(plan: Mapping[str, Sequence[Wheel]], dest: str | os.PathLike, python: str = PYTHON,
                    pip_args: Sequence[str] = (), torch_index: str | None = None) -> Path:
    """``pip download`` exactly the planned files into ``dest/wheels``, their sha256 pinned.

    A file two platforms share is fetched once (pip finds it already there and checks its hash)."""
    folder = Path(dest) / WHEELS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for name, wheels in plan.items():
        target = _platform(name)
        with tempfile.TemporaryDirectory() as tmp:
            pins = Path(tmp) / "pins.txt"
            pins.write_text("".join(f"{w.name}=={w.version} --hash=sha256:{w.sha256}\n" for w in wheels))
            _run_pip(["download", "--quiet", "--no-deps", "--only-binary=:all:", "--python-version", python,
                      *[f"--platform={p}" for p in target.pip_platforms], "-d", str(folder),
                      *_pip_source_args(pip_args, torch_index), "-r", str(pins)],
                     target, python, "downloading the wheels")
    for name, wheels in plan.items():
        for w in wheels:
            path = folder / w.filename
            if not path.exists():
                raise KitError(f"{w.label} ({name}): pip did not save {w.filename}")
            if _sha256(path) != w.sha256:
                raise KitError(f"{w.label} ({name}): {w.filename} does not match the index's sha256")
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_checksums(root: str | os.PathLike) -> dict[str, dict[str, int | str]]:
    """``{relative path: {"sha256", "size"}}`` of every file under `root` but the manifest."""
    root = Path(root)
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel != MANIFEST:
            out[rel] = {"sha256": _sha256(path), "size": path.stat().st_size}
    return out


def latest_course_seconds(runs: str | os.PathLike) -> dict | None:
    """The newest finished ``make course`` run (workshop profile) under `runs`: its folder and seconds."""
    for summary in sorted(Path(runs).glob("*/summary.json"), reverse=True):
        try:
            data = json.loads(summary.read_text())
        except (OSError, ValueError):
            continue
        if data.get("profile") == "workshop" and data.get("finished"):
            seconds = sum(float(nb.get("seconds") or 0) for nb in data.get("notebooks", []))
            return {"run": summary.parent.name, "seconds": round(seconds, 1),
                    "notebooks": len(data.get("notebooks", []))}
    return None


def made_on(runs: str | os.PathLike) -> dict:
    """Where the kit was made, and how long ``make course`` took there (when a finished run is known)."""
    return {"platform": this_platform() or f"{sys.platform}-{_stdlib_platform.machine()}",
            "python": _stdlib_platform.python_version(), "cpu": cpu_model(), "cpus": os.cpu_count(),
            "make_course": latest_course_seconds(runs)}


def wheels_manifest(plan: Mapping[str, Sequence[Wheel]], python: str, pinned_files: Mapping[str, str | os.PathLike]) -> dict:
    """The ``wheels`` section: which files each platform needs, and the pin files they came from."""
    return {"python": python,
            "platforms": {p: sorted(w.filename for w in wheels) for p, wheels in plan.items()},
            "packages": {w.filename: w.label for wheels in plan.values() for w in wheels},
            "pinned_by": {Path(f).name: _sha256(Path(f)) for f in pinned_files.values()}}


@dataclass
class KitReport:
    folder: Path
    platforms: list[str] = field(default_factory=list)
    platform_bytes: dict[str, int] = field(default_factory=dict)
    common_bytes: int = 0
    files: int = 0
    made_on: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"kit {self.folder}: {self.files} files checked"]
        if self.platforms:
            out.append("wheels for: " + ", ".join(
                f"{p} ({format_size(self.platform_bytes[p])})" for p in self.platforms))
        else:
            out.append("wheels for: none (an asset folder only)")
        out.append(f"assets and galleries: {format_size(self.common_bytes)}")
        where, course = self.made_on.get("platform"), self.made_on.get("make_course")
        if where:
            took = (f"make course took {course['seconds'] / 60:.0f} min ({course['seconds']:.0f} s, run {course['run']})"
                    if course else "no finished `make course` run was known there")
            out.append(f"made on {where}, {self.made_on.get('cpu')} x{self.made_on.get('cpus')}: {took}")
        out += [f"PROBLEM: {p}" for p in self.problems]
        out.append("OK" if self.ok else f"{len(self.problems)} problem(s): do not hand this kit out")
        return out


def check_kit(folder: str | os.PathLike, platform: str | None = None,
              constraints: str | os.PathLike | None = None) -> KitReport:
    """Verify every file's sha256 and size against the manifest; say what the kit covers.

    `platform`: also require wheels for it (``"this"``: this machine's). `constraints`: also require
    the kit to be made from this ``constraints.txt`` (else pip would look for other versions)."""
    root = Path(folder).expanduser().resolve()
    report = KitReport(root)
    manifest_path = root / MANIFEST
    if not manifest_path.exists():
        raise KitError(f"{root} is not a workshop kit (no {MANIFEST}): make one with "
                       "`python -m course_utils.prepare prepare --to DIR --wheels PLATFORM...`")
    manifest = json.loads(manifest_path.read_text())
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise KitError(f"{manifest_path} lists no file checksums: it was made before kits had them; prepare it again")
    wheels = manifest.get("wheels") or {}
    packages = wheels.get("packages", {})
    needed_by: dict[str, list[str]] = {}
    for plat, names in wheels.get("platforms", {}).items():
        for name in names:
            needed_by.setdefault(f"{WHEELS_DIR}/{name}", []).append(plat)
    for rel, entry in files.items():
        path = root / rel
        what = rel
        filename = rel.rsplit("/", 1)[-1]
        if filename in packages:
            what = f"{rel} ({packages[filename]}, needed on {', '.join(needed_by.get(rel, ['?']))})"
        if not path.is_file():
            report.problems.append(f"missing: {what}")
        elif path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            report.problems.append(f"checksum mismatch: {what}: the file is damaged; copy it again from the teacher's kit")
        report.files += 1
    for rel in needed_by:
        if rel not in files:
            report.problems.append(f"manifest lists {rel} for {', '.join(needed_by[rel])} but has no checksum for it")
    report.platforms = sorted(wheels.get("platforms", {}))
    report.platform_bytes = {p: sum(files.get(f"{WHEELS_DIR}/{n}", {}).get("size", 0) for n in names)
                             for p, names in wheels.get("platforms", {}).items()}
    report.common_bytes = sum(e["size"] for r, e in files.items() if not r.startswith(WHEELS_DIR + "/"))
    report.made_on = manifest.get("made_on", {})
    if platform is not None:
        want = this_platform() if platform == "this" else _platform(platform).name
        if want is None:
            report.problems.append(f"this machine ({sys.platform} {_stdlib_platform.machine()}) is none of the kit "
                                   f"platforms ({', '.join(PLATFORMS)})")
        elif want not in report.platforms:
            report.problems.append(f"the kit has no wheels for {want} (it covers: "
                                   f"{', '.join(report.platforms) or 'no platform'}); prepare it with --wheels {want}")
    if constraints is not None:
        pinned = wheels.get("pinned_by", {})
        name = Path(constraints).name
        if name in pinned and pinned[name] != _sha256(Path(constraints)):
            report.problems.append(f"the kit was made from another {name} than {constraints}: "
                                   "pip would look for versions the kit does not hold; use the matching "
                                   "checkout of the course or prepare the kit again")
    return report
