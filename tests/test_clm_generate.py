"""§6 step 5: the text-generation pipeline, one-line completions, the course prompts' checks and the
repeat-the-last-line baseline. The model is a tiny GPT-2 over-fitted here on a few lines of code."""
from __future__ import annotations

import re

import pytest

from test_clm_model import CODE, tiny_tokenizer

SCATTER = "# create some data\nx = np.random.randn(100)\ny = np.random.randn(100)\n\n# create scatter plot with x, y\nplt.scatter(x, y)\nplt.show()\n"


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model: one thread is ~30x faster than two on a busy 2-core machine
    yield _trained_pipe(tmp_path_factory)
    torch.set_num_threads(threads)


def _trained_pipe(tmp_path_factory):
    import torch

    from course_utils.clm.generate import load_generator
    from course_utils.clm.loop import bare_torch_steps
    from course_utils.clm.model import build_model

    tok = tiny_tokenizer()
    model = build_model(tok, {"n_layer": 2, "n_embd": 64, "n_head": 2, "context_length": 128, "dropout": 0.0}, seed=0)
    text = SCATTER + tok.eos_token
    ids = torch.tensor([tok(text)["input_ids"]])
    bare_torch_steps(model, [ids] * 150, lr=3e-3)
    path = tmp_path_factory.mktemp("gen") / "model"
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return load_generator(str(path))  # from a folder, as the notebook does


def test_overfit_model_completes_the_scatter_prompt(pipe):
    from course_utils.clm.generate import COURSE_PROMPTS, complete, run_course_prompts

    line = complete(pipe, COURSE_PROMPTS[0].prompt)
    assert line == "plt.scatter(x, y)"  # one line only, although the model goes on with plt.show()
    rows = run_course_prompts(pipe, COURSE_PROMPTS[:1])
    assert rows == [{"prompt": "scatter", "completion": "plt.scatter(x, y)", "expected": "plt.scatter(...)", "ok": True}]
    full = complete(pipe, COURSE_PROMPTS[0].prompt, one_line=False, max_new_tokens=20)
    assert full.startswith("plt.scatter(x, y)\nplt.show()")


def test_sampling_is_seeded_and_greedy_is_deterministic(pipe):
    from course_utils.clm.generate import complete

    prompt = "import numpy"
    a = complete(pipe, prompt, temperature=1.5, top_k=200, seed=1, one_line=False, max_new_tokens=10)
    b = complete(pipe, prompt, temperature=1.5, top_k=200, seed=1, one_line=False, max_new_tokens=10)
    assert a == b
    assert complete(pipe, prompt, one_line=False, max_new_tokens=8) == complete(pipe, prompt, one_line=False, max_new_tokens=8)
    with pytest.raises(ValueError, match="prompt must be"):
        complete(pipe, "")
    with pytest.raises(ValueError, match="max_new_tokens"):
        complete(pipe, "x", max_new_tokens=0)
    with pytest.raises(ValueError, match="leaves no room"):
        complete(pipe, "x", max_new_tokens=128)
    # a prompt longer than the position table keeps its end instead of an IndexError
    long_prompt = "x = 1\n" * 200 + SCATTER.split("plt.scatter")[0]
    assert complete(pipe, long_prompt, max_new_tokens=16).startswith("plt.")


def test_expected_api_patterns():
    from course_utils.clm.generate import COURSE_PROMPTS

    good = {
        "scatter": "plt.scatter(x, y)",
        "dataframe": "df = pd.DataFrame({'x': x, 'y': y})",
        "groupby": "profession_income = df.groupby(['profession'])['income'].mean()",
        "random_forest": "rf = RandomForestRegressor(n_estimators=300, random_state=random_state, max_depth=3)",
    }
    bad = {
        "scatter": "plt.plot(x, y)",
        "dataframe": "df = pd.Series(x)",
        "groupby": "df.mean()",
        "random_forest": "rf = RandomForestRegressor(n_estimators=30)",
    }
    for p in COURSE_PROMPTS:
        assert re.search(p.expected, good[p.name]), p.name
        assert not re.search(p.expected, bad[p.name]), p.name
    assert COURSE_PROMPTS[2].prompt.endswith("# calculate the mean income per profession\n")


def test_comment_prompts_and_baseline():
    from course_utils.clm.generate import comment_prompts, repeat_last_line

    files = [
        "import pandas as pd\ndf = pd.read_csv('a.csv')\n# Compute the correlation matrix\ncorr = df.corr()\n",
        "# only a comment at the top of a file\nx = 1\n",  # no code before the comment: no prompt
        "y = 2\n# short\nz = 3\n",  # comment too short to be an instruction
        None,
    ]
    prompts = comment_prompts(files)
    assert prompts == [{"prompt": "import pandas as pd\ndf = pd.read_csv('a.csv')\n# Compute the correlation matrix\n",
                        "truth": "corr = df.corr()"}]
    assert repeat_last_line(prompts[0]["prompt"]) == "df = pd.read_csv('a.csv')"


def test_held_out_prompt_sets_split_scripts_from_library_code():
    from datasets import Dataset

    from course_utils.clm.corpus import EXAMPLES_PREFIX
    from course_utils.clm.generate import held_out_prompt_sets

    script = "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\n# Group by column a and take the mean\ndf.groupby('a').mean()\n"
    module = "def f(x):\n    y = x\n    # Check the argument type first\n    if not isinstance(y, int):\n        raise TypeError\n"
    valid = Dataset.from_dict({"path": [EXAMPLES_PREFIX + "pandas/core/groupby.py", "pandas/core/groupby.py"],
                               "content": [script, module]})
    sets = held_out_prompt_sets(valid)
    assert list(sets) == ["data-science scripts", "library code"]
    assert sets["data-science scripts"][0]["truth"] == "df.groupby('a').mean()"
    assert sets["library code"][0]["truth"] == "if not isinstance(y, int):"
    only_modules = held_out_prompt_sets(valid.select([1]))
    assert list(only_modules) == ["library code"]  # an empty set is left out, not an error later


def test_held_out_prompts_do_not_depend_on_the_split_order():
    from datasets import Dataset

    from course_utils.clm.corpus import EXAMPLES_PREFIX
    from course_utils.clm.generate import held_out_prompt_sets

    scripts = [f"import pandas as pd\ndf = pd.read_csv('f{i}.csv')\n# Take the mean of column number {i}\ndf['c{i}'].mean()\n"
               for i in range(12)]
    paths = [f"{EXAMPLES_PREFIX}pandas/m{i}.py" for i in range(12)]
    valid = Dataset.from_dict({"path": paths, "content": scripts})
    shuffled = valid.shuffle(seed=3)
    assert list(shuffled["path"]) != paths
    first = held_out_prompt_sets(valid, n=5)["data-science scripts"]
    assert held_out_prompt_sets(shuffled, n=5)["data-science scripts"] == first


def test_compare_with_baseline_counts(pipe):
    from course_utils.clm.generate import compare_with_repeat_baseline

    prompts = [{"prompt": "# create some data\nx = np.random.randn(100)\ny = np.random.randn(100)\n\n# create scatter plot with x, y\n",
                "truth": "plt.scatter(x, y)"}]
    out = compare_with_repeat_baseline(pipe, prompts)
    assert out["n"] == 1 and out["model_exact"] == 1 and out["baseline_exact"] == 0
    assert out["model_similarity"] == 1.0 and out["model_wins"] == 1
    with pytest.raises(ValueError, match="no prompts"):
        compare_with_repeat_baseline(pipe, [])


def test_widget_degrades_to_printed_text(pipe, capsys, monkeypatch):
    from course_utils.clm.widgets import completion_box, widgets_available

    monkeypatch.setenv("COURSE_QUIET", "1")
    assert not widgets_available()
    text = completion_box(pipe, one_line=True)
    assert text == "plt.scatter(x, y)"
    assert capsys.readouterr().out.endswith("# create scatter plot with x, y\nplt.scatter(x, y)\n")


def test_exercise_04_checkers():
    from course_utils.clm.exercises import check_groupby_pattern, check_repeat_baseline
    from course_utils.clm.generate import repeat_last_line

    assert check_groupby_pattern(r"groupby\(.*\)(\.\w+|\[.*\])?\.(mean\(\)|agg\(['\"]mean['\"]\))")
    assert not check_groupby_pattern(r"mean\(")
    assert not check_groupby_pattern(r"(")
    assert check_repeat_baseline(repeat_last_line)
    assert not check_repeat_baseline(lambda p: p.splitlines()[-1])
