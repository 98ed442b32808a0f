"""Where learners run it: a simulated Colab (module, Drive folder), Kaggle (its env var), an Apple
laptop (a fake MPS backend), and the one repository URL every notebook's badges and install use."""
from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from course_utils import platforms, profiles, workspace

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither Colab nor Kaggle, whatever machine the tests run on."""
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    monkeypatch.delenv(platforms.DRIVE_WORKSPACE_ENV, raising=False)


@pytest.fixture
def colab(nowhere, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A simulated Colab: the `google.colab` module is imported and /content lives in tmp_path."""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(platforms, "DRIVE_MYDRIVE", tmp_path / "content" / "drive" / "MyDrive")
    monkeypatch.setattr(platforms, "COLAB_LOCAL", tmp_path / "content")
    return tmp_path


def test_detection(nowhere, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not platforms.in_colab() and not platforms.in_kaggle() and not platforms.hosted()
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    assert platforms.in_kaggle() and platforms.hosted() and not platforms.in_colab()
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert platforms.in_colab() and profiles.in_colab()


def test_workspace_stays_in_the_project_elsewhere(nowhere) -> None:
    assert platforms.hosted_workspace("ci") is None
    assert workspace.default_workspace("ci") == profiles.PROJECT_ROOT / "runs" / "workspace-ci"


def test_colab_with_drive_mounted_puts_the_workspace_on_drive(colab: Path) -> None:
    mydrive = colab / "content" / "drive" / "MyDrive"
    mydrive.mkdir(parents=True)
    expected = mydrive / "nlp-course-companion" / "workspace-colab"
    assert platforms.drive_workspace("colab") == expected
    assert workspace.default_workspace("colab") == expected
    made = workspace.workspace(None, "colab")
    assert made == expected and made.is_dir()
    # A run cut off by a disconnect (no COMPLETE marker) is what resume finds from a fresh kernel,
    # because the fresh kernel's default workspace is the same folder on Drive.
    run = workspace.new_run_dir(made, "clm-trainer")
    (run / "checkpoint-500").mkdir()
    again = workspace.workspace(None, "colab")
    assert workspace.run_folder(again, "clm-trainer", resume=True) == run
    assert workspace.latest_complete(again, "clm-trainer") is None
    # An explicit output_dir still wins over Drive.
    assert workspace.workspace(colab / "mine", "colab") == colab / "mine"


def test_colab_without_drive_says_so_in_one_line(colab: Path, capsys: pytest.CaptureFixture) -> None:
    path = workspace.default_workspace("colab")
    assert path == colab / "content" / "nlp-course-companion" / "workspace-colab"
    note = capsys.readouterr().out.strip()
    assert note.count("\n") == 0 and "Google Drive is not mounted" in note and "drive.mount" in note


def test_drive_workspace_env_var(colab: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (colab / "content" / "drive" / "MyDrive").mkdir(parents=True)
    monkeypatch.setenv(platforms.DRIVE_WORKSPACE_ENV, "0")  # stay on the local disk
    assert platforms.drive_workspace("ci") is None
    assert workspace.default_workspace("ci") == colab / "content" / "nlp-course-companion" / "workspace-ci"
    monkeypatch.setenv(platforms.DRIVE_WORKSPACE_ENV, str(colab / "elsewhere"))
    assert workspace.default_workspace("ci") == colab / "elsewhere" / "workspace-ci"


def test_drive_is_only_used_on_colab(nowhere, tmp_path: Path) -> None:
    mydrive = tmp_path / "MyDrive"
    mydrive.mkdir()
    assert platforms.drive_workspace("ci", mydrive) is None


def test_kaggle_workspace_is_in_kaggle_working(nowhere, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    monkeypatch.setattr(platforms, "KAGGLE_WORKING", tmp_path / "kaggle" / "working")
    assert workspace.default_workspace("colab") == tmp_path / "kaggle" / "working" / "nlp-course-companion" / "workspace-colab"


@pytest.mark.parametrize("where", ["colab", "kaggle"])
def test_auto_picks_the_colab_profile_on_a_hosted_gpu(nowhere, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    if where == "colab":
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    monkeypatch.setattr(profiles, "has_gpu", lambda: True)
    assert profiles.get_profile("auto").name == "colab"
    monkeypatch.setattr(profiles, "has_gpu", lambda: False)
    assert profiles.get_profile("auto").name == "workshop"
    assert profiles.get_profile("course").name == "course"  # the full sizes only when asked


def test_colab_profile_is_the_course_on_subsets() -> None:
    colab, course = profiles.get_profile("colab"), profiles.get_profile("course")
    assert not colab.offline
    for key in ("corpus_source", "tokenizer_source", "context_length", "n_layer", "n_embd", "n_head", "learning_rate"):
        assert getattr(colab.clm, key) == getattr(course.clm, key), key
    for key in ("data_source", "encoder_source", "max_length", "stride", "learning_rate", "num_train_epochs"):
        assert getattr(colab.qa, key) == getattr(course.qa, key), key
    assert colab.qa.encoder_source == "bert-base-cased"
    assert colab.clm.max_train_files == 3_000 and colab.clm.max_valid_files == 500
    assert colab.qa.max_train_examples == 12_000


def _t4_minutes(tokens: float, flop_per_token: float, mfu: float = 0.10, peak: float = 65e12) -> float:
    return tokens * flop_per_token / (mfu * peak) / 60


def test_colab_sizes_fit_half_an_hour_by_the_documented_estimate() -> None:
    """The arithmetic of the profile's comments: 6 N per token at 10% of a T4's 65 TFLOP/s."""
    colab = profiles.get_profile("colab")
    clm, qa = colab.clm.to_dict(), colab.qa.to_dict()
    gpt2_params = 124.2e6  # the course's printed size with its 50k-token tokenizer
    clm_tokens = clm["max_train_files"] * 27.5 * clm["context_length"]  # 16.7M chunks / 606,720 files
    clm_flop = 6 * gpt2_params + 12 * clm["n_layer"] * clm["context_length"] * clm["n_embd"]
    assert 18 < _t4_minutes(clm_tokens, clm_flop) < 25
    features = qa["max_train_examples"] * 88_729 / 87_599  # SQuAD train: features per example at 384/128
    qa_tokens = features * qa["num_train_epochs"] * qa["max_length"]
    bert_flop = 6 * 85.6e6 + 12 * 12 * qa["max_length"] * 768  # non-embedding parameters + attention
    assert 18 < _t4_minutes(qa_tokens, bert_flop) < 25


def test_badges_and_links_name_the_notebook() -> None:
    line = platforms.badges("notebooks/01_x.ipynb")
    assert f"colab.research.google.com/github/{platforms.REPO}/blob/main/notebooks/01_x.ipynb" in line
    assert f"kaggle.com/kernels/welcome?src={platforms.REPO_URL}/blob/main/notebooks/01_x.ipynb" in line


def _first_markdown(path: Path) -> str:
    nb = json.loads(path.read_text())
    return "".join(next(c for c in nb["cells"] if c["cell_type"] == "markdown")["source"])


def _setup_cell(path: Path) -> str:
    nb = json.loads(path.read_text())
    return next("".join(c["source"]) for c in nb["cells"] if "google.colab" in "".join(c["source"]))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_uses_the_one_repository_url(path: Path) -> None:
    relpath = path.relative_to(ROOT).as_posix()
    first = _first_markdown(path)
    assert first.splitlines()[0] == platforms.badges(relpath), "badge line: run tools/update_headers.py"
    setup = _setup_cell(path)
    assert f'"{platforms.INSTALL_SPEC}"' in setup
    urls = {word for word in (first + setup).replace("(", " ").replace(")", " ").replace('"', " ").split()
            if "github.com" in word}
    assert urls and all(platforms.REPO_URL in url for url in urls), urls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_links_its_course_page_in_english_and_japanese(path: Path) -> None:
    section = 6 if int(path.name[:2]) <= 5 else 7
    first = _first_markdown(path)
    assert f"https://huggingface.co/learn/llm-course/chapter7/{section})" in first
    assert f"https://huggingface.co/learn/llm-course/ja/chapter7/{section})" in first
    assert "https://www.youtube.com/watch?v=" in first


def test_headers_are_up_to_date_with_the_tool() -> None:
    spec = importlib.util.spec_from_file_location("update_headers", ROOT / "tools" / "update_headers.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main(["--check"]) == 0
    with pytest.raises(ValueError, match="no course step is known for notebook '11'"):
        tool.course_links("11")


@pytest.mark.parametrize("path", NOTEBOOKS[:1] + NOTEBOOKS[10:11], ids=lambda p: p.name)
def test_install_cell_runs_pip_on_kaggle_and_keeps_its_torch(path: Path, nowhere, monkeypatch: pytest.MonkeyPatch) -> None:
    install = _setup_cell(path).split("from course_utils")[0]
    calls: list[list[str]] = []
    monkeypatch.setitem(sys.modules, "subprocess", types.SimpleNamespace(run=lambda cmd, **kw: calls.append(cmd)))
    exec(compile(install, path.name, "exec"), {})
    assert calls == []
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
    exec(compile(install, path.name, "exec"), {})
    assert len(calls) == 1 and calls[0][-1] == platforms.INSTALL_SPEC and "torch" not in " ".join(calls[0])


def test_a_hub_squad_train_subset_is_the_courses_shuffle_select(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQuAD's train split is sorted by article, so `qa_max_train_examples` on a Hub source takes the
    course's `.shuffle(seed).select(range(n))` (questions from every article), not the first n; the
    validation split keeps its order. A fake Hub source stands in for `load_dataset("squad")`."""
    from course_utils import assets
    from course_utils.qa import data as qa_data

    def records(split: str, n_titles: int, per_title: int) -> list[dict]:
        out = []
        for t in range(n_titles):
            context = f"Article {t} was written in the year {1900 + t}."
            start = context.index(str(1900 + t))
            for q in range(per_title):
                out.append({"id": f"{split}-{t}-{q}", "title": f"title-{t:02d}", "context": context,
                            "question": f"When was article {t} written ({q})?",
                            "answers": {"text": [str(1900 + t)], "answer_start": [start]}})
        return out

    hub = {"train": qa_data.records_to_dataset(records("train", 20, 10)),
           "validation": qa_data.records_to_dataset(records("validation", 5, 4))}
    monkeypatch.setattr(qa_data, "resolve_source", lambda value, what: assets.Source("hub", str(value)))
    monkeypatch.setattr(qa_data, "_raw_records", lambda source, what, seed: hub)
    cfg = profiles.get_profile("colab", qa_max_train_examples=50, qa_max_eval_examples=6, seed=42)
    raw = qa_data.load_qa_datasets(cfg)
    titles = set(raw["train"]["title"])
    assert len(raw["train"]) == 50 and len(titles) > 10  # the first 50 would be 5 articles
    assert raw["train"]["id"] == hub["train"].shuffle(seed=42).select(range(50))["id"]
    assert raw["validation"]["id"] == hub["validation"]["id"][:6]
    again = qa_data.load_qa_datasets(profiles.get_profile("colab", qa_max_train_examples=50, seed=42))
    assert again["train"]["id"] == raw["train"]["id"]  # seeded: the same subset every run
