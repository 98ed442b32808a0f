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
        "seaborn": _sdist("seaborn-1.0", {f"examples/plot_{i}.py": SCRIPT.replace("points", f"points {i}")
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


def test_auto_goes_on_without_galleries_when_pypi_is_unreachable(monkeypatch) -> None:
    def unreachable(*args, **kwargs):
        raise GalleryError("could not fetch the seaborn gallery (no route)")

    monkeypatch.setattr(galleries, "fetch_galleries", unreachable)
    with pytest.warns(UserWarning, match="without the example galleries: could not fetch"):
        assert resolve_galleries("auto") is None
    with pytest.raises(GalleryError, match="no route"):
        resolve_galleries(True)
