"""§6 step 1, more of the right data: example galleries and tutorial notebooks from PyPI's sdists.

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

The same mechanism reads more packages (:data:`SOURCES`, grouped in sets that the
``clm.gallery_sets`` knob picks): the code cells of the tutorial notebooks of statsmodels,
HoloViews, hvPlot, seaborn's documentation, arch, linearmodels and xarray (``"notebooks"``), the
example galleries of scikit-image, imbalanced-learn, lmfit, tslearn and pmdarima
(``"more_galleries"``). Notebook code is how people write when they explore data (``df.head()``,
a ``groupby``, a quick ``plt.hist``), which neither docstrings nor galleries show. A package that is
installed gives its installed version, any other its pinned one. The notebooks of DoWhy and MAPIE
(:data:`HELD_OUT`) are fetched whenever galleries are, and go to validation only: a held-out set
*by package*, so notebook 04 can score the model on notebooks of packages it never read.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Sequence

__all__ = [
    "GALLERIES",
    "GALLERY_REPOS",
    "GALLERY_PREFIX",
    "NOTEBOOK_PREFIX",
    "SdistSource",
    "SOURCES",
    "SOURCE_SETS",
    "HELD_OUT",
    "sources_for",
    "source_version",
    "is_held_out",
    "notebook_script",
    "near_duplicates",
    "source_of",
    "fetched_sources",
    "resolve_gallery_sources",
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
# rows from a notebook: "notebooks/statsmodels/examples/notebooks/ols.ipynb.py" (its code cells as a script)
NOTEBOOK_PREFIX = "notebooks/"


@dataclass(frozen=True)
class SdistSource:
    """Where in which sdist a part of the corpus comes from, and under which licence.

    ``kind``: ``"scripts"`` (``.py`` files, kept as they are) or ``"notebooks"`` (``.ipynb``, their
    code cells joined into a script by :func:`notebook_script`). ``pin``: the version fetched when
    the package is not installed (the installed version wins, as for the three galleries).
    ``skip``: path fragments left out (generated copies, tests)."""

    name: str
    dist: str
    folders: tuple[str, ...]
    kind: str = "scripts"
    pin: str | None = None
    repo: str = ""
    licence: str = "unknown"
    skip: tuple[str, ...] = ()

    @property
    def prefix(self) -> str:
        return f"{NOTEBOOK_PREFIX if self.kind == 'notebooks' else GALLERY_PREFIX}{self.name}/"


# Each licence below was read from the package's metadata on PyPI (2026-12-03); all permissive.
# Left out, and why: scikit-survival (GPL-3.0), nilearn (a 57 MB sdist of brain-imaging examples),
# networkx, geopandas, altair, bokeh, plotly, shap, optuna, sktime (their sdists carry no examples or
# notebooks), statsmodels' examples/python (generated from its notebooks), imbalanced-learn's
# doc/auto_examples (generated from its examples/), seaborn's doc/_docstrings (no comment lines).
SOURCES: Mapping[str, SdistSource] = {s.name: s for s in (
    SdistSource("scikit-learn", "scikit-learn", ("examples/",), repo="scikit-learn/scikit-learn", licence="bsd-3-clause"),
    SdistSource("matplotlib", "matplotlib", ("galleries/",), repo="matplotlib/matplotlib", licence="other"),
    SdistSource("seaborn", "seaborn", ("examples/",), repo="mwaskom/seaborn", licence="bsd-3-clause"),
    # notebooks
    SdistSource("statsmodels", "statsmodels", ("examples/notebooks/",), "notebooks", "0.15.0",
                "statsmodels/statsmodels", "bsd-3-clause"),
    SdistSource("holoviews", "holoviews", ("holoviews/examples/",), "notebooks", "1.23.2",
                "holoviz/holoviews", "bsd-3-clause"),
    SdistSource("hvplot", "hvplot", ("doc/",), "notebooks", "0.12.2", "holoviz/hvplot", "bsd-3-clause"),
    SdistSource("seaborn-tutorial", "seaborn", ("doc/_tutorial/",), "notebooks", "0.13.2",
                "mwaskom/seaborn", "bsd-3-clause"),
    SdistSource("arch", "arch", ("examples/",), "notebooks", "8.0.0", "bashtage/arch", "ncsa"),
    SdistSource("linearmodels", "linearmodels", ("examples/",), "notebooks", "7.1", "bashtage/linearmodels", "ncsa"),
    SdistSource("xarray", "xarray", ("doc/examples/",), "notebooks", "2026.9.0", "pydata/xarray", "apache-2.0"),
    # more galleries
    SdistSource("scikit-image", "scikit-image", ("doc/examples/",), pin="0.26.0", repo="scikit-image/scikit-image",
                licence="bsd-3-clause"),
    SdistSource("imbalanced-learn", "imbalanced-learn", ("examples/",), pin="0.14.2",
                repo="scikit-learn-contrib/imbalanced-learn", licence="mit"),
    SdistSource("lmfit", "lmfit", ("examples/",), pin="1.3.4", repo="lmfit/lmfit-py", licence="bsd-3-clause"),
    SdistSource("tslearn", "tslearn", ("docs/examples/",), pin="0.10.0", repo="tslearn-team/tslearn",
                licence="bsd-2-clause"),
    SdistSource("pmdarima", "pmdarima", ("examples/",), pin="2.1.1", repo="alkaline-ml/pmdarima", licence="mit"),
    # held out by package (validation only)
    SdistSource("dowhy", "dowhy", ("docs/source/",), "notebooks", "0.14", "py-why/dowhy", "mit"),
    SdistSource("mapie", "mapie", ("notebooks/",), "notebooks", "1.6.0", "scikit-learn-contrib/MAPIE", "bsd-3-clause"),
)}
# what the clm.gallery_sets knob picks from
SOURCE_SETS: Mapping[str, tuple[str, ...]] = {
    "galleries": ("scikit-learn", "matplotlib", "seaborn"),
    "notebooks": ("statsmodels", "holoviews", "hvplot", "seaborn-tutorial", "arch", "linearmodels", "xarray"),
    "more_galleries": ("scikit-image", "imbalanced-learn", "lmfit", "tslearn", "pmdarima"),
}
# notebooks of these packages go to validation, whole: scored in notebook 04, never trained on
HELD_OUT: tuple[str, ...] = ("dowhy", "mapie")
INDEX_URL = "https://pypi.org/pypi"
DONE = "gallery.json"  # written last into a package's folder: a half-fetched folder has none


def sources_for(sets: Sequence[str] | None = ("galleries",), held_out: bool = True) -> dict[str, SdistSource]:
    """The sources of the named sets (see :data:`SOURCE_SETS`), plus the held-out notebooks."""
    if isinstance(sets, str):
        sets = (sets,)
    names: list[str] = []
    for name in sets or ():
        if name not in SOURCE_SETS:
            raise GalleryError(f"unknown gallery set {name!r}: choose from {', '.join(SOURCE_SETS)}")
        names += SOURCE_SETS[name]
    if held_out:
        names += HELD_OUT
    return {n: SOURCES[n] for n in dict.fromkeys(names)}


def _as_source(name: str, value: Any) -> SdistSource:
    """A :class:`SdistSource`, also from the older ``{package: folders}`` form."""
    if isinstance(value, SdistSource):
        return value
    repo, lic = GALLERY_REPOS.get(name, (name, "unknown"))
    return SdistSource(name, name, tuple(value), repo=repo, licence=lic)


def source_version(source: SdistSource | str) -> str:
    """The installed version of the source's package, else its pinned version."""
    source = _as_source(source, ()) if isinstance(source, str) else source
    try:
        return installed_version(source.dist)
    except GalleryError:
        if source.pin:
            return source.pin
        raise


def is_held_out(path: str) -> bool:
    """True for a row of a held-out package's notebooks (they go to validation, whole)."""
    return path.startswith(tuple(SOURCES[n].prefix for n in HELD_OUT))


def source_of(path: str) -> str:
    """The part of the corpus a row's path comes from: ``galleries/<name>``, ``notebooks/<name>``,
    ``doc_examples`` or ``library modules`` (for the size table of notebook 01)."""
    for prefix in (GALLERY_PREFIX, NOTEBOOK_PREFIX):
        if path.startswith(prefix):
            return prefix + path[len(prefix):].split("/", 1)[0]
    return "doc_examples" if path.startswith("doc_examples/") else "library modules"


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


def gallery_scripts(archive: str | os.PathLike, folders: tuple[str, ...], kind: str = "scripts",
                    skip: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """``(path inside the project, text)`` of each ``.py`` file under `folders` of an sdist; with
    ``kind="notebooks"`` each ``.ipynb`` file instead, as the script of its code cells
    (:func:`notebook_script`; the path gets ``.py`` appended).

    Read member by member, never extracted: a member named ``../x`` cannot land outside."""
    suffix = ".ipynb" if kind == "notebooks" else ".py"
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith(suffix):
                continue
            if any(part in member.name for part in skip) or "/.ipynb_checkpoints/" in member.name:
                continue
            parts = PurePosixPath(member.name).parts[1:]  # drop "package-1.2.3/"
            if not parts or ".." in parts:
                continue
            rel = "/".join(parts)
            if any(rel.startswith(f) for f in folders):
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                text = handle.read().decode("utf-8", errors="replace")
                if kind == "notebooks":
                    script = notebook_script(text)
                    if script:
                        yield rel + ".py", script
                else:
                    yield rel, text


# A line that is IPython, not Python: a magic (``%matplotlib inline``), a shell escape (``!pip ...``,
# ``files = !ls``) or a help request (``np.mean?``).
_IPYTHON_LINE = re.compile(r"^\s*[%!]|^\s*[\w.]+\s*=\s*[!%]|^\s*[\w.]+\?\??\s*$")
# cell magics whose body is still Python
_PYTHON_CELL_MAGICS = re.compile(r"^%%(time|timeit|capture)\b")


def notebook_script(text: str) -> str | None:
    """The code cells of a notebook (``.ipynb`` JSON) joined into one script; None if none is left.

    *Written by hand, on ``json``, because no library does quite this:* ``nbconvert`` turns
    magics into ``get_ipython()`` calls (which no data-science script contains) and comments the
    Markdown in, and ``nbformat`` would only parse the same JSON (and reject old notebooks). We keep
    the code cells only; IPython lines (magics, ``!`` shell lines, ``x?``) are dropped, a ``%%bash``
    (or any other non-Python cell magic) cell entirely, and so is a cell that still does not
    parse as Python, so every script in the corpus compiles."""
    try:
        nb = json.loads(text)
    except ValueError:
        return None
    if not isinstance(nb, dict):
        return None
    cells = nb.get("cells") or [c for ws in nb.get("worksheets", []) for c in ws.get("cells", [])]
    out = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", cell.get("input", ""))
        src = "".join(src) if isinstance(src, list) else str(src)
        lines = src.splitlines()
        if lines and lines[0].lstrip().startswith("%%"):
            if not _PYTHON_CELL_MAGICS.match(lines[0].lstrip()):
                continue
            lines = lines[1:]
        code = "\n".join(l for l in lines if not _IPYTHON_LINE.match(l)).strip("\n")
        if not code.strip():
            continue
        try:
            compile(code, "<cell>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue
        out.append(code)
    return "\n\n\n".join(out) + "\n" if out else None


def _code_lines(text: str) -> list[str]:
    """The code of a script without comments, blank lines and spacing: what near-duplicates share."""
    lines = (re.sub(r"\s+", "", line) for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def near_duplicates(texts: Sequence[str], groups: Sequence[str] | None = None,
                    threshold: float = 0.9) -> set[int]:
    """Indexes of the texts to drop as near-identical to an earlier one.

    Two texts are near-identical when their code (comments, blank lines and spacing removed) is
    the same, anywhere in the corpus, or when, within one group (a package), their sets of code
    lines overlap by `threshold` or more (Jaccard): HoloViews ships each reference notebook once
    per plotting backend, differing in one line. The earlier text (in the given order) is kept."""
    groups = list(groups) if groups is not None else [""] * len(texts)
    seen: dict[str, int] = {}
    drop: set[int] = set()
    kept_sets: dict[str, list[frozenset[str]]] = {}
    for i, text in enumerate(texts):
        lines = _code_lines(text)
        key = hashlib.sha1("\n".join(lines).encode()).hexdigest()
        if key in seen:
            drop.add(i)
            continue
        seen[key] = i
        mine = frozenset(lines)
        others = kept_sets.setdefault(groups[i], [])
        if mine and any(len(mine & o) >= threshold * len(mine | o) for o in others):
            drop.add(i)
            continue
        others.append(mine)
    return drop


def _download(url: str, to: Path, sha256: str, opener: Callable[..., Any]) -> None:
    from tqdm.auto import tqdm

    from ..profiles import quiet

    digest = hashlib.sha256()
    with opener(url, timeout=60) as response, open(to, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=to.name, leave=False, disable=quiet()) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
    if sha256 and digest.hexdigest() != sha256:
        raise GalleryError(f"{to.name}: sha256 {digest.hexdigest()} does not match PyPI's {sha256}")


def fetch_galleries(dest: str | os.PathLike | None = None, packages: Mapping[str, Any] = GALLERIES,
                    index_url: str = INDEX_URL,
                    opener: Callable[..., Any] = urllib.request.urlopen) -> Path:
    """Make sure `dest` holds the gallery scripts (or notebook scripts) of each source, from the
    sdist of the installed version of its package (the pinned one when it is not installed).

    `packages`: ``{name: SdistSource}`` (e.g. :func:`sources_for`) or ``{package: folders}``.
    Already-fetched packages are left alone, so this is cheap after the first call. Each package
    is written into a temporary folder and renamed into place, so an interrupted fetch never
    leaves a half gallery that a later run would take for a whole one."""
    root = Path(dest) if dest is not None else default_gallery_dir()
    root.mkdir(parents=True, exist_ok=True)
    for package, spec in packages.items():
        source = _as_source(package, spec)
        folders = source.folders
        version = source_version(source)
        target = root / f"{package}-{version}"
        if (target / DONE).exists():
            continue
        try:
            url, sha256 = sdist_url(source.dist, version, index_url, opener)
            with tempfile.TemporaryDirectory(dir=root) as tmp:
                archive = Path(tmp) / url.rsplit("/", 1)[-1]
                _download(url, archive, sha256, opener)
                staging = Path(tmp) / "scripts"
                count = 0
                for rel, text in gallery_scripts(archive, folders, source.kind, source.skip):
                    out = staging / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_text(text, encoding="utf-8")
                    count += 1
                if not count:
                    raise GalleryError(f"the sdist of {source.dist}=={version} has no {source.kind} under {folders}")
                (staging / DONE).write_text(json.dumps(
                    {"package": package, "dist": source.dist, "version": version, "url": url, "sha256": sha256,
                     "folders": list(folders), "kind": source.kind, "license": source.licence,
                     "scripts": count}, indent=1))
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


def gallery_files(root: str | os.PathLike, packages: Mapping[str, Any] = GALLERIES,
                  dedupe: bool = True) -> list[tuple[str, str, Path]]:
    """``(package, path in the corpus, file)`` for every fetched script of the installed (or
    pinned) versions, near-duplicates left out (:func:`near_duplicates`; the first by path stays).

    The corpus path leaves the version out (``galleries/matplotlib/...``,
    ``notebooks/statsmodels/...``), so the train/valid split by path hash does not move when a
    library is upgraded."""
    root = Path(root)
    out = []
    for package, spec in packages.items():
        source = _as_source(package, spec)
        folder = root / f"{package}-{source_version(source)}"
        if not (folder / DONE).exists():
            raise GalleryError(f"{folder} holds no fetched gallery (no {DONE}); "
                               "run `python -m course_utils.clm.galleries --to DIR` online first")
        for file in sorted(folder.rglob("*.py")):
            out.append((package, f"{source.prefix}{file.relative_to(folder).as_posix()}", file))
    if dedupe and out:
        drop = near_duplicates([f.read_text(encoding="utf-8", errors="replace") for _, _, f in out],
                               [p for p, _, _ in out])
        out = [row for i, row in enumerate(out) if i not in drop]
    return out


def fetched_sources(root: str | os.PathLike, sources: Mapping[str, Any]) -> dict[str, Any]:
    """The `sources` whose folder under `root` is complete: with ``"auto"`` the corpus takes
    these and leaves out what could not be fetched (it said so when it tried)."""
    out = {}
    for name, spec in sources.items():
        try:
            version = source_version(_as_source(name, spec))
        except GalleryError:
            continue
        if (Path(root) / f"{name}-{version}" / DONE).exists():
            out[name] = spec
    return out


def resolve_galleries(setting: Any, sets: Sequence[str] | None = ("galleries",)) -> Path | None:
    """The ``clm.galleries`` knob.

    ``False``/``None``: no galleries. ``True``: the shared cache, fetched when missing (a failed
    fetch is an error). ``"auto"`` (the workshop default): the same, but when PyPI cannot be
    reached it warns and goes on without them, so a workshop on bad Wi-Fi still runs. A folder: a
    teacher's fetched copy, used as it is."""
    if setting is None or setting is False:
        return None
    if setting is True or setting == "auto":
        sources = sources_for(sets)
        try:
            return fetch_galleries(packages=sources)
        except GalleryError as exc:
            if setting is True:
                raise
            import warnings

            # go on with what can be had: the sources cached (or fetched) before the failure
            root = default_gallery_dir()
            have = fetched_sources(root, sources)
            if not have:
                warnings.warn(f"training without the example galleries: {exc}", stacklevel=2)
                return None
            missing = [n for n in sources if n not in have]
            warnings.warn(f"training without {', '.join(missing)} (the rest is cached): {exc}", stacklevel=2)
            return root
    if isinstance(setting, (str, os.PathLike)):
        path = Path(setting).expanduser()
        if not path.is_dir():
            raise GalleryError(f"clm_galleries={str(setting)!r} is not a folder; use True, False, 'auto' or a "
                               "folder made by `python -m course_utils.clm.galleries --to DIR`")
        return path
    raise GalleryError(f"clm_galleries must be True, False, 'auto' or a folder, got {setting!r}")


def resolve_gallery_sources(setting: Any, sets: Sequence[str] | None = ("galleries",)) -> tuple[Path | None, dict[str, Any]]:
    """The ``clm.galleries`` and ``clm.gallery_sets`` knobs together: the folder (or None) and the
    sources the corpus reads from it. With ``"auto"`` these are the sources that could be had
    (:func:`resolve_galleries` warned about the others); a teacher's folder must hold them all."""
    root = resolve_galleries(setting, sets)
    sources = sources_for(sets)
    if root is not None and setting == "auto":
        sources = fetched_sources(root, sources)
    return root, (sources if root is not None else {})


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.clm.galleries [--to DIR]``: fetch once, e.g. before a workshop."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--to", default=None, help=f"folder (default {default_gallery_dir()})")
    parser.add_argument("--sets", nargs="*", default=list(SOURCE_SETS),
                        help=f"which sets (default: all of {', '.join(SOURCE_SETS)}; the held-out notebooks always)")
    args = parser.parse_args(argv)
    sources = sources_for(args.sets)
    root = fetch_galleries(args.to, sources)
    files = gallery_files(root, sources)
    print(f"{len(files)} scripts from {len(sources)} sdists in {root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
