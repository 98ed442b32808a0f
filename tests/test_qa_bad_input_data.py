"""§7 data, windows and post-processing on bad input: each case gives a clear error naming the
record or the argument (or, for training data with on_bad="skip", a counted skip)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from course_utils.assets import OfflineError
from course_utils.qa.data import BadRecordError, load_qa_datasets, read_squad_file, validate_records
from course_utils.qa.features import WindowError, preprocess_training_examples, preprocess_validation_examples
from course_utils.qa.postprocess import LogitsMismatchError, predict_answers

CONTEXT = "The Rhine rises in the Swiss Alps and flows into the North Sea near Rotterdam."


def good(rid="r1", **changes):
    record = {"id": rid, "title": "Rhine", "context": CONTEXT, "question": "Where does the Rhine rise?",
              "answers": {"text": ["the Swiss Alps"], "answer_start": [CONTEXT.index("the Swiss Alps")]}}
    record.update(changes)
    return record


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from course_utils.assets import bundled_qa_encoder_path

    return AutoTokenizer.from_pretrained(bundled_qa_encoder_path())


def batch(*records):
    return {k: [r[k] for r in records] for k in records[0]}


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------
BAD_RECORDS = [
    ("answer not at answer_start", good("bad-start", answers={"text": ["the Swiss Alps"], "answer_start": [3]}),
     "train", r"'bad-start'.*not at answer_start=3.*occurs at 19"),
    ("answer past the end", good("past", answers={"text": ["Rotterdam"], "answer_start": [500]}),
     "train", r"'past'.*does not fit in the context"),
    ("zero answers in train", good("zero", answers={"text": [], "answer_start": []}), "train", r"'zero'.*exactly one answer, found 0"),
    ("two answers in train", good("two", answers={"text": ["the Swiss Alps", "Swiss Alps"], "answer_start": [19, 23]}),
     "train", r"'two'.*exactly one answer, found 2"),
    ("zero answers in validation", good("zero-v", answers={"text": [], "answer_start": []}), "validation", r"'zero-v'.*no answer"),
    ("empty context", good("empty", context="   ", answers={"text": ["x"], "answer_start": [0]}), "train", r"'empty'.*empty context"),
    ("empty question", good("noq", question=" \t"), "train", r"'noq'.*empty question"),
    ("non-string question", good("intq", question=42), "train", r"'intq'.*question must be a string, got int"),
    ("non-string context", good("listc", context=["a"]), "train", r"'listc'.*context must be a string"),
    ("answer_start as string", good("strstart", answers={"text": ["the Swiss Alps"], "answer_start": ["19"]}),
     "train", r"'strstart'.*answer_start must be an int"),
    ("answers not a dict", good("ansl", answers=["the Swiss Alps"]), "train", r"'ansl'.*'answers' must be a dict"),
    ("ragged answers", good("rag", answers={"text": ["a", "b"], "answer_start": [0]}), "validation", r"'rag'.*2 answer texts but 1"),
    ("missing key", {k: v for k, v in good("nokey").items() if k != "title"}, "train", r"'nokey'.*missing key\(s\) title"),
    ("not a dict", ["a", "list"], "train", r"position 0.*expected a dict"),
    ("lone surrogate", good("surr", context=CONTEXT + " \ud800"), "train", r"'surr'.*invalid unicode"),
    ("empty answer text", good("blank", answers={"text": [" "], "answer_start": [3]}), "train", r"'blank'.*(empty|not at)"),
    ("unicode normalisation", good("nfc", context="Café de Flore is in Paris.",
                                   answers={"text": ["Cafe\u0301"], "answer_start": [0]}), "train", r"'nfc'.*unicode normalisation"),
    ("odd white space", good("ws", context="It flows into the North\u00a0Sea today.",
                             answers={"text": ["North Sea"], "answer_start": [18]}), "train", r"'ws'.*differ only in white space"),
]


@pytest.mark.parametrize("name,record,split,pattern", BAD_RECORDS, ids=[c[0] for c in BAD_RECORDS])
def test_bad_record_is_named(name, record, split, pattern):
    with pytest.raises(ValueError, match=pattern):
        validate_records([good("fine"), record] if isinstance(record, dict) else [record], split)


def test_duplicate_ids():
    with pytest.raises(BadRecordError, match="'r1'.*duplicate id"):
        validate_records([good(), good()], "train")


def test_training_records_can_be_skipped_with_a_count(caplog):
    records = [good("a"), good("b", answers={"text": [], "answer_start": []}),
               good("c", answers={"text": ["x"], "answer_start": [0]}), good("d")]
    kept, report = validate_records(records, "train", on_bad="skip")
    assert [r["id"] for r in kept] == ["a", "d"]
    assert report.n_skipped == 2 and set(report.skipped) == {"b", "c"}
    assert str(report) == "train: kept 2, skipped 2"
    assert "skipped 2 bad train record(s)" in caplog.text


def test_skip_applies_to_train_only(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps(good("t1")) + "\n" + json.dumps(good("t2", question=3)) + "\n")
    (tmp_path / "validation.jsonl").write_text(json.dumps(good("v1", answers={"text": ["x"], "answer_start": [0]})) + "\n")
    with pytest.raises(BadRecordError, match="validation record 'v1'"):
        load_qa_datasets({"data_source": str(tmp_path)}, on_bad="skip")
    (tmp_path / "validation.jsonl").write_text(json.dumps(good("v1")) + "\n")
    raw = load_qa_datasets({"data_source": str(tmp_path)}, on_bad="skip")
    assert len(raw["train"]) == 1 and raw.validation_reports["train"].n_skipped == 1
    with pytest.raises(BadRecordError, match="train record 't2'"):
        load_qa_datasets({"data_source": str(tmp_path)})


def test_all_records_bad_is_an_error():
    with pytest.raises(ValueError, match="train: no usable records \\(1 skipped\\)"):
        validate_records([good(question="")], "train", on_bad="skip")
    with pytest.raises(ValueError, match="on_bad"):
        validate_records([good()], "train", on_bad="ignore")


# ---------------------------------------------------------------------------------------------
# Files and sources
# ---------------------------------------------------------------------------------------------
def test_bad_json_line_names_the_line(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(good()) + "\n{not json\n")
    with pytest.raises(ValueError, match="line 2 is not valid JSON"):
        read_squad_file(path)


def test_unsupported_file_type(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n")
    with pytest.raises(ValueError, match="unsupported file type"):
        read_squad_file(path)


def test_json_without_data_list(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"version": "1.1"}))
    with pytest.raises(ValueError, match="not a SQuAD v1.1 file"):
        read_squad_file(path)


def test_missing_local_path():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_qa_datasets({"data_source": "./no/such/squad.json"})


def test_folder_without_splits(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected train"):
        load_qa_datasets({"data_source": str(tmp_path)})


def test_hub_id_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="offline"):
        load_qa_datasets({"data_source": "rajpurkar/squad"})


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_bad_subset_sizes(value):
    with pytest.raises(ValueError, match="max_train_examples"):
        load_qa_datasets({"data_source": "bundled", "max_train_examples": value})


def test_bad_cfg_type():
    with pytest.raises(TypeError, match="expected a profiles.Profile, QaSettings"):
        load_qa_datasets(42)


# ---------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------
def test_stride_not_smaller_than_max_length(tokenizer):
    with pytest.raises(ValueError, match="stride=128 must be smaller than max_length=128"):
        preprocess_training_examples(batch(good()), tokenizer, max_length=128, stride=128)
    with pytest.raises(ValueError, match="stride=-1"):
        preprocess_training_examples(batch(good()), tokenizer, max_length=128, stride=-1)
    with pytest.raises(TypeError, match="max_length must be an int"):
        preprocess_training_examples(batch(good()), tokenizer, max_length="384", stride=128)


def test_question_longer_than_max_length(tokenizer):
    long_q = good("longq", question="Where " + "exactly " * 80 + "does it rise?")
    with pytest.raises(WindowError, match="record 'longq': the question has \\d+ tokens, longer than max_length=64"):
        preprocess_training_examples(batch(good(), long_q), tokenizer, max_length=64, stride=16)
    with pytest.raises(WindowError, match="'longq'"):
        preprocess_validation_examples(batch(good(), long_q), tokenizer, max_length=64, stride=16)


def test_question_leaves_no_room_for_the_stride(tokenizer):
    q = good("tight", question="Where " + "exactly " * 20 + "does it rise?")
    with pytest.raises(WindowError, match="record 'tight': after its \\d+-token question only \\d+ context tokens fit"):
        preprocess_training_examples(batch(q), tokenizer, max_length=40, stride=30)


def test_slow_tokenizer(tokenizer):
    from transformers import BertTokenizerLegacy

    from course_utils.assets import bundled_qa_encoder_path

    slow = BertTokenizerLegacy(vocab_file=str(bundled_qa_encoder_path() / "vocab.txt"))
    assert not slow.is_fast
    with pytest.raises(TypeError, match="BertTokenizerLegacy is not a fast tokenizer"):
        preprocess_training_examples(batch(good()), slow, 128, 32)
    with pytest.raises(TypeError, match="not a fast tokenizer"):
        preprocess_validation_examples(batch(good()), slow, 128, 32)


def test_missing_columns_and_empty_context_in_windows(tokenizer):
    with pytest.raises(KeyError, match="'context'"):
        preprocess_training_examples({"question": ["q"]}, tokenizer, 128, 32)
    with pytest.raises(KeyError, match="'id'"):
        preprocess_validation_examples({"question": ["q"], "context": ["c"]}, tokenizer, 128, 32)
    with pytest.raises(ValueError, match="record 'e': empty context"):
        preprocess_training_examples(batch(good("e", context="")), tokenizer, 128, 32)
    with pytest.raises(ValueError, match=r"train record 'z' \(position 0\): a training example needs exactly one answer, found 0"):
        preprocess_training_examples(batch(good("z", answers={"text": [], "answer_start": []})), tokenizer, 128, 32)


# ---------------------------------------------------------------------------------------------
# Post-processing
# ---------------------------------------------------------------------------------------------
def test_logits_that_do_not_match_the_features(tokenizer):
    from course_utils.qa.data import records_to_dataset

    examples = records_to_dataset([good("a"), good("b")])
    feats = examples.map(preprocess_validation_examples, batched=True, remove_columns=examples.column_names,
                         fn_kwargs={"tokenizer": tokenizer, "max_length": 64, "stride": 16})
    ok = np.zeros((len(feats), 64), np.float32)
    with pytest.raises(LogitsMismatchError, match="3 rows of logits for 2 features"):
        predict_answers(np.zeros((3, 64)), np.zeros((3, 64)), feats, examples)
    with pytest.raises(LogitsMismatchError, match="must be 2-D"):
        predict_answers(ok[0], ok[0], feats, examples)
    with pytest.raises(TypeError, match="2-D float array"):
        predict_answers([[1, 2]], [[1, 2]], feats, examples)
    with pytest.raises(KeyError, match="example_id"):
        predict_answers(ok, ok, feats.remove_columns("example_id"), examples)
