"""Bad input on the training side of §7: each gives an error that names the record or argument."""
from __future__ import annotations

import json

import pytest
from dataclasses import replace

from course_utils.settings import QaSettings

from course_utils.profiles import activate, get_profile

activate("ci")

from datasets import Dataset, DatasetDict  # noqa: E402

from course_utils.qa import loop  # noqa: E402
from course_utils.qa.model import CheckpointError, SlowTokenizerError, load_qa_model, load_qa_tokenizer  # noqa: E402
from course_utils.qa.pipeline import QuestionAnsweringArgumentError, best_spans  # noqa: E402

CONTEXT = "The Analytical Engine was designed by Charles Babbage in London in 1837."


def record(rid: str, question: str, answer: str = "Charles Babbage") -> dict:
    return {"id": rid, "title": "t", "context": CONTEXT, "question": question,
            "answers": {"text": [answer], "answer_start": [CONTEXT.index(answer)]}}


def raw_with(train_records: list[dict]) -> DatasetDict:
    return DatasetDict(train=Dataset.from_list(train_records),
                       validation=Dataset.from_list([record("v0", "Who designed it?")]))


@pytest.fixture(scope="module")
def tokenizer():
    return load_qa_tokenizer("bundled")


def test_question_longer_than_max_length_at_training_names_the_record(tokenizer):
    raw = raw_with([record("ok", "Who designed the engine?"),
                    record("too-long-42", "Who " + "really " * 80 + "designed it?")])
    with pytest.raises(ValueError, match="too-long-42"):
        loop.build_features(raw, tokenizer, max_length=64, stride=16)


def test_stride_not_smaller_than_max_length(tokenizer):
    with pytest.raises(ValueError, match="stride"):
        loop.build_features(raw_with([record("a", "Who?")]), tokenizer, max_length=64, stride=64)


def test_slow_tokenizer_at_training(tokenizer):
    from transformers import BertTokenizerLegacy  # transformers 5's pure-Python tokenizer

    from course_utils.assets import bundled_qa_encoder_path
    from course_utils.qa.model import check_fast_tokenizer

    slow = BertTokenizerLegacy.from_pretrained(str(bundled_qa_encoder_path()))
    with pytest.raises(TypeError, match="fast"):
        loop.build_features(raw_with([record("a", "Who?")]), slow, max_length=64, stride=16)
    with pytest.raises(SlowTokenizerError):
        check_fast_tokenizer(slow)


def test_missing_and_corrupted_model_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_qa_model(str(tmp_path / "missing-run"))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (tmp_path / "run" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_qa_model(str(tmp_path / "run"))


def test_resume_checkpoint_that_is_a_model_but_not_a_trainer_checkpoint(tmp_path):
    from course_utils.training import trainer_checkpoint

    model = load_qa_model("bundled")
    model.save_pretrained(tmp_path / "checkpoint-3")
    with pytest.raises(CheckpointError, match="trainer_state.json"):
        trainer_checkpoint(tmp_path, True)


def test_bad_training_settings():
    qa = get_profile("ci").qa
    with pytest.raises(ValueError, match="warmup_ratio"):
        loop.qa_training_arguments(replace(qa, warmup_ratio=-0.1), "unused")
    with pytest.raises(ValueError, match="dropout"):
        load_qa_model("bundled", dropout=-0.5)
    with pytest.raises(ValueError, match="unknown parameter 'qa_nonsense'"):
        get_profile("ci", qa_nonsense=1)


def test_logits_that_do_not_match_the_windows():
    import numpy as np

    with pytest.raises(QuestionAnsweringArgumentError, match="do not match the windows"):
        best_spans(np.zeros((2, 10)), np.zeros((2, 10)), np.zeros((3, 10, 2)), np.ones((3, 10), bool), CONTEXT)
