"""course_utils.qa.data: the bundled set, every source kind, subsets and the `squad` schema."""
from __future__ import annotations

import collections
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.assets import OfflineError, bundled_data_path
from course_utils.qa import data as qa_data
from course_utils.qa.data import answer_counts, load_qa_datasets, read_squad_file, squad_features

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT.parent / "shared" / "data" / "squad"


@pytest.fixture(scope="module")
def bundled():
    return load_qa_datasets({"data_source": "bundled"})


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from course_utils.assets import bundled_qa_encoder_path

    return AutoTokenizer.from_pretrained(bundled_qa_encoder_path())


def _records(n_titles=3, per_title=2, answers=1):
    out = []
    for t in range(n_titles):
        context = f"Article {t} says that the answer number {t} is forty-{t} and nothing else."
        for q in range(per_title):
            text = f"forty-{t}"
            start = context.index(text)
            out.append({"id": f"t{t}q{q}", "title": f"Title_{t}", "context": context,
                        "question": f"What is answer {t}/{q}?",
                        "answers": {"text": [text] * answers, "answer_start": [start] * answers}})
    return out


def _write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _nested(records) -> dict:
    """Flat records -> the official nested v1.1 layout."""
    articles = collections.OrderedDict()
    for r in records:
        paragraphs = articles.setdefault(r["title"], collections.OrderedDict())
        qas = paragraphs.setdefault(r["context"], [])
        qas.append({"id": r["id"], "question": r["question"],
                    "answers": [{"text": t, "answer_start": s}
                                for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])]})
    return {"version": "1.1", "data": [
        {"title": title, "paragraphs": [{"context": c, "qas": qas} for c, qas in paragraphs.items()]}
        for title, paragraphs in articles.items()]}


# ---------------------------------------------------------------------------------------------
# The bundled set
# ---------------------------------------------------------------------------------------------
def test_bundled_sizes_and_schema(bundled):
    train, valid = bundled["train"], bundled["validation"]
    assert train.features == squad_features() and valid.features == squad_features()
    paragraphs = set(list(train["context"])) | set(list(valid["context"]))
    assert len(paragraphs) >= 120
    assert len(train) + len(valid) >= 600
    assert len(train) == 692 and len(valid) == 173  # regenerated deterministically (see test below)


def test_bundled_answer_counts(bundled):
    assert answer_counts(bundled["train"]) == {1: len(bundled["train"])}
    counts = answer_counts(bundled["validation"])
    assert set(counts) == {3}  # several references per question, as SQuAD dev has


def test_bundled_answers_sit_at_answer_start(bundled):
    n = 0
    for split in ("train", "validation"):
        for r in bundled[split]:
            for text, start in zip(r["answers"]["text"], r["answers"]["answer_start"]):
                assert r["context"][start:start + len(text)] == text
                n += 1
    assert n == 692 + 3 * 173


def test_bundled_validation_references_differ_sometimes(bundled):
    differing = sum(len(set(a["text"])) > 1 for a in list(bundled["validation"]["answers"]))
    assert differing > len(bundled["validation"]) // 3


def test_bundled_splits_are_disjoint(bundled):
    train, valid = bundled["train"], bundled["validation"]
    assert not set(list(train["context"])) & set(list(valid["context"]))
    assert not set(list(train["question"])) & set(list(valid["question"]))
    assert not set(list(train["id"])) & set(list(valid["id"]))
    assert not set(list(train["title"])) & set(list(valid["title"]))
    assert len(set(list(train["id"]))) == len(train)


def test_bundled_question_kinds_are_varied(bundled):
    questions = list(bundled["train"]["question"]) + list(bundled["validation"]["question"])
    first = collections.Counter(q.split()[0] for q in questions)
    for word in ("Who", "What", "When", "Where", "Why", "Which"):
        assert first[word] >= 20, word
    assert sum(q.startswith("How many") for q in questions) >= 15


def test_bundled_has_the_course_pipeline_example(bundled):
    rows = [r for r in bundled["train"] if r["question"] == "Which deep learning libraries back 🤗 Transformers?"]
    assert len(rows) == 1
    assert rows[0]["answers"]["text"] == ["Jax, PyTorch and TensorFlow"]
    assert "backed by the three most popular deep learning libraries" in rows[0]["context"]


def test_bundled_contexts_need_several_windows(bundled, tokenizer):
    lengths = [len(tokenizer(c)["input_ids"]) for c in set(list(bundled["train"]["context"]))]
    # A 384-token window holds ~360 context tokens after [CLS] question [SEP] ... [SEP].
    assert sum(n > 360 for n in lengths) >= 5
    assert sum(n > 240 for n in lengths) >= 30


def test_generator_is_deterministic_and_committed_output_is_current(tmp_path):
    script = ROOT / "tools" / "make_bundled_qa.py"
    assert subprocess.run([sys.executable, str(script), "--check"], capture_output=True).returncode == 0
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True)
    for split in ("train", "validation"):
        assert (tmp_path / f"{split}.jsonl").read_bytes() == bundled_data_path("qa", f"{split}.jsonl").read_bytes()


# ---------------------------------------------------------------------------------------------
# Sources and subsets
# ---------------------------------------------------------------------------------------------
def test_profile_subsets_take_the_first_examples(bundled):
    from course_utils.profiles import get_profile

    cfg = get_profile("ci")
    raw = load_qa_datasets(cfg)
    assert len(raw["train"]) == cfg.qa.max_train_examples == 48
    assert len(raw["validation"]) == cfg.qa.max_eval_examples
    assert list(raw["train"]["id"]) == list(bundled["train"]["id"])[:48]
    big = load_qa_datasets({"data_source": "bundled", "max_train_examples": 10**6})
    assert len(big["train"]) == len(bundled["train"])


def test_local_jsonl_folder(tmp_path):
    _write_jsonl(tmp_path / "train.jsonl", _records())
    with gzip.open(tmp_path / "dev-v1.1.json.gz", "wt", encoding="utf-8") as f:
        json.dump(_nested(_records(n_titles=2, answers=2)), f)
    raw = load_qa_datasets({"data_source": str(tmp_path)})
    assert len(raw["train"]) == 6 and len(raw["validation"]) == 4
    assert raw["validation"][0]["answers"]["text"] == ["forty-0", "forty-0"]
    assert raw["validation"].features == squad_features()


def test_single_file_is_split_by_title(tmp_path):
    path = _write_jsonl(tmp_path / "all.jsonl", _records(n_titles=10))
    raw = load_qa_datasets({"data_source": str(path)})
    assert len(raw["train"]) + len(raw["validation"]) == 20
    assert len(set(list(raw["validation"]["title"]))) == 1  # 10% of the 10 articles
    assert not set(list(raw["train"]["title"])) & set(list(raw["validation"]["title"]))
    again = load_qa_datasets({"data_source": str(path)})
    assert list(again["validation"]["id"]) == list(raw["validation"]["id"])


def test_eval_source_file_is_the_whole_validation_split(tmp_path):
    train = _write_jsonl(tmp_path / "train-sample.jsonl", _records(n_titles=3))
    dev = tmp_path / "dev.json"
    dev.write_text(json.dumps(_nested(_records(n_titles=4, answers=3))), encoding="utf-8")
    raw = load_qa_datasets({"data_source": str(train), "eval_source": str(dev), "max_eval_examples": 5})
    assert len(raw["train"]) == 6  # the whole train file, not split
    assert len(raw["validation"]) == 5
    assert answer_counts(raw["validation"]) == {3: 5}


def test_extra_train_source_adds_its_train_split_only(tmp_path, bundled):
    train = _write_jsonl(tmp_path / "train-sample.jsonl", _records(n_titles=3))
    dev = _write_jsonl(tmp_path / "dev.jsonl", _records(n_titles=2, answers=2))
    cfg = {"data_source": str(train), "eval_source": str(dev), "extra_train_source": "bundled"}
    raw = load_qa_datasets(cfg)
    ids = list(raw["train"]["id"])
    assert len(ids) == 6 + len(bundled["train"]) and len(set(ids)) == len(ids)
    assert set(bundled["train"]["id"]) <= set(ids)
    assert not set(bundled["validation"]["id"]) & set(ids)  # never the extra source's validation
    assert len(raw["validation"]) == 4 and raw["train"].features == squad_features()
    assert ids[:6] != [r["id"] for r in _records(n_titles=3)]  # shuffled together, not appended
    assert list(load_qa_datasets(cfg)["train"]["id"]) == ids  # ... with the seed
    assert raw.validation_reports["extra_train"].kept == len(bundled["train"])


def test_extra_train_source_errors_name_the_parameter(tmp_path):
    with pytest.raises(ValueError, match="qa_extra_train_source='bundled' is the same as qa_data_source"):
        load_qa_datasets({"data_source": "bundled", "extra_train_source": "bundled"})
    with pytest.raises((ValueError, FileNotFoundError), match="qa_extra_train_source"):
        load_qa_datasets({"data_source": "bundled", "extra_train_source": str(tmp_path / "missing.jsonl")})
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="no training examples"):
        load_qa_datasets({"data_source": "bundled", "extra_train_source": str(empty)})


def test_saved_datasetdict_folder(tmp_path, bundled):
    from datasets import DatasetDict

    small = DatasetDict({"train": bundled["train"].select(range(7)), "validation": bundled["validation"].select(range(3))})
    small.save_to_disk(str(tmp_path / "prepared"))
    raw = load_qa_datasets({"data_source": str(tmp_path / "prepared")})
    assert list(raw["train"]["id"]) == list(small["train"]["id"]) and len(raw["validation"]) == 3


def test_flat_json_list_file(tmp_path):
    path = tmp_path / "records.json"
    path.write_text(json.dumps(_records(n_titles=10)), encoding="utf-8")
    assert len(read_squad_file(path)) == 20


def test_hub_id_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="squad"):
        load_qa_datasets({"data_source": "squad"})


def test_hub_path_keeps_the_course_call(monkeypatch):
    """Online, a Hub id goes to the course's own `load_dataset(<id>)`."""
    import datasets

    calls = []

    def fake_load_dataset(name, *args, **kwargs):
        calls.append(name)
        recs = _records(n_titles=2)
        return datasets.DatasetDict({"train": qa_data.records_to_dataset(recs),
                                     "validation": qa_data.records_to_dataset(_records(n_titles=1, answers=2))})

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    raw = load_qa_datasets({"data_source": "squad", "max_train_examples": 3})
    assert calls == ["squad"] and len(raw["train"]) == 3


# ---------------------------------------------------------------------------------------------
# Real SQuAD (reference material in ../shared/data)
# ---------------------------------------------------------------------------------------------
@pytest.mark.shared_data
def test_real_squad_files(shared_data):
    squad = shared_data / "squad"
    raw = load_qa_datasets({"data_source": str(squad / "train-sample-v1.1.jsonl"),
                            "eval_source": str(squad / "dev-v1.1.json.gz")})
    assert len(raw["train"]) == 765 and len(raw["validation"]) == 10570
    assert answer_counts(raw["train"]) == {1: 765}
    counts = answer_counts(raw["validation"])
    assert min(counts) == 1 and max(counts) >= 5
    assert raw["validation"][0]["id"] == "56be4db0acb8001400a502ec"
