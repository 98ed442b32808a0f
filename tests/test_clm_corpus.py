"""§6 step 1: keyword filter, streaming, bundled corpus, split, subsets."""
from __future__ import annotations

import json
import random
import tracemalloc

import pytest
from datasets import Dataset, DatasetDict, IterableDataset

from course_utils.clm import corpus
from course_utils.clm.course import course_any_keyword_in_string, course_filter_streaming_dataset
from course_utils.clm.corpus import (
    CODEPARROT_COLUMNS,
    COURSE_FILTERS,
    any_keyword_in_string,
    bundled_stream,
    examples_script,
    filter_streaming_dataset,
    is_valid_path,
    load_raw_datasets,
    split_by_path,
    take_subset,
)


def _row(i: int, content: str, path: str | None = None) -> dict[str, str]:
    return {"repo_name": f"user/repo{i % 7}", "path": path or f"pkg/mod_{i}.py", "copies": "1",
            "size": str(len(content)), "content": content, "license": "mit"}


WORDS = ["import", "numpy", "as", "np", "pandas", "pd", "sklearn", "def", "x", "plt", "matplotlib.pyplot",
         "seaborn", "torch", "return", "\n", "    ", "panda", "sea", "born"]


def _random_rows(n: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [_row(i, " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))) for i in range(n)]


def _stream(rows):
    return IterableDataset.from_generator(lambda: (dict(r) for r in rows), features=corpus.codeparrot_features())


# ---- any_keyword_in_string ---------------------------------------------------------------
def test_filter_demo_of_the_course():
    filters = ["pandas", "sklearn", "matplotlib", "seaborn"]
    assert (any_keyword_in_string("import numpy as np", filters),
            any_keyword_in_string("import pandas as pd", filters)) == (False, True)


def test_any_keyword_matches_course_on_many_inputs():
    rng = random.Random(0)
    for _ in range(2000):
        text = "".join(rng.choice("abpandsk lear") for _ in range(rng.randint(0, 30)))
        keywords = ["".join(rng.choice("abpandsk") for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 4))]
        assert any_keyword_in_string(text, keywords) == course_any_keyword_in_string(text, keywords)


def test_substring_not_word_match_as_in_course():
    assert any_keyword_in_string("from mypandasx import y", ["pandas"]) is True
    assert any_keyword_in_string("Pandas", ["pandas"]) is False  # case-sensitive


# ---- filter_streaming_dataset ------------------------------------------------------------
def test_streaming_filter_equals_course_loop(capsys):
    rows = _random_rows(500, seed=1)
    ours = filter_streaming_dataset(_stream(rows), list(COURSE_FILTERS))
    ref = course_filter_streaming_dataset(rows, list(COURSE_FILTERS))
    assert isinstance(ours, Dataset)
    assert ours.to_dict() == ref.to_dict()
    assert ours.column_names == list(CODEPARROT_COLUMNS)
    expected = f"{len(ref) / 500:.2%} of data after filtering."
    assert expected in capsys.readouterr().out


def test_streaming_filter_accepts_plain_iterables_and_keeps_order():
    rows = [_row(0, "import pandas"), _row(1, "x = 1"), _row(2, "import seaborn as sns")]
    out = filter_streaming_dataset(iter(rows), ["pandas", "seaborn"])
    assert out["path"] == ["pkg/mod_0.py", "pkg/mod_2.py"]


def test_streaming_filter_is_lazy():
    """Each row is filtered before the next one is asked for: one row in flight, never a list."""

    class Row(dict):
        read = False

        def __getitem__(self, key):
            if key == "content":
                self.read = True
            return super().__getitem__(key)

    def gen():
        previous = None
        for i in range(50):
            assert previous is None or previous.read, f"row {i} requested before row {i - 1} was filtered"
            previous = Row(_row(i, "import pandas" if i % 10 == 0 else "x = 1"))
            yield previous

    out = filter_streaming_dataset(gen(), ["pandas"])
    assert out["path"] == [f"pkg/mod_{i}.py" for i in range(0, 50, 10)]


def _peak_mib(n_rows: int) -> float:
    big = 1_000_000

    def gen():
        for i in range(n_rows):
            # a fresh 1 MB string per row; none contains a keyword, so nothing is kept
            yield _row(i, chr(97 + i % 20) * big)

    tracemalloc.start()
    with pytest.raises(corpus.CorpusError):
        filter_streaming_dataset(gen(), ["pandas"])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def test_streaming_filter_memory_is_flat_in_the_number_of_files():
    small, large = _peak_mib(5), _peak_mib(80)  # 5 MB vs 80 MB of text streamed
    assert large < 12, f"peak {large:.1f} MiB for 80 MB streamed: the stream was materialised"
    assert large < small + 4


def test_streaming_filter_memory_with_iterable_dataset():
    def gen(n):
        for i in range(n):
            yield _row(i, ("pandas " if i == 0 else "numpy ") * 150_000)  # ~1 MB each

    tracemalloc.start()
    ds = IterableDataset.from_generator(gen, gen_kwargs={"n": 60}, features=corpus.codeparrot_features())
    out = filter_streaming_dataset(ds, ["pandas"])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(out) == 1
    assert peak / 2**20 < 30, f"peak {peak / 2**20:.1f} MiB for 60 MB streamed"


# ---- bundled corpus ----------------------------------------------------------------------
MODULE = '''"""A module."""

def area(df):
    """Compute the area of each row.

    Examples
    --------
    >>> df = pd.DataFrame({"w": [1, 2], "h": [3, 4]})
    >>> import numpy as np
    >>> area(df)  # doctest: +SKIP
    0    3
    1    8
    dtype: int64
    >>> for name, group in df.groupby("w"):
    ...     print(name)
    1
    2
    """

class Plotter:
    def scatter(self):
        """Draw a scatter plot.

        >>> fig, ax = plt.subplots()
        >>> ax.scatter([1, 2], [3, 4])  # doctest: +ELLIPSIS
        >>> %(klass)s.plot()
        """

_shared = """
Mean of each group.

>>> df.groupby("a").mean()
"""

def nothing():
    """No examples here."""
'''


def test_examples_script_turns_doctests_into_a_script():
    script = examples_script(MODULE)
    assert script == (
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n"
        "import pandas as pd\n"
        "\n\n"
        "# area: Compute the area of each row.\n"
        'df = pd.DataFrame({"w": [1, 2], "h": [3, 4]})\n'
        "area(df)\n"
        'for name, group in df.groupby("w"):\n'
        "    print(name)\n"
        "\n"
        "# Plotter.scatter: Draw a scatter plot.\n"
        "fig, ax = plt.subplots()\n"
        "ax.scatter([1, 2], [3, 4])\n"
        "\n"
        "# _shared: Mean of each group.\n"
        'df.groupby("a").mean()\n'
    )
    compile(script, "<examples>", "exec")  # valid Python


def test_examples_script_none_without_examples():
    assert examples_script('"""Doc."""\nx = 1\n') is None
    assert examples_script("def broken(:\n  '>>> x'") is None


def test_bundled_stream_has_codeparrot_schema_and_examples():
    ds = bundled_stream(["sklearn"], max_files=40)
    assert isinstance(ds, IterableDataset)
    rows = list(ds)
    sources = [r for r in rows if not r["path"].startswith(corpus.EXAMPLES_PREFIX)]
    examples = [r for r in rows if r["path"].startswith(corpus.EXAMPLES_PREFIX)]
    assert len(sources) == 40
    assert all(set(r) == set(CODEPARROT_COLUMNS) and all(isinstance(v, str) for v in r.values()) for r in rows)
    assert all(r["repo_name"] == "scikit-learn/scikit-learn" and r["path"].startswith("sklearn/") for r in sources)
    assert all(int(r["size"]) == len(r["content"].encode()) for r in rows)
    # every examples script follows its module and names it
    for ex in examples:
        module = corpus.split_key(ex["path"])
        assert module in {r["path"] for r in sources}
        compile(ex["content"], ex["path"], "exec")
    # the same files in the same order every time
    assert [r["path"] for r in bundled_stream(["sklearn"], max_files=40)] == [r["path"] for r in rows]


def test_bundled_files_skip_missing_packages(capsys):
    files = corpus.bundled_files(["seaborn", "surely_not_installed_pkg"])
    assert files and all(pkg == "seaborn" for pkg, _ in files)
    assert "surely_not_installed_pkg" in capsys.readouterr().out


# ---- split and subsets -------------------------------------------------------------------
def test_split_is_deterministic_disjoint_and_keeps_examples_with_their_module():
    paths = [f"pkg/m{i}.py" for i in range(400)]
    rows = [_row(i, "import pandas", p) for i, p in enumerate(paths)]
    rows += [_row(i, "import pandas", corpus.EXAMPLES_PREFIX + p) for i, p in enumerate(paths)]
    raw = split_by_path(Dataset.from_list(rows), valid_fraction=0.2)
    train, valid = set(raw["train"]["path"]), set(raw["valid"]["path"])
    assert not train & valid and len(train) + len(valid) == 800
    assert 0.12 < len(valid) / 800 < 0.28
    for p in valid:
        assert corpus.split_key(p) in valid and (corpus.EXAMPLES_PREFIX + corpus.split_key(p)) in valid
    # order-free: the same file lands on the same side whatever else is in the corpus
    assert all(is_valid_path(p, 0.2) == (p in valid) for p in paths)
    again = split_by_path(Dataset.from_list(rows[::-1]), valid_fraction=0.2)
    assert set(again["valid"]["path"]) == valid


def test_take_subset_is_the_course_shuffle_select(capsys):
    ds = Dataset.from_dict({"content": [str(i) for i in range(50)], "path": [f"{i}.py" for i in range(50)]})
    sub = take_subset(ds, 10, seed=42)
    assert sub["content"] == ds.shuffle(seed=42).select(range(10))["content"]
    assert len(take_subset(ds, None, seed=1)) == 50
    assert len(take_subset(ds, 80, seed=1)) == 50
    assert "only 50 available" in capsys.readouterr().out


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_load_raw_datasets_from_a_local_jsonl(tmp_path):
    rows = [_row(i, ("import pandas as pd\n" if i % 3 else "x = 1\n") * 5) for i in range(300)]
    data = _write_jsonl(tmp_path / "code.jsonl", rows)
    cfg = {"corpus_source": str(data), "max_train_files": 50, "max_valid_files": 10,
           "filter_keywords": ["pandas"], "valid_fraction": 0.2}
    raw = load_raw_datasets(cfg)
    assert isinstance(raw, DatasetDict) and set(raw) == {"train", "valid"}
    assert (len(raw["train"]), len(raw["valid"])) == (50, 10)
    assert all("pandas" in c for split in raw.values() for c in split["content"])
    assert not set(raw["train"]["path"]) & set(raw["valid"]["path"])
    assert raw["train"].column_names == list(CODEPARROT_COLUMNS)


def test_the_corpus_is_built_once_per_workspace_and_reused_quietly(tmp_path, capsys):
    """Notebooks 01-05 all need the corpus: the first builds, saves and reports it; the others load
    it back without a word, unless a knob or the source's files changed."""
    from course_utils.workspace import shown_path

    rows = [_row(i, ("import pandas as pd\n" if i % 3 else "x = 1\n") * 5) for i in range(300)]
    data = _write_jsonl(tmp_path / "code.jsonl", rows)
    cfg = {"corpus_source": str(data), "max_train_files": 50, "max_valid_files": 200,
           "filter_keywords": ["pandas"], "valid_fraction": 0.2}
    work = tmp_path / "work"
    built = load_raw_datasets(cfg, work)
    report = capsys.readouterr().out
    assert "of data after filtering." in report and "valid: asked for 200 files" in report
    (saved,) = (work / corpus.CORPUS_ARTEFACT).iterdir()
    assert f"corpus: 50 train / 35 valid files, saved in {shown_path(saved)}" in report
    again = load_raw_datasets(cfg, work)
    assert capsys.readouterr().out == ""  # reused quietly
    for split in ("train", "valid"):
        assert again[split]["path"] == built[split]["path"] == load_raw_datasets(cfg)[split]["path"]
    capsys.readouterr()
    load_raw_datasets({**cfg, "max_train_files": 40}, work)  # another knob: built again
    assert "corpus: 40 train /" in capsys.readouterr().out
    _write_jsonl(data, rows[:250])  # the source changed on the disk: built again
    assert len(load_raw_datasets(cfg, work)["train"]) == 50
    assert "of data after filtering." in capsys.readouterr().out
    assert len(list((work / corpus.CORPUS_ARTEFACT).iterdir())) == 3


def test_load_raw_datasets_from_a_saved_datasetdict(tmp_path):
    dd = DatasetDict({"train": Dataset.from_list([_row(i, "a") for i in range(6)]),
                      "validation": Dataset.from_list([_row(i, "b") for i in range(3)])})
    dd.save_to_disk(str(tmp_path / "prepared"))
    raw = load_raw_datasets({"corpus_source": str(tmp_path / "prepared"), "max_train_files": 4,
                             "max_valid_files": None})
    assert (len(raw["train"]), len(raw["valid"])) == (4, 3)


def test_load_raw_datasets_bundled_ci_profile():
    from course_utils.profiles import get_profile

    cfg = get_profile("ci", clm_max_scan_files=120, clm_max_train_files=20, clm_max_valid_files=3)
    raw = load_raw_datasets(cfg)
    assert (len(raw["train"]), len(raw["valid"])) == (20, 3)
    assert all(any_keyword_in_string(c, COURSE_FILTERS) for c in raw["train"]["content"])
    again = load_raw_datasets(cfg)
    assert again["train"]["path"] == raw["train"]["path"]  # seeded


# ---- exercises of notebook 01 ------------------------------------------------------------
def test_exercise_checkers_of_notebook_01(capsys):
    from course_utils.clm import exercises as ex

    assert ex.check_imports_filter(ex._reference_imports_library)
    assert not ex.check_imports_filter(lambda c: any_keyword_in_string(c, COURSE_FILTERS))
    assert "one day, port this to pandas" in capsys.readouterr().out  # names the failing case
    rows = [_row(0, "import numpy"), _row(1, "import seaborn"), _row(2, "x"), _row(3, "seaborn!")]
    assert ex.check_first_kept_paths(["pkg/mod_1.py", "pkg/mod_3.py"], rows, ["seaborn"], n=2)
    assert not ex.check_first_kept_paths(["pkg/mod_3.py"], rows, ["seaborn"], n=1)
    assert ex.check_kept_share(0.25, total=8, kept=2)
    assert not ex.check_kept_share(0.3, total=8, kept=2)


def test_examples_script_keeps_the_sentence_introducing_each_example():
    source = '''
def mean_by(df):
    """Mean per group.

    Parameters
    ----------
    df : DataFrame

    Examples
    --------
    Build a small frame of incomes:

    >>> df = pd.DataFrame({"job": ["a", "b", "a"], "income": [1, 2, 3]})

    Then compute the mean income per job
    with ``groupby``:

    >>> df.groupby("job")["income"].mean()
    job
    a    2.0
    b    2.0
    Name: income, dtype: float64

    .. note:: markup is not a comment
    >>> df.sum()

    Mean per group.

    >>> df.mean()
    """
'''
    assert examples_script(source) == (
        "import pandas as pd\n\n\n"
        "# mean_by: Mean per group.\n"
        "# Build a small frame of incomes:\n"
        'df = pd.DataFrame({"job": ["a", "b", "a"], "income": [1, 2, 3]})\n'
        "# Then compute the mean income per job\n"
        "# with `groupby`:\n"
        'df.groupby("job")["income"].mean()\n'
        "df.sum()\n"
        "df.mean()\n"
    )


def test_repeat_examples_weights_only_example_scripts():
    rows = [_row(i, f"code {i}") for i in range(6)] + [_row(9, "ex", corpus.EXAMPLES_PREFIX + "pkg/m.py")]
    train = Dataset.from_list(rows)
    out = corpus.repeat_examples(train, 3, seed=0)
    assert len(out) == 9 and out["path"].count(corpus.EXAMPLES_PREFIX + "pkg/m.py") == 3
    assert sorted(set(out["path"])) == sorted(set(train["path"]))
    assert corpus.repeat_examples(train, 1, seed=0)["path"] == train["path"]
    with pytest.raises(ValueError, match="examples_repeat must be an int >= 1"):
        corpus.repeat_examples(train, 0, seed=0)


def test_examples_script_keeps_a_wrapped_import_whole():
    # an import split over two lines in a doctest (``... ConstantKernel)``) must stay one statement
    module = (
        'def f():\n'
        '    """Fit a kernel.\n\n'
        '    >>> from sklearn.gaussian_process.kernels import (RBF,\n'
        '    ...     ConstantKernel)\n'
        '    >>> kernel = ConstantKernel() * RBF()\n'
        '    """\n'
    )
    script = examples_script(module)
    assert script.startswith("from sklearn.gaussian_process.kernels import RBF, ConstantKernel\n")
    compile(script, "<examples>", "exec")


def test_every_bundled_examples_script_is_valid_python():
    from pathlib import Path

    scripts = 0
    for _, file in corpus.bundled_files(["sklearn", "pandas", "matplotlib", "seaborn"]):
        script = examples_script(Path(file).read_text(encoding="utf-8", errors="replace"))
        if script is not None:
            scripts += 1
            compile(script, file, "exec")
    assert scripts > 100


def test_bundled_order_does_not_depend_on_the_install_location(monkeypatch, tmp_path):
    import shutil

    real = corpus.package_dir("seaborn")
    copy = tmp_path / "elsewhere" / "seaborn"
    shutil.copytree(real, copy, ignore=shutil.ignore_patterns("__pycache__"))
    here = [r["path"] for r in bundled_stream(["seaborn"], doc_examples=False, max_files=15)]
    monkeypatch.setattr(corpus, "package_dir", lambda name: copy if name == "seaborn" else real)
    there = [r["path"] for r in bundled_stream(["seaborn"], doc_examples=False, max_files=15)]
    assert here == there


def test_is_test_file():
    assert corpus.is_test_file("sklearn/linear_model/tests/test_bayes.py")
    assert corpus.is_test_file("pandas/_testing/__init__.py") is False  # a helper module, not a test suite
    assert corpus.is_test_file("pandas/testing/asserters.py")
    assert corpus.is_test_file("seaborn/conftest.py")
    assert corpus.is_test_file("matplotlib/test_util.py")
    assert not corpus.is_test_file("sklearn/model_selection/_split.py")
    assert not corpus.is_test_file("sklearn/utils/_testing.py")


def test_exclude_tests_leaves_the_test_suites_out():
    with_tests = [r["path"] for r in bundled_stream(["sklearn"], doc_examples=False, max_files=200)]
    without = [r["path"] for r in bundled_stream(["sklearn"], doc_examples=False, max_files=200, exclude_tests=True)]
    assert any(corpus.is_test_file(p) for p in with_tests)
    assert without and not any(corpus.is_test_file(p) for p in without)
    # the order of the files that remain is the same
    assert [p for p in with_tests if not corpus.is_test_file(p)] == without[: len([p for p in with_tests if not corpus.is_test_file(p)])]


def test_corpus_summary_counts_tests_and_examples():
    from datasets import Dataset, DatasetDict

    ds = Dataset.from_dict({"path": ["a/tests/test_x.py", "a/core.py", corpus.EXAMPLES_PREFIX + "a/core.py",
                                     "galleries/seaborn/examples/test_plot.py", "notebooks/arch/tests/a.ipynb.py"],
                            "content": ["assert 1", "def f(): pass", "import a\n", "plt.show()", "df"]})
    summary = corpus.corpus_summary(DatasetDict(train=ds))["train"]
    assert summary == {"files": 5, "characters": 8 + 13 + 9 + 10 + 2, "test_files": 1, "test_characters": 8,
                       "example_scripts": 1, "example_characters": 9,
                       "gallery_scripts": 1, "gallery_characters": 10,
                       "notebook_scripts": 1, "notebook_characters": 2}


def test_library_modules_false_keeps_only_scripts():
    with_modules = [r["path"] for r in bundled_stream(("pandas",), max_files=60)]
    scripts = [r["path"] for r in bundled_stream(("pandas",), max_files=60, modules=False)]
    assert scripts and all(p.startswith(corpus.EXAMPLES_PREFIX) for p in scripts)
    assert scripts == [p for p in with_modules if p.startswith(corpus.EXAMPLES_PREFIX)]
    with pytest.raises(corpus.CorpusError, match="library_modules=False keeps only scripts.*empty"):
        bundled_stream(("seaborn",), doc_examples=False, modules=False)
