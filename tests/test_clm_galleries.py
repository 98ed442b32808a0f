"""§6 step 1, example galleries from sdists: fetched through a fake index (no network in tests)."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import urllib.error
from pathlib import Path

import pytest

from course_utils.clm import galleries
from course_utils.clm.corpus import bundled_stream, load_raw_datasets, split_by_path
from course_utils.clm.galleries import (
    DONE,
    GalleryError,
    fetch_galleries,
    gallery_files,
    gallery_scripts,
    resolve_galleries,
    sdist_url,
)
from course_utils.clm.generate import held_out_prompt_sets

SCRIPT = ("import numpy as np\nimport matplotlib.pyplot as plt\n\n# draw the points\n"
          "x = np.random.randn(10)\ny = np.random.randn(10)\n\n# scatter plot of y against x\nplt.scatter(x, y)\n")


def _sdist(top: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name if name.startswith("..") else f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _Response(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fake_index(archives: dict[str, bytes], versions: dict[str, str], sha_override: str | None = None):
    """An `opener` that answers PyPI's JSON API (with relative URLs, as the local mirror does)
    and serves the archives; it records every URL asked for."""
    asked: list[str] = []

    def opener(url: str, timeout: float = 0):
        asked.append(url)
        for package, data in archives.items():
            if url.endswith(f"/{package}/json"):
                entry = {"packagetype": "sdist", "url": f"../../files/{package}.tar.gz",
                         "digests": {"sha256": sha_override or hashlib.sha256(data).hexdigest()}}
                return _Response(json.dumps({"info": {"version": versions[package]},
                                             "releases": {versions[package]: [entry]}}).encode())
            if url.endswith(f"/files/{package}.tar.gz"):
                return _Response(data)
        raise urllib.error.URLError(f"no route to {url}")

    opener.asked = asked  # type: ignore[attr-defined]
    return opener


@pytest.fixture()
def fake_pypi(monkeypatch: pytest.MonkeyPatch):
    versions = {"scikit-learn": "9.9.9", "seaborn": "1.0"}
    monkeypatch.setattr(galleries, "installed_version", lambda p: versions[p])
    archives = {
        "scikit-learn": _sdist("scikit_learn-9.9.9", {
            "examples/ensemble/plot_forest.py": SCRIPT,
            "examples/README.txt": "not python",
            "sklearn/ensemble/_forest.py": "# library code, not a gallery\n",
            "../escape.py": "print('outside')\n",
        }),
        # 30 scripts that differ in code (a changed comment alone would make them near-duplicates)
        "seaborn": _sdist("seaborn-1.0", {f"examples/plot_{i}.py": SCRIPT.replace("randn(10)\ny", f"randn({i + 100})\ny")
                                          for i in range(30)}),
    }
    packages = {"scikit-learn": ("examples/",), "seaborn": ("examples/",)}
    return versions, archives, packages


def test_sdist_url_resolves_relative_urls_and_finds_the_version(fake_pypi) -> None:
    versions, archives, _ = fake_pypi
    url, sha = sdist_url("seaborn", "1.0", "https://index.test/pypi", _fake_index(archives, versions))
    assert url == "https://index.test/files/seaborn.tar.gz"
    assert sha == hashlib.sha256(archives["seaborn"]).hexdigest()
    with pytest.raises(GalleryError, match="seaborn==2.0"):
        sdist_url("seaborn", "2.0", "https://index.test/pypi", _fake_index(archives, versions))


def test_only_gallery_scripts_are_read_and_nothing_escapes(tmp_path: Path, fake_pypi) -> None:
    _, archives, _ = fake_pypi
    archive = tmp_path / "sk.tar.gz"
    archive.write_bytes(archives["scikit-learn"])
    assert [rel for rel, _ in gallery_scripts(archive, ("examples/",))] == ["examples/ensemble/plot_forest.py"]


def test_fetch_once_then_cached(tmp_path: Path, fake_pypi) -> None:
    versions, archives, packages = fake_pypi
    opener = _fake_index(archives, versions)
    root = fetch_galleries(tmp_path / "g", packages, "https://index.test/pypi", opener)
    files = gallery_files(root, packages)
    assert len(files) == 31
    assert ("scikit-learn", "galleries/scikit-learn/examples/ensemble/plot_forest.py") == files[0][:2]
    assert files[0][2].read_text() == SCRIPT
    manifest = json.loads((root / "scikit-learn-9.9.9" / DONE).read_text())
    assert manifest["scripts"] == 1 and manifest["version"] == "9.9.9"
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "g" / "escape.py").exists()
    asked = len(opener.asked)
    fetch_galleries(tmp_path / "g", packages, "https://index.test/pypi", opener)
    assert len(opener.asked) == asked  # nothing fetched the second time


def test_bad_checksum_and_no_network_name_the_problem(tmp_path: Path, fake_pypi) -> None:
    versions, archives, packages = fake_pypi
    with pytest.raises(GalleryError, match="sha256"):
        fetch_galleries(tmp_path / "g", packages, "https://index.test/pypi",
                        _fake_index(archives, versions, sha_override="0" * 64))
    # nothing half-written is left to be taken for a gallery
    assert not any((tmp_path / "g").glob(f"*/{DONE}"))
    with pytest.raises(GalleryError, match="clm_galleries=False"):
        fetch_galleries(tmp_path / "g", packages, "https://index.test/pypi", _fake_index({}, {}))


def test_resolve_galleries_setting(tmp_path: Path) -> None:
    assert resolve_galleries(False) is None and resolve_galleries(None) is None
    assert resolve_galleries(str(tmp_path)) == tmp_path
    with pytest.raises(GalleryError, match="not a folder"):
        resolve_galleries(str(tmp_path / "missing"))
    with pytest.raises(GalleryError, match="True, False, 'auto' or a folder"):
        resolve_galleries(3)
    with pytest.raises(GalleryError, match="no fetched gallery"):
        gallery_files(tmp_path, {"scikit-learn": ("examples/",)})


def test_galleries_join_the_bundled_stream_and_split(tmp_path: Path, fake_pypi, monkeypatch) -> None:
    versions, archives, packages = fake_pypi
    root = fetch_galleries(tmp_path / "g", packages, "https://index.test/pypi", _fake_index(archives, versions))
    monkeypatch.setattr(galleries, "gallery_files", lambda r, p=None: gallery_files(r, packages))
    rows = list(bundled_stream(("seaborn",), doc_examples=False, galleries=root))
    paths = [r["path"] for r in rows]
    gallery_rows = [r for r in rows if r["path"].startswith("galleries/")]
    assert len(gallery_rows) == 31 and len(rows) > 31
    assert {r["repo_name"] for r in gallery_rows} == {"scikit-learn/scikit-learn", "mwaskom/seaborn"}
    assert paths != sorted(paths)  # mixed into the hash order, not appended
    split = split_by_path(__import__("datasets").Dataset.from_list(rows), 0.2)
    valid_gallery = [p for p in split["valid"]["path"] if p.startswith("galleries/")]
    assert valid_gallery, "some gallery scripts are held out"
    sets = held_out_prompt_sets(split["valid"], n=5)
    assert "gallery scripts" in sets and all(p["prompt"] for p in sets["gallery scripts"])


def test_profile_knob_reaches_the_corpus(tmp_path: Path, fake_pypi, monkeypatch) -> None:
    from course_utils.profiles import activate

    versions, archives, packages = fake_pypi
    root = fetch_galleries(tmp_path / "g", packages, "https://index.test/pypi", _fake_index(archives, versions))
    monkeypatch.setattr(galleries, "gallery_files", lambda r, p=None: gallery_files(r, packages))
    cfg = activate("ci", clm_galleries=str(root), clm_max_scan_files=None, clm_bundled_packages=["seaborn"],
                   clm_max_train_files=None, clm_max_valid_files=None, clm_doc_examples=False)
    raw = load_raw_datasets(cfg)
    n = sum(str(p).startswith("galleries/") for split in raw.values() for p in split["path"])
    assert n == 31


def test_auto_goes_on_without_galleries_when_pypi_is_unreachable(tmp_path: Path, monkeypatch) -> None:
    def unreachable(*args, **kwargs):
        raise GalleryError("could not fetch the seaborn gallery (no route)")

    monkeypatch.setenv("COURSE_GALLERY_DIR", str(tmp_path))  # an empty cache
    monkeypatch.setattr(galleries, "fetch_galleries", unreachable)
    with pytest.warns(UserWarning, match="without the example galleries: could not fetch"):
        assert resolve_galleries("auto") is None
    with pytest.raises(GalleryError, match="no route"):
        resolve_galleries(True)


# --------------------------------------------------------------------------------------------
# notebooks, more sources, near-duplicates, the held-out packages
# --------------------------------------------------------------------------------------------
def _notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                       "cells": [{"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True),
                                  **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                                 for kind, src in cells]})


NOTEBOOK = _notebook(
    ("markdown", "# Load the data\nSome prose."),
    ("code", "%matplotlib inline\nimport pandas as pd\n!pip install seaborn\nfiles = !ls\ndf = pd.read_csv('tips.csv')"),
    ("code", "df.head()\ndf.describe?"),
    ("code", "%%bash\necho not python"),
    ("code", "%%time\n# mean tip per day\ndf.groupby('day').tip.mean()"),
    ("code", "this is not python ("),
    ("code", ""),
)


def test_notebook_script_keeps_the_python_of_the_code_cells() -> None:
    script = galleries.notebook_script(NOTEBOOK)
    assert script == ("import pandas as pd\ndf = pd.read_csv('tips.csv')\n\n\ndf.head()\n\n\n"
                      "# mean tip per day\ndf.groupby('day').tip.mean()\n")
    compile(script, "nb", "exec")
    assert galleries.notebook_script("not json") is None
    assert galleries.notebook_script(_notebook(("markdown", "only prose"))) is None
    # nbformat 3 notebooks keep their cells in worksheets, the code in "input"
    old = json.dumps({"nbformat": 3, "worksheets": [{"cells": [{"cell_type": "code", "input": ["x = 1\n"]}]}]})
    assert galleries.notebook_script(old) == "x = 1\n"


def test_near_duplicates_ignore_comments_and_spacing() -> None:
    a = "import numpy as np\nx = np.arange(10)\ny = x ** 2\nprint(y)\n"
    texts = [a,
             "# another comment\nimport numpy as np\n\nx = np.arange(10)\ny = x**2\nprint(y)\n",  # same code
             a.replace("print(y)", "print(y)\nprint(x)"),  # 4 of 5 lines shared: below 0.9
             "\n".join(f"v{i} = {i}" for i in range(20)),
             "\n".join(f"v{i} = {i}" for i in range(20)) + "\nv20 = 20",  # 20 of 21 lines: a near-duplicate
             "\n".join(f"v{i} = {i}" for i in range(20)) + "\nv20 = 20"]
    assert galleries.near_duplicates(texts) == {1, 4, 5}
    # the Jaccard test is within one group (package); the exact test everywhere
    assert galleries.near_duplicates(texts, ["a", "b", "a", "a", "b", "b"]) == {1, 5}


def test_every_source_is_permissive_and_in_one_set() -> None:
    permissive = {"bsd-2-clause", "bsd-3-clause", "mit", "apache-2.0", "ncsa", "other"}  # matplotlib: PSF-style
    assert {s.licence for s in galleries.SOURCES.values()} <= permissive
    named = [n for names in galleries.SOURCE_SETS.values() for n in names] + list(galleries.HELD_OUT)
    assert sorted(named) == sorted(galleries.SOURCES) and len(named) == len(set(named))
    assert all(galleries.SOURCES[n].kind == "notebooks" for n in galleries.HELD_OUT)
    # a package that is not installed is fetched at its pinned version
    assert all(s.pin for s in galleries.SOURCES.values() if s.name not in galleries.SOURCE_SETS["galleries"])
    with pytest.raises(GalleryError, match="unknown gallery set 'nope'"):
        galleries.sources_for(("nope",))


@pytest.fixture()
def fake_sources(monkeypatch: pytest.MonkeyPatch):
    """A scripts source, a notebooks source and a held-out notebooks source; statsmodels and
    dowhy are not installed, so their pinned versions are fetched."""
    def installed(package):
        if package == "seaborn":
            return "1.0"
        raise GalleryError(f"{package} is not installed")

    monkeypatch.setattr(galleries, "installed_version", installed)
    sources = {
        "seaborn": galleries.SdistSource("seaborn", "seaborn", ("examples/",), repo="mwaskom/seaborn", licence="bsd-3-clause"),
        "statsmodels": galleries.SOURCES["statsmodels"],
        "dowhy": galleries.SOURCES["dowhy"],
    }
    notebook = lambda i: _notebook(("code", f"import pandas as pd\ndf = pd.DataFrame({{'a': range({i})}})\n"
                                            f"# the mean of a\nm{i} = df.a.mean()\nprint(m{i} + {i})"))
    archives = {
        "seaborn": _sdist("seaborn-1.0", {f"examples/plot_{i}.py": SCRIPT.replace("randn(10)\ny", f"randn({i + 100})\ny")
                                          for i in range(20)}),
        "statsmodels": _sdist(f"statsmodels-{sources['statsmodels'].pin}", {
            **{f"examples/notebooks/nb_{i}.ipynb": notebook(i) for i in range(20)},
            "examples/notebooks/copy_of_nb_0.ipynb": notebook(0),  # a duplicate: dropped
            "examples/notebooks/.ipynb_checkpoints/nb_1-checkpoint.ipynb": notebook(1),
            "examples/python/nb_0.py": "generated from the notebook\n",
        }),
        "dowhy": _sdist(f"dowhy-{sources['dowhy'].pin}", {f"docs/source/example_notebooks/nb_{i}.ipynb": notebook(100 + i)
                                                          for i in range(6)}),
    }
    versions = {"seaborn": "1.0", "statsmodels": sources["statsmodels"].pin, "dowhy": sources["dowhy"].pin}
    return sources, archives, versions


def test_notebooks_are_fetched_as_scripts_and_held_out_by_package(tmp_path: Path, fake_sources, monkeypatch) -> None:
    from datasets import Dataset

    sources, archives, versions = fake_sources
    root = fetch_galleries(tmp_path / "g", sources, "https://index.test/pypi", _fake_index(archives, versions))
    manifest = json.loads((root / f"statsmodels-{versions['statsmodels']}" / DONE).read_text())
    assert manifest["kind"] == "notebooks" and manifest["scripts"] == 21 and manifest["license"] == "bsd-3-clause"
    files = gallery_files(root, sources)
    paths = [p for _, p, _ in files]
    assert "notebooks/statsmodels/examples/notebooks/nb_3.ipynb.py" in paths
    # a near-duplicate: the first by path stays
    assert "notebooks/statsmodels/examples/notebooks/copy_of_nb_0.ipynb.py" in paths
    assert "notebooks/statsmodels/examples/notebooks/nb_0.ipynb.py" not in paths
    assert not any("checkpoint" in p or p.endswith("python/nb_0.py") for p in paths)
    assert len(files) == 20 + 20 + 6
    rows = list(bundled_stream(("seaborn",), doc_examples=False, galleries=root, gallery_sources=sources, modules=False))
    assert {r["license"] for r in rows if r["path"].startswith("notebooks/statsmodels/")} == {"bsd-3-clause"}
    assert {r["repo_name"] for r in rows if r["path"].startswith("notebooks/dowhy/")} == {"py-why/dowhy"}
    split = split_by_path(Dataset.from_list(rows), 0.2)
    held = [p for p in split["valid"]["path"] if p.startswith("notebooks/dowhy/")]
    assert len(held) == 6 and not any(p.startswith("notebooks/dowhy/") for p in split["train"]["path"])
    assert any(p.startswith("notebooks/statsmodels/") for p in split["train"]["path"])  # not held out
    sets = held_out_prompt_sets(split["valid"], n=50)
    assert [p["truth"] for p in sets["held-out notebooks"]] and all(
        p["truth"].startswith("m10") for p in sets["held-out notebooks"])


def test_corpus_by_source_counts_files_mb_and_tokens() -> None:
    from datasets import Dataset, DatasetDict

    from course_utils.clm.corpus import corpus_by_source

    ds = Dataset.from_dict({"path": ["notebooks/dowhy/a.ipynb.py", "galleries/seaborn/examples/b.py", "doc_examples/x.py"],
                            "content": ["df.head()\n", "x = 1\n", "import a\n"],
                            "license": ["mit", "bsd-3-clause", "bsd-3-clause"]})
    rows = corpus_by_source(DatasetDict(valid=ds))
    assert [(r["source"], r["files"], r["tokens"], r["licence"]) for r in rows] == [
        ("doc_examples", 1, 2, "bsd-3-clause"), ("galleries/seaborn", 1, 3, "bsd-3-clause"),
        ("notebooks/dowhy", 1, 5, "mit")]


def test_auto_keeps_the_sources_it_has_when_one_cannot_be_fetched(tmp_path: Path, fake_sources, monkeypatch) -> None:
    sources, archives, versions = fake_sources
    root = fetch_galleries(tmp_path, {"seaborn": sources["seaborn"]}, "https://index.test/pypi",
                           _fake_index(archives, versions))
    monkeypatch.setenv("COURSE_GALLERY_DIR", str(root))
    monkeypatch.setattr(galleries, "sources_for", lambda sets=None, held_out=True: sources)
    real_fetch = galleries.fetch_galleries
    monkeypatch.setattr(galleries, "fetch_galleries", lambda dest=None, packages=None: real_fetch(
        dest, packages, "https://index.test/pypi", _fake_index({}, {})))  # PyPI unreachable now
    with pytest.warns(UserWarning, match="training without statsmodels, dowhy"):
        assert resolve_galleries("auto") == root
    assert list(galleries.fetched_sources(root, sources)) == ["seaborn"]


def test_teacher_pack_copies_the_cached_sources_of_the_profile(tmp_path: Path, fake_sources, monkeypatch) -> None:
    from course_utils import prepare

    sources, archives, versions = fake_sources
    cache = fetch_galleries(tmp_path / "cache", sources, "https://index.test/pypi", _fake_index(archives, versions))
    monkeypatch.setenv("COURSE_GALLERY_DIR", str(cache))
    monkeypatch.setattr(galleries, "sources_for", lambda sets=None, held_out=True: sources)
    opener = _fake_index({}, {})  # nothing may be fetched: everything is cached
    real_fetch = galleries.fetch_galleries
    monkeypatch.setattr(galleries, "fetch_galleries", lambda dest, packages: real_fetch(
        dest, packages, "https://index.test/pypi", opener))
    pack = prepare.copy_galleries(tmp_path / "pack" / "galleries", ("galleries", "notebooks"))
    assert not opener.asked
    assert sorted(p.name for p in pack.iterdir()) == sorted(f"{n}-{versions[n]}" for n in sources)
    assert len(gallery_files(pack, sources)) == len(gallery_files(cache, sources))
