"""Issue 13 item 7: the course's entry points that take raw records refuse bad ones with the
loaders' clear error naming the record, as a learner mapping them over their own Dataset gets."""
from __future__ import annotations

import pytest

from course_utils.profiles import activate

activate("ci")

CONTEXT = "The cat sat on the mat in the house by the river."
GOOD = {"id": ["q1"], "title": ["cats"], "question": ["Where did the cat sit?"], "context": [CONTEXT],
        "answers": [{"text": ["the mat"], "answer_start": [15]}]}


@pytest.fixture(scope="module")
def tokenizer():
    from course_utils.qa.model import load_qa_tokenizer

    return load_qa_tokenizer("bundled")


@pytest.mark.parametrize("answers, message", [
    ({"text": ["the mat"], "answer_start": [3]}, r"train record 'q1' \(position 0\): answer 0 text 'the mat' is not at answer_start=3.*occurs at 15"),
    ({"text": ["the mat"], "answer_start": [500]}, r"train record 'q1' \(position 0\): .*answer_start=500 does not fit in the context \(49 characters\)"),
    ({"text": ["the mat", "mat"], "answer_start": [15, 19]}, "exactly one answer, found 2"),
])
def test_training_windows_refuse_wrong_answers(tokenizer, answers, message):
    from course_utils.qa.data import BadRecordError
    from course_utils.qa.features import preprocess_training_examples

    assert preprocess_training_examples(GOOD, tokenizer, 64, 16)["start_positions"] != [0]  # the good one is labelled
    with pytest.raises(BadRecordError, match=message):
        preprocess_training_examples({**GOOD, "answers": [answers]}, tokenizer, 64, 16)


def test_training_windows_without_answers_name_the_column(tokenizer):
    from course_utils.qa.data import BadRecordError
    from course_utils.qa.features import preprocess_training_examples

    batch = {k: v for k, v in GOOD.items() if k != "answers"}
    with pytest.raises(BadRecordError, match="need an 'answers' column.*the batch has id, title, question, context"):
        preprocess_training_examples(batch, tokenizer, 64, 16)


def test_the_check_runs_inside_dataset_map_as_the_course_calls_it(tokenizer):
    from datasets import Dataset

    from course_utils.qa.data import BadRecordError
    from course_utils.qa.features import preprocess_training_examples

    rows = [{**{k: v[0] for k, v in GOOD.items()}, "id": f"q{i}"} for i in range(3)]
    rows[2]["answers"] = {"text": ["the river"], "answer_start": [0]}
    ds = Dataset.from_list(rows)
    with pytest.raises(BadRecordError, match="train record 'q2' \\(position 2\\)"):
        ds.map(preprocess_training_examples, batched=True, remove_columns=ds.column_names,
               fn_kwargs={"tokenizer": tokenizer, "max_length": 64, "stride": 16})


def test_validation_windows_check_answers_when_present(tokenizer):
    from course_utils.qa.data import BadRecordError
    from course_utils.qa.features import preprocess_validation_examples

    no_answers = {k: v for k, v in GOOD.items() if k != "answers"}
    assert preprocess_validation_examples(no_answers, tokenizer, 64, 16)["example_id"] == ["q1"]  # inference data
    with pytest.raises(BadRecordError, match="validation record 'q1'.*does not fit"):
        preprocess_validation_examples({**GOOD, "answers": [{"text": ["x"], "answer_start": [99]}]}, tokenizer, 64, 16)


def test_clm_tokenize_functions_name_the_bad_record():
    from test_clm_model import tiny_tokenizer

    from course_utils.clm.tokenize import CorpusRecordError, make_concat_chunk, make_tokenize

    tok = tiny_tokenizer()
    for make in (make_tokenize, make_concat_chunk):
        fn = make(tok, 8)
        assert fn({"content": ["import pandas as pd\ndf = pd.DataFrame()"] * 2})["input_ids"]
        with pytest.raises(CorpusRecordError, match="no 'content' column \\(columns: text\\)"):
            fn({"text": ["x = 1"]})
        with pytest.raises(CorpusRecordError, match="record at path 'b.py': 'content' must be a string, got NoneType"):
            fn({"content": ["x = 1", None], "path": ["a.py", "b.py"]})
