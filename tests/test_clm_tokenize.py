"""§6 step 2: BPE training, the course's chunking, concatenate-then-chunk, waste, caching."""
from __future__ import annotations

import json
import random
from itertools import chain

import pytest
from datasets import Dataset, DatasetDict

from course_utils.clm.course import course_tokenize_fn
from course_utils.clm.tokenize import (
    EOS_TOKEN,
    chunking_waste,
    load_or_train_tokenizer,
    make_concat_chunk,
    make_tokenize,
    prepare_lm_datasets,
    token_lengths,
    tokenize_datasets,
    train_bpe_tokenizer,
    training_texts,
)

SNIPPETS = [
    "import pandas as pd\n", "import numpy as np\n", "import matplotlib.pyplot as plt\n",
    "df = pd.DataFrame({'a': [1, 2, 3], 'b': [4, 5, 6]})\n", "df.groupby('a').mean()\n",
    "x = np.random.randn(100)\n", "plt.scatter(x, y)\n", "def f(x):\n    return x * 2\n",
    "for i in range(10):\n    print(i)\n", "# compute the mean income per profession\n",
    "from sklearn.ensemble import RandomForestRegressor\n", "rf = RandomForestRegressor(n_estimators=300)\n",
]


def make_files(n: int, seed: int, max_lines: int = 40) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(SNIPPETS) for _ in range(rng.randint(1, max_lines))) for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    trained = train_bpe_tokenizer(make_files(200, seed=0), vocab_size=400)
    path = tmp_path_factory.mktemp("tok")
    trained.save_pretrained(str(path))
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def plain_group_texts(tokenizer, context_length, texts):
    """Concatenate with EOS after every file, then cut; the simplest possible loop."""
    stream = []
    for text in texts:
        stream += tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
    return [stream[i:i + context_length] for i in range(0, len(stream) - context_length + 1, context_length)]


# ---- tokenizer ---------------------------------------------------------------------------
def test_trained_tokenizer_is_fast_byte_level_with_eos(tokenizer):
    assert tokenizer.is_fast
    assert len(tokenizer) == 400
    assert tokenizer.eos_token == EOS_TOKEN and tokenizer.eos_token_id == tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    text = "df = pd.DataFrame({'é': [1]})  # ünïcode ✓\n\tplt.show()"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text  # byte-level: nothing lost
    # learned merges: a frequent line is one token per word (the pre-tokenizer splits words), not 20 bytes
    common = tokenizer("import pandas as pd\n")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(common) == ["import", "Ġpandas", "Ġas", "Ġpd", "Ċ"]


def test_training_is_deterministic():
    texts = make_files(80, seed=3)
    a, b = train_bpe_tokenizer(texts, 350), train_bpe_tokenizer(texts, 350)
    assert a.get_vocab() == b.get_vocab()


def test_training_texts_caps_characters():
    texts = ["a" * 10] * 10
    assert len(training_texts(texts, 35)) == 4
    assert len(training_texts(texts, None)) == 10


# ---- the course's chunking ---------------------------------------------------------------
def test_worked_example_of_two_files(tokenizer):
    files = make_files(2, seed=5, max_lines=60)
    c = 16
    lengths = [len(tokenizer(f)["input_ids"]) for f in files]
    out = tokenizer(files, truncation=True, max_length=c, return_overflowing_tokens=True, return_length=True)
    expected_lengths = list(chain.from_iterable([c] * (n // c) + ([n % c] if n % c else []) for n in lengths))
    assert out["length"] == expected_lengths
    expected_map = list(chain.from_iterable([i] * -(-n // c) for i, n in enumerate(lengths)))
    assert out["overflow_to_sample_mapping"] == expected_map
    assert len(out["input_ids"]) == len(expected_map)


@pytest.mark.parametrize("c", [8, 16, 33])
def test_make_tokenize_equals_course_code(tokenizer, c):
    files = make_files(60, seed=c)
    element = {"content": files}
    ours = make_tokenize(tokenizer, c)(element)
    assert ours == course_tokenize_fn(tokenizer, c)(element)
    lengths = token_lengths(tokenizer, files)
    assert len(ours["input_ids"]) == sum(n // c for n in lengths)
    assert all(len(ids) == c for ids in ours["input_ids"])


@pytest.mark.parametrize("c", [8, 16, 33])
def test_concat_chunk_equals_plain_loop(tokenizer, c):
    files = make_files(50, seed=100 + c)
    ours = make_concat_chunk(tokenizer, c)({"content": files})["input_ids"]
    assert ours == plain_group_texts(tokenizer, c, files)
    assert sum(ids.count(tokenizer.eos_token_id) for ids in ours) >= len(files) - 1


def test_waste_matches_the_mapped_datasets(tokenizer):
    c = 16
    files = make_files(90, seed=7, max_lines=8)
    raw = DatasetDict({"train": Dataset.from_dict({"content": files})})
    lengths = token_lengths(tokenizer, files)
    waste = chunking_waste(lengths, c, batch_size=32)
    course = tokenize_datasets(raw, tokenizer, c, method="course", batch_size=32)["train"]
    concat = tokenize_datasets(raw, tokenizer, c, method="concat", batch_size=32)["train"]
    assert waste["course"]["chunks"] == len(course)
    assert waste["concat"]["chunks"] == len(concat)
    assert waste["total_tokens"]["tokens"] == sum(lengths)
    assert waste["course"]["dropped_tokens"] == sum(lengths) - c * len(course)
    assert waste["course"]["files_dropped"] == sum(n < c for n in lengths) > 0
    assert waste["concat"]["dropped_tokens"] < c * 3  # at most one partial chunk per batch of 32
    assert waste["concat"]["dropped_tokens"] < waste["course"]["dropped_tokens"]
    assert course.features["input_ids"].feature.dtype == "int32"


def test_num_proc_gives_the_same_rows(tokenizer):
    files = make_files(1000, seed=11, max_lines=6)
    raw = DatasetDict({"train": Dataset.from_dict({"content": files})})
    one = tokenize_datasets(raw, tokenizer, 8, num_proc=1, batch_size=250)["train"]["input_ids"]
    two = tokenize_datasets(raw, tokenizer, 8, num_proc=2, batch_size=250)["train"]["input_ids"]
    assert one == two


# ---- workspace caching -------------------------------------------------------------------
def _raw(n_train=60, n_valid=10, seed=0):
    files = make_files(n_train + n_valid, seed=seed)
    rows = [{"path": f"m{i}.py", "size": str(len(f)), "content": f} for i, f in enumerate(files)]
    return DatasetDict({"train": Dataset.from_list(rows[:n_train]), "valid": Dataset.from_list(rows[n_train:])})


def test_tokenizer_is_cached_and_reused(tmp_path, capsys):
    raw = _raw()
    cfg = {"tokenizer_source": "bundled", "vocab_size": 320}
    first = load_or_train_tokenizer(cfg, raw, tmp_path)
    runs = sorted((tmp_path / "clm-tokenizer").iterdir())
    assert len(runs) == 1 and (runs[0] / "COMPLETE").exists() and (runs[0] / "tokenizer.json").exists()
    assert json.loads((runs[0] / "corpus.json").read_text())["key"]["vocab_size"] == 320
    assert "trained a 320-token byte-level BPE" in capsys.readouterr().out
    second = load_or_train_tokenizer(cfg, raw, tmp_path)
    assert capsys.readouterr().out == ""  # reused without a word
    assert second.get_vocab() == first.get_vocab()
    assert len(list((tmp_path / "clm-tokenizer").iterdir())) == 1
    # another vocabulary size: a new run, the first one untouched
    third = load_or_train_tokenizer({**cfg, "vocab_size": 300}, raw, tmp_path)
    assert len(third) == 300
    assert len(list((tmp_path / "clm-tokenizer").iterdir())) == 2
    assert (runs[0] / "COMPLETE").exists()


def test_incomplete_tokenizer_run_is_ignored(tmp_path):
    raw = _raw()
    cfg = {"tokenizer_source": "bundled", "vocab_size": 320}
    load_or_train_tokenizer(cfg, raw, tmp_path)
    run = next((tmp_path / "clm-tokenizer").iterdir())
    (run / "COMPLETE").unlink()  # as if killed before the end
    load_or_train_tokenizer(cfg, raw, tmp_path)
    assert len(list((tmp_path / "clm-tokenizer").iterdir())) == 2


def test_local_tokenizer_folder_is_loaded(tmp_path, tokenizer):
    tokenizer.save_pretrained(str(tmp_path / "tok"))
    loaded = load_or_train_tokenizer({"tokenizer_source": str(tmp_path / "tok")}, _raw(), tmp_path)
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert not (tmp_path / "clm-tokenizer").exists()


def test_prepare_lm_datasets_end_to_end_and_cache(tmp_path, capsys):
    raw = _raw(80, 12)
    cfg = {"tokenizer_source": "bundled", "vocab_size": 320, "context_length": 24, "num_proc": 1}
    tok, ds = prepare_lm_datasets(cfg, tmp_path, raw=raw)
    assert set(ds) == {"train", "valid"} and ds["train"].column_names == ["input_ids"]
    assert len(ds["train"]) > 50 and len(ds["valid"]) > 5
    assert {len(x) for x in ds["train"]["input_ids"]} == {24}
    assert ds["train"]["input_ids"] == make_tokenize(tok, 24)({"content": list(raw["train"]["content"])})["input_ids"]
    capsys.readouterr()
    tok2, ds2 = prepare_lm_datasets(cfg, tmp_path, raw=raw)
    assert capsys.readouterr().out == ""  # tokenizer and chunks reused quietly: notebook 02 reported them
    assert ds2["valid"]["input_ids"] == ds["valid"]["input_ids"]
    assert len(list((tmp_path / "clm-dataset").iterdir())) == 1
    _, ds3 = prepare_lm_datasets({**cfg, "context_length": 12}, tmp_path, raw=raw)
    assert {len(x) for x in ds3["train"]["input_ids"]} == {12}
    assert len(list((tmp_path / "clm-dataset").iterdir())) == 2


def test_plot_chunking_draws_both_panels():
    import matplotlib

    matplotlib.use("Agg")
    fig = __import__("course_utils.clm.tokenize", fromlist=["plot_chunking"]).plot_chunking([5, 40, 300, 1200], 64)
    left, right = fig.axes[:2]
    assert left.get_xscale() == "log" and len(right.patches) == 4  # kept + dropped for 2 methods
    assert "4 files, 1,545 tokens" == left.get_title()


# ---- exercises of notebook 02 ------------------------------------------------------------
def test_exercise_checkers_of_notebook_02():
    from course_utils.clm import exercises as ex

    assert ex.check_chunks_kept(lambda n, c: n // c)
    assert not ex.check_chunks_kept(lambda n, c: -(-n // c))  # counts the partial chunk
    lengths = [300, 50, 130, 90]
    # by hand: tails 44 + 50 + 2 + 90; concat (570 + 4 EOS) % 128
    assert (ex.course_dropped(lengths, 128), ex.concat_dropped(lengths, 128)) == (186, 62)
    waste = chunking_waste(lengths, 128)
    assert (waste["course"]["dropped_tokens"], waste["concat"]["dropped_tokens"]) == (186, 62)
    assert ex.check_waste(186, 62, lengths, 128)
    assert not ex.check_waste(186, 58, lengths, 128)  # forgot the EOS tokens
    assert ex.check_vocab_effect("more", n_small=120, n_big=80)
    assert not ex.check_vocab_effect("fewer", n_small=120, n_big=80)
