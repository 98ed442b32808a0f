"""§6 steps 1-2 on bad input: each case raises a clear error that names the problem."""
from __future__ import annotations

import json

import pytest
from datasets import Dataset, DatasetDict

from course_utils.assets import OfflineError
from course_utils.clm import corpus
from course_utils.clm.corpus import (
    CorpusError,
    any_keyword_in_string,
    bundled_stream,
    filter_streaming_dataset,
    load_raw_datasets,
    split_by_path,
    take_subset,
)
from course_utils.clm.tokenize import (
    ContextLengthError,
    TokenizerError,
    check_context_length,
    check_tokenizer,
    load_or_train_tokenizer,
    make_concat_chunk,
    make_tokenize,
    prepare_lm_datasets,
    tokenize_datasets,
    train_bpe_tokenizer,
)

CODE = ["import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\ndf.mean()\n" * 3] * 20


def _row(i, content, path=None):
    return {"repo_name": "u/r", "path": path or f"m{i}.py", "copies": "1", "size": "1",
            "content": content, "license": "mit"}


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(CODE, vocab_size=300)


# ---- keywords ------------------------------------------------------------------------------
def test_empty_keyword_list():
    with pytest.raises(ValueError, match="keywords is empty"):
        any_keyword_in_string("import pandas", [])


def test_keywords_given_as_one_string():
    with pytest.raises(TypeError, match="single string 'pandas'"):
        any_keyword_in_string("import pandas", "pandas")


@pytest.mark.parametrize("value", [None, 3, b"import pandas"])
def test_non_string_text(value):
    with pytest.raises(TypeError, match="string must be a str"):
        any_keyword_in_string(value, ["pandas"])


@pytest.mark.parametrize("filters", [[], "pandas", None])
def test_filter_with_empty_or_string_filters(filters):
    with pytest.raises(ValueError, match="non-empty list of keywords"):
        filter_streaming_dataset([_row(0, "import pandas")], filters)


# ---- rows of the stream --------------------------------------------------------------------
def test_empty_corpus_after_filtering(capsys):
    with pytest.raises(CorpusError, match=r"empty corpus after filtering: none of the 3 files mentions any of \['seaborn'\]"):
        filter_streaming_dataset([_row(i, "import numpy") for i in range(3)], ["seaborn"])
    assert "0.00% of data after filtering." in capsys.readouterr().out


def test_empty_stream():
    with pytest.raises(CorpusError, match="stream is empty"):
        filter_streaming_dataset(iter([]), ["pandas"])


@pytest.mark.parametrize("content", [None, 42, b"import pandas", ["import pandas"]])
def test_non_string_content_names_the_row(content):
    rows = [_row(0, "import pandas"), _row(1, content, path="bad/file.py")]
    with pytest.raises(CorpusError, match=r"row 1 \(path='bad/file.py'\): 'content' must be a str"):
        filter_streaming_dataset(rows, ["pandas"])


def test_row_without_content():
    with pytest.raises(CorpusError, match="row 0 has no 'content' column"):
        filter_streaming_dataset([{"path": "a.py", "text": "import pandas"}], ["pandas"])


def test_local_jsonl_with_a_null_content(tmp_path):
    rows = [_row(i, "import pandas") for i in range(5)] + [_row(5, None, path="broken.py")]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(CorpusError, match="broken.py"):
        load_raw_datasets({"corpus_source": str(tmp_path / "c.jsonl")})


def test_local_jsonl_without_content_column(tmp_path):
    (tmp_path / "c.jsonl").write_text(json.dumps({"path": "a.py", "code": "import pandas"}) + "\n")
    with pytest.raises(CorpusError, match="no 'content' column"):
        load_raw_datasets({"corpus_source": str(tmp_path / "c.jsonl")})


def test_saved_dataset_without_content_column(tmp_path):
    DatasetDict({"train": Dataset.from_dict({"code": ["x"]}), "valid": Dataset.from_dict({"code": ["y"]})}) \
        .save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(CorpusError, match="no 'content' column"):
        load_raw_datasets({"corpus_source": str(tmp_path / "dd")})


def test_saved_dataset_without_valid_split(tmp_path):
    DatasetDict({"train": Dataset.from_dict({"content": ["x"]}), "test": Dataset.from_dict({"content": ["y"]})}) \
        .save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(CorpusError, match="expected splits 'train' and 'valid'"):
        load_raw_datasets({"corpus_source": str(tmp_path / "dd")})


# ---- sources -------------------------------------------------------------------------------
def test_missing_local_path():
    with pytest.raises(FileNotFoundError, match="clm_corpus_source: local path './nowhere/code.jsonl' does not exist"):
        load_raw_datasets({"corpus_source": "./nowhere/code.jsonl"})


def test_local_folder_without_data_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CorpusError, match="no .jsonl/.json/.parquet file"):
        load_raw_datasets({"corpus_source": str(tmp_path)})


def test_hub_id_while_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="transformersbook/codeparrot-train"):
        load_raw_datasets({"corpus_source": "transformersbook/codeparrot-train"})


def test_no_installed_package():
    with pytest.raises(CorpusError, match="no .py file found"):
        corpus.bundled_files(["surely_not_installed_a", "surely_not_installed_b"])


def test_cfg_of_the_wrong_type():
    with pytest.raises(TypeError, match="expected a profiles.Profile, ClmSettings or a dict of clm knobs"):
        load_raw_datasets(["bundled"])


# ---- sizes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
def test_bad_valid_fraction(fraction):
    ds = Dataset.from_list([_row(i, "x") for i in range(10)])
    with pytest.raises(ValueError, match="valid_fraction must be between 0 and 1"):
        split_by_path(ds, fraction)


def test_corpus_too_small_to_split():
    with pytest.raises(CorpusError, match="too small for a validation split"):
        split_by_path(Dataset.from_list([_row(0, "x")]), 0.1)


@pytest.mark.parametrize("n", [0, -3, "10", 2.5, True])
def test_bad_number_of_files(n):
    ds = Dataset.from_dict({"content": ["a", "b"]})
    with pytest.raises(ValueError, match="train: the number of files to keep must be a positive int or None"):
        take_subset(ds, n, seed=0, name="train")


def test_bad_max_scan_files():
    with pytest.raises(ValueError, match="max_scan_files must be a positive int"):
        bundled_stream(["seaborn"], max_files=0)


@pytest.mark.parametrize("value", [0, 1, -5, "128", 12.0, True, None])
def test_invalid_context_length(value):
    with pytest.raises(ContextLengthError, match="context_length must be"):
        check_context_length(value)


def test_context_length_larger_than_n_positions():
    with pytest.raises(ContextLengthError, match="context_length=256 is larger than the model's n_positions=128"):
        check_context_length(256, n_positions=128)
    assert check_context_length(128, n_positions=128) == 128


def test_prepare_with_invalid_context_length(tmp_path):
    with pytest.raises(ContextLengthError):
        prepare_lm_datasets({"context_length": 1, "corpus_source": "bundled"}, tmp_path)


# ---- tokenizer -----------------------------------------------------------------------------
def test_tokenizer_without_eos(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(CODE, trainers.BpeTrainer(vocab_size=280, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                      show_progress=False))
    no_eos = PreTrainedTokenizerFast(tokenizer_object=tok)
    with pytest.raises(TokenizerError, match="has no EOS token"):
        check_tokenizer(no_eos)
    with pytest.raises(TokenizerError, match="has no EOS token"):
        make_concat_chunk(no_eos, 16)
    # the same tokenizer given as a local folder is refused when loaded
    no_eos.save_pretrained(str(tmp_path / "tok"))
    with pytest.raises(TokenizerError, match="has no EOS token"):
        load_or_train_tokenizer({"tokenizer_source": str(tmp_path / "tok")}, None, tmp_path)


def test_slow_tokenizer():
    class Slow:
        is_fast = False
        eos_token, eos_token_id = "<eos>", 0

    with pytest.raises(TokenizerError, match="Slow is not a fast tokenizer"):
        make_tokenize(Slow(), 16)


@pytest.mark.parametrize("vocab", [100, 257, None, "8000"])
def test_vocab_size_too_small_or_not_an_int(vocab):
    with pytest.raises(ValueError, match="vocab_size must be an int above 257"):
        train_bpe_tokenizer(CODE, vocab_size=vocab)


def test_bundled_tokenizer_without_vocab_size(tmp_path):
    raw = DatasetDict({"train": Dataset.from_dict({"content": CODE, "path": [f"{i}" for i in range(20)]})})
    with pytest.raises(ValueError, match="clm_vocab_size is None"):
        load_or_train_tokenizer({"tokenizer_source": "bundled", "vocab_size": None}, raw, tmp_path)


def test_non_string_training_text():
    with pytest.raises(TypeError, match="text 1 must be a str, got NoneType"):
        train_bpe_tokenizer(["import pandas", None], vocab_size=300)


def test_corrupted_tokenizer_cache_is_not_reused(tmp_path, capsys):
    raw = DatasetDict({"train": Dataset.from_dict({"content": CODE, "path": [f"{i}" for i in range(20)]})})
    cfg = {"tokenizer_source": "bundled", "vocab_size": 300}
    load_or_train_tokenizer(cfg, raw, tmp_path)
    run = next((tmp_path / "clm-tokenizer").iterdir())
    (run / "corpus.json").write_text("{not json")
    load_or_train_tokenizer(cfg, raw, tmp_path)
    assert "reusing" not in capsys.readouterr().out
    assert len(list((tmp_path / "clm-tokenizer").iterdir())) == 2


# ---- chunking ------------------------------------------------------------------------------
def test_every_file_shorter_than_context_length(tokenizer):
    raw = DatasetDict({"train": Dataset.from_dict({"content": ["x = 1", "y = 2"]})})
    with pytest.raises(ValueError, match="train: no chunk of 64 tokens"):
        tokenize_datasets(raw, tokenizer, 64)


def test_unknown_chunking_method(tokenizer):
    raw = DatasetDict({"train": Dataset.from_dict({"content": CODE})})
    with pytest.raises(ValueError, match="method must be one of"):
        tokenize_datasets(raw, tokenizer, 16, method="sliding")
