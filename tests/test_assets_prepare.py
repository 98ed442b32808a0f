"""Offline workshops: the loading half of `python -m course_utils.prepare prepare`, tested offline
with a folder built from the bundled assets (the download half needs the Hub)."""
from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from course_utils import assets, prepare, profiles


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("assets") / "prepared"
    return prepare.prepare(folder, "ci")


def test_manifest_maps_every_asset_parameter(prepared: Path) -> None:
    sources = assets.prepared_sources(prepared)
    assert set(sources) == set(assets.PREPARED_LAYOUT)
    manifest = json.loads((prepared / assets.MANIFEST).read_text())
    assert manifest["profile"] == "ci" and manifest["sizes"]["qa_train_examples"] > 0
    with pytest.raises(FileExistsError, match="not empty"):
        prepare.prepare(prepared, "ci")


def test_notebooks_load_everything_from_the_folder(prepared: Path) -> None:
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from course_utils.clm.corpus import load_raw_datasets
    from course_utils.qa.data import load_qa_datasets

    sources = assets.prepared_sources(prepared)
    cfg = profiles.get_profile("ci", **sources)
    raw = load_raw_datasets(cfg)
    bundled_raw = load_raw_datasets(profiles.get_profile("ci"))
    # the same files (the subset is re-shuffled with the seed on load, so compare as sets)
    assert sorted(raw["train"]["path"]) == sorted(bundled_raw["train"]["path"])
    qa = load_qa_datasets(cfg)
    assert qa["validation"]["id"] == load_qa_datasets(profiles.get_profile("ci"))["validation"]["id"]
    tok = AutoTokenizer.from_pretrained(sources["clm_tokenizer_source"])
    assert tok.is_fast and tok.eos_token is not None
    model = AutoModelForQuestionAnswering.from_pretrained(sources["qa_encoder_source"])
    assert model.config.model_type == "bert"


def test_missing_or_broken_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a prepared asset folder"):
        assets.prepared_sources(tmp_path)
    (tmp_path / assets.MANIFEST).write_text(json.dumps({"assets": {"qa_data_source": {"path": "qa-data"}}}))
    with pytest.raises(FileNotFoundError, match="qa-data but it is missing"):
        assets.prepared_sources(tmp_path)


@pytest.mark.shared_data
def test_a_teacher_folder_with_real_squad(shared_data: Path, tmp_path: Path) -> None:
    """A folder holding the real SQuAD files (train sample + dev) loads as the QA data source."""
    from course_utils.qa.data import load_qa_datasets

    folder = tmp_path / "squad"
    folder.mkdir()
    shutil.copy(shared_data / "squad" / "train-sample-v1.1.jsonl", folder / "train.jsonl")
    with gzip.open(shared_data / "squad" / "dev-v1.1.json.gz", "rb") as src:
        (folder / "dev.json").write_bytes(src.read())
    # workshop: no example cap, so the whole files load
    qa = load_qa_datasets(profiles.get_profile("workshop", qa_data_source=str(folder)))
    assert (len(qa["train"]), len(qa["validation"])) == (765, 10570)
    assert all(len(a["text"]) == 1 for a in qa["train"]["answers"])


def test_foundation_modules_import_no_wing_and_no_ml_library() -> None:
    """Imports run one way: profiles, assets and workspace sit below the wings and load fast."""
    import subprocess
    import sys

    code = ("import sys; import course_utils.profiles, course_utils.assets, course_utils.workspace; "
            "bad = [m for m in ('course_utils.clm', 'course_utils.qa', 'torch', 'transformers') if m in sys.modules]; "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
