"""§6 step 1, more of the right data: the example galleries of scikit-learn, matplotlib and seaborn.

codeparrot-ds is code that *uses* the data-science libraries: scripts that load a table, fit a
model, draw a plot. The installed packages (our offline corpus) are the libraries' *own* code, and
a small model trained on it writes library internals (measured in notebook 04). The libraries'
wheels carry no examples, but their source distributions on PyPI do: scikit-learn's
``examples/``, matplotlib's ``galleries/`` and seaborn's ``examples/`` hold about 900 scripts
written to show a reader how to call the library, with prose comments before the calls -- the
closest thing on a package registry to what the course's corpus holds.

PyPI is a package registry, reachable wherever ``pip install`` works, so this is still an
offline-from-the-Hub source. We download the sdist of the *installed* version once, check its
sha256 against the index, keep only the gallery ``.py`` files (read from the archive, never
extracted, so no path in it can escape the folder), and cache them. A teacher can fetch them
once into a folder and hand that folder to the learners (``clm_galleries=/path``).
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, Mapping

__all__ = [
    "GALLERIES",
    "GALLERY_REPOS",
    "GALLERY_PREFIX",
    "INDEX_URL",
    "DONE",
    "GalleryError",
    "default_gallery_dir",
    "installed_version",
    "sdist_url",
    "gallery_scripts",
    "fetch_galleries",
    "gallery_files",
    "resolve_galleries",
    "main",
]

# distribution name -> folders of its sdist that hold gallery scripts
GALLERIES: Mapping[str, tuple[str, ...]] = {
    "scikit-learn": ("examples/",),
    "matplotlib": ("galleries/",),
    "seaborn": ("examples/",),
}
GALLERY_REPOS: Mapping[str, tuple[str, str]] = {
    "scikit-learn": ("scikit-learn/scikit-learn", "bsd-3-clause"),
    "matplotlib": ("matplotlib/matplotlib", "other"),
    "seaborn": ("mwaskom/seaborn", "bsd-3-clause"),
}
# rows from a gallery have paths like "galleries/matplotlib/galleries/examples/.../scatter.py"
GALLERY_PREFIX = "galleries/"
INDEX_URL = "https://pypi.org/pypi"
DONE = "gallery.json"  # written last into a package's folder: a half-fetched folder has none


class GalleryError(RuntimeError):
    """A gallery could not be fetched or read; the message says what to do instead."""


def default_gallery_dir() -> Path:
    """Shared by every run on the machine (``COURSE_GALLERY_DIR`` moves it): fetched once."""
    env = os.environ.get("COURSE_GALLERY_DIR")
    return Path(env) if env else Path.home() / ".cache" / "nlp-course-companion" / "galleries"


def installed_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        raise GalleryError(f"{package} is not installed, so there is no version of its gallery to fetch") from None


def sdist_url(package: str, version: str, index_url: str = INDEX_URL,
              opener: Callable[..., Any] = urllib.request.urlopen) -> tuple[str, str]:
    """URL and sha256 of the sdist of ``package==version`` from PyPI's JSON API.

    Asks ``/<package>/json`` and looks the version up in ``releases`` (mirrors do not all serve
    the per-version ``/<package>/<version>/json``)."""
    api = f"{index_url.rstrip('/')}/{package}/json"
    with opener(api, timeout=30) as response:
        info = json.load(response)
    files = info.get("releases", {}).get(version) or (
        info.get("urls", []) if info.get("info", {}).get("version") == version else [])
    for entry in files:
        if entry.get("packagetype") == "sdist":
            # some mirrors answer with relative URLs: resolve them against the API address
            return urllib.parse.urljoin(api, entry["url"]), entry.get("digests", {}).get("sha256", "")
    raise GalleryError(f"PyPI has no source distribution of {package}=={version}, so no gallery")


def gallery_scripts(archive: str | os.PathLike, folders: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """``(path inside the project, text)`` of each ``.py`` file under `folders` of an sdist.

    Read member by member, never extracted: a member named ``../x`` cannot land outside."""
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(".py"):
                continue
            parts = PurePosixPath(member.name).parts[1:]  # drop "package-1.2.3/"
            if not parts or ".." in parts:
                continue
            rel = "/".join(parts)
            if any(rel.startswith(f) for f in folders):
                handle = tar.extractfile(member)
                if handle is not None:
                    yield rel, handle.read().decode("utf-8", errors="replace")


def _download(url: str, to: Path, sha256: str, opener: Callable[..., Any]) -> None:
    from tqdm.auto import tqdm

    digest = hashlib.sha256()
    with opener(url, timeout=60) as response, open(to, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=to.name, leave=False) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    if sha256 and digest.hexdigest() != sha256:
        raise GalleryError(f"{to.name}: sha256 {digest.hexdigest()} does not match PyPI's {sha256}")


def fetch_galleries(dest: str | os.PathLike | None = None, packages: Mapping[str, tuple[str, ...]] = GALLERIES,
                    index_url: str = INDEX_URL,
                    opener: Callable[..., Any] = urllib.request.urlopen) -> Path:
    """Make sure `dest` holds the gallery scripts of the installed version of each package.

    Already-fetched packages are left alone, so this is cheap after the first call. Each package
    is written into a temporary folder and renamed into place, so an interrupted fetch never
    leaves a half gallery that a later run would take for a whole one."""
    root = Path(dest) if dest is not None else default_gallery_dir()
    root.mkdir(parents=True, exist_ok=True)
    for package, folders in packages.items():
        version = installed_version(package)
        target = root / f"{package}-{version}"
        if (target / DONE).exists():
            continue
        try:
            url, sha256 = sdist_url(package, version, index_url, opener)
            with tempfile.TemporaryDirectory(dir=root) as tmp:
                archive = Path(tmp) / url.rsplit("/", 1)[-1]
                _download(url, archive, sha256, opener)
                staging = Path(tmp) / "scripts"
                count = 0
                for rel, text in gallery_scripts(archive, folders):
                    out = staging / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(text, encoding="utf-8")
                    count += 1
                if not count:
                    raise GalleryError(f"the sdist of {package}=={version} has no .py file under {folders}")
                (staging / DONE).write_text(json.dumps(
                    {"package": package, "version": version, "url": url, "sha256": sha256,
                     "folders": list(folders), "scripts": count}, indent=1))
                if target.exists():  # a folder without DONE: an older interrupted fetch
                    shutil.rmtree(target)
                staging.rename(target)
        except (urllib.error.URLError, OSError, TimeoutError, tarfile.TarError) as exc:
            raise GalleryError(
                f"could not fetch the {package} gallery from {index_url} ({exc}). Fetch it where PyPI "
                "is reachable with `python -m course_utils.clm.galleries --to DIR` and pass "
                "clm_galleries=DIR, or run without it: clm_galleries=False"
            ) from exc
    return root


def gallery_files(root: str | os.PathLike, packages: Mapping[str, tuple[str, ...]] = GALLERIES) -> list[tuple[str, str, Path]]:
    """``(package, path in the corpus, file)`` for every fetched script of the installed versions.

    The corpus path leaves the version out (``galleries/matplotlib/...``), so the train/valid
    split by path hash does not move when a library is upgraded."""
    root = Path(root)
    out = []
    for package in packages:
        folder = root / f"{package}-{installed_version(package)}"
        if not (folder / DONE).exists():
            raise GalleryError(f"{folder} holds no fetched gallery (no {DONE}); "
                               "run `python -m course_utils.clm.galleries --to DIR` online first")
        for file in sorted(folder.rglob("*.py")):
            out.append((package, f"{GALLERY_PREFIX}{package}/{file.relative_to(folder).as_posix()}", file))
    return out


def resolve_galleries(setting: Any) -> Path | None:
    """The ``clm.galleries`` knob.

    ``False``/``None``: no galleries. ``True``: the shared cache, fetched when missing (a failed
    fetch is an error). ``"auto"`` (the workshop default): the same, but when PyPI cannot be
    reached it warns and goes on without them, so a workshop on bad Wi-Fi still runs. A folder: a
    teacher's fetched copy, used as it is."""
    if setting is None or setting is False:
        return None
    if setting is True or setting == "auto":
        try:
            return fetch_galleries()
        except GalleryError as exc:
            if setting is True:
                raise
            import warnings

            warnings.warn(f"training without the example galleries: {exc}", stacklevel=2)
            return None
    if isinstance(setting, (str, os.PathLike)):
        path = Path(setting).expanduser()
        if not path.is_dir():
            raise GalleryError(f"clm_galleries={str(setting)!r} is not a folder; use True, False, 'auto' or a "
                               "folder made by `python -m course_utils.clm.galleries --to DIR`")
        return path
    raise GalleryError(f"clm_galleries must be True, False, 'auto' or a folder, got {setting!r}")


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.clm.galleries [--to DIR]``: fetch once, e.g. before a workshop."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--to", default=None, help=f"folder (default {default_gallery_dir()})")
    args = parser.parse_args(argv)
    root = fetch_galleries(args.to)
    files = gallery_files(root)
    print(f"{len(files)} gallery scripts in {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
