"""The workshop kit (course_utils.kit, prepare --wheels, prepare check), offline on a fake index.

The index is a folder of tiny wheels built here: a package whose dependency only Windows needs
(the environment-marker case `pip download --platform` gets wrong on its own), one with a wheel per
platform, one that has no Windows wheel, and a fake CUDA torch. pip runs for real, with
``--no-index`` and no pip configuration, so nothing is fetched from the network."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from course_utils import kit, prepare

LINUX, MAC, WIN = "linux-x86_64", "macos-arm64", "windows-x86_64"


def _wheel(index: Path, name: str, version: str, tag: str, requires: tuple[str, ...] = ()) -> Path:
    """A minimal valid wheel: one module, METADATA, WHEEL and a RECORD with hashes."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": "Metadata-Version: 2.1\n" f"Name: {name}\nVersion: {version}\n"
                            + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    path = index / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name_in_zip, text in files.items():
            zf.writestr(name_in_zip, text)
    return path


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    idx = tmp_path_factory.mktemp("index")
    _wheel(idx, "kitdemo-a", "1.0", "py3-none-any", ("kitdemo-b>=1", 'kitdemo-win; sys_platform == "win32"'))
    _wheel(idx, "kitdemo-a", "2.0", "py3-none-any", ("kitdemo-b>=1",))  # the constraints pin 1.0
    for tag in ("manylinux_2_17_x86_64", "macosx_11_0_arm64", "win_amd64"):
        _wheel(idx, "kitdemo-b", "1.0", f"py3-none-{tag}")
    _wheel(idx, "kitdemo-win", "1.0", "py3-none-any")
    _wheel(idx, "kitdemo-linuxonly", "1.0", "py3-none-manylinux_2_17_x86_64")
    _wheel(idx, "torch", "9.0", "py3-none-any", ('nvidia-fake-cublas; platform_system == "Linux"',))
    _wheel(idx, "nvidia-fake-cublas", "1.0", "py3-none-any")
    return idx


@pytest.fixture(autouse=True)
def no_pip_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the fake index: no pip.conf (find-links, extra indexes, global constraints) here."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for var in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"):
        monkeypatch.delenv(var, raising=False)


def _offline(index: Path) -> list[str]:
    return ["--no-index", "--find-links", str(index)]


def _pins(tmp_path: Path, *lines: str) -> tuple[Path, Path]:
    req = tmp_path / "requirements.txt"
    req.write_text("kitdemo-a\n" + "".join(f"{line}\n" for line in lines))
    cons = tmp_path / "constraints.txt"
    cons.write_text("kitdemo-a==1.0\nkitdemo-b==1.0\n")
    return req, cons


def test_each_platform_gets_its_own_markers_and_wheels(index: Path, tmp_path: Path) -> None:
    req, cons = _pins(tmp_path)
    args = ["-r", str(req), "-c", str(cons)]
    plans = {p: kit.resolve_wheels(p, args, pip_args=_offline(index)) for p in (LINUX, MAC, WIN)}
    names = {p: [(w.name, w.version) for w in ws] for p, ws in plans.items()}
    assert names[LINUX] == names[MAC] == [("kitdemo-a", "1.0"), ("kitdemo-b", "1.0")]
    assert names[WIN] == [("kitdemo-a", "1.0"), ("kitdemo-b", "1.0"), ("kitdemo-win", "1.0")]
    assert [w.filename for w in plans[MAC]][1] == "kitdemo_b-1.0-py3-none-macosx_11_0_arm64.whl"
    assert [w.filename for w in plans[WIN]][1] == "kitdemo_b-1.0-py3-none-win_amd64.whl"
    wheel = plans[LINUX][1]
    assert wheel.sha256 == hashlib.sha256((index / wheel.filename).read_bytes()).hexdigest()
    sized = kit.plan_sizes(plans)
    assert sized[LINUX][1].size == (index / wheel.filename).stat().st_size


def test_a_platform_without_a_wheel_is_named(index: Path, tmp_path: Path) -> None:
    req, cons = _pins(tmp_path, "kitdemo-linuxonly")
    assert len(kit.resolve_wheels(LINUX, ["-r", str(req), "-c", str(cons)], pip_args=_offline(index))) == 3
    with pytest.raises(kit.KitError, match=r"No windows-x86_64 wheel .* of kitdemo-linuxonly"):
        kit.resolve_wheels(WIN, ["-r", str(req), "-c", str(cons)], pip_args=_offline(index))


def test_a_cuda_torch_is_refused_with_the_cpu_index_named(index: Path) -> None:
    with pytest.raises(kit.KitError, match=r"torch 9.0 for linux-x86_64 is the CUDA build.*nvidia-fake-cublas.*whl/cpu"):
        kit.resolve_wheels(LINUX, ["torch==9.0"], pip_args=_offline(index))
    assert [w.name for w in kit.resolve_wheels(MAC, ["torch==9.0"], pip_args=_offline(index))] == ["torch"]


def test_unknown_platform_is_named() -> None:
    with pytest.raises(kit.KitError, match="unknown platform 'amiga'"):
        kit.resolve_wheels("amiga", ["x"])


def _runs(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    for name, profile, finished, seconds in [("2026-11-26_1000", "workshop", True, [600.0, 400.5]),
                                             ("2026-11-27_0900", "workshop", True, [900.0, 530.0]),
                                             ("2026-11-27_1200", "workshop", False, [5.0]),
                                             ("2026-11-28_0800", "ci", True, [60.0])]:
        (runs / name).mkdir(parents=True)
        (runs / name / "summary.json").write_text(json.dumps(
            {"profile": profile, "finished": finished, "notebooks": [{"seconds": s} for s in seconds]}))
    return runs


def test_latest_course_seconds_is_the_newest_finished_workshop_run(tmp_path: Path) -> None:
    assert kit.latest_course_seconds(_runs(tmp_path)) == {"run": "2026-11-27_0900", "seconds": 1430.0, "notebooks": 2}
    assert kit.latest_course_seconds(tmp_path / "none") is None


@pytest.fixture(scope="module")
def made_kit(index: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """prepare() itself: the ci assets, wheels for Linux and Windows from the fake index."""
    base = tmp_path_factory.mktemp("kit")
    req, cons = _pins(base)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_CONFIG_FILE", os.devnull)
        mp.delenv("PIP_FIND_LINKS", raising=False)
        folder = prepare.prepare(base / "kit", "ci", wheels=[LINUX, WIN], pip_args=_offline(index),
                                 requirements=req, constraints=cons, build_requirements=(),
                                 runs=_runs(base), log=lambda *a: None)
    return folder, cons


def test_prepared_kit_checks_clean_and_says_what_it_covers(made_kit: tuple[Path, Path]) -> None:
    folder, cons = made_kit
    manifest = json.loads((folder / kit.MANIFEST).read_text())
    wheels = sorted(p.name for p in (folder / "wheels").iterdir())
    assert wheels == ["kitdemo_a-1.0-py3-none-any.whl", "kitdemo_b-1.0-py3-none-manylinux_2_17_x86_64.whl",
                      "kitdemo_b-1.0-py3-none-win_amd64.whl", "kitdemo_win-1.0-py3-none-any.whl"]
    assert manifest["wheels"]["platforms"][LINUX] == wheels[:2]
    entry = manifest["files"]["wheels/kitdemo_win-1.0-py3-none-any.whl"]
    assert entry["sha256"] == hashlib.sha256((folder / "wheels" / wheels[3]).read_bytes()).hexdigest()
    assert "qa-encoder/config.json" in manifest["files"]  # the assets are checksummed too
    report = kit.check_kit(folder, platform=WIN, constraints=cons)
    assert report.ok, report.problems
    assert report.platforms == [LINUX, WIN]
    assert report.platform_bytes[LINUX] == sum((folder / "wheels" / n).stat().st_size for n in wheels[:2])
    text = "\n".join(report.lines())
    assert "make course took 24 min (1430 s, run 2026-11-27_0900)" in text and text.endswith("OK")


def test_install_from_the_kit_needs_no_index(made_kit: tuple[Path, Path], tmp_path: Path) -> None:
    folder, _ = made_kit
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links",
                    str(folder / "wheels"), "--target", str(target), "kitdemo-a==1.0"], check=True)
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith("dist-info")) == ["kitdemo_a", "kitdemo_b"]


def test_damaged_missing_and_uncovered_are_named(made_kit: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    import shutil

    src, cons = made_kit
    folder = tmp_path / "copy"
    shutil.copytree(src, folder)
    (folder / "wheels" / "kitdemo_b-1.0-py3-none-win_amd64.whl").write_bytes(b"not a wheel")
    (folder / "wheels" / "kitdemo_a-1.0-py3-none-any.whl").unlink()
    other = tmp_path / "constraints.txt"
    other.write_text("kitdemo-a==2.0\n")
    report = kit.check_kit(folder, platform=MAC, constraints=other)
    assert report.problems == [
        f"missing: wheels/kitdemo_a-1.0-py3-none-any.whl (kitdemo-a 1.0, needed on {LINUX}, {WIN})",
        f"checksum mismatch: wheels/kitdemo_b-1.0-py3-none-win_amd64.whl (kitdemo-b 1.0, needed on {WIN}): "
        "the file is damaged; copy it again from the teacher's kit",
        f"the kit has no wheels for {MAC} (it covers: {LINUX}, {WIN}); prepare it with --wheels {MAC}",
        f"the kit was made from another constraints.txt than {other}: pip would look for versions the kit "
        "does not hold; use the matching checkout of the course or prepare the kit again",
    ]
    assert prepare.main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM: missing: wheels/kitdemo_a-1.0" in out and "do not hand this kit out" in out
    assert prepare.main(["check", str(tmp_path / "nothing")]) == 1
    assert "is not a workshop kit" in capsys.readouterr().out
    # pip, offline, names the package it cannot find: never a silent download
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index", "--find-links",
                           str(folder / "wheels"), "--target", str(tmp_path / "t"), "kitdemo-a==1.0"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "No matching distribution found for kitdemo-a==1.0" in proc.stderr


def test_check_runs_before_anything_is_installed(made_kit: tuple[Path, Path]) -> None:
    """`make setup WHEELS=` runs the check with the machine's bare Python: no ML library imported."""
    folder, _ = made_kit
    code = ("import sys; from course_utils import prepare; rc = prepare.main(['check', sys.argv[1]]); "
            "bad = [m for m in ('torch', 'datasets', 'transformers', 'course_utils.clm') if m in sys.modules]; "
            "assert not bad, bad; sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True,
                          cwd=Path(prepare.__file__).parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
