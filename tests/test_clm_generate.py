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
    from benchmarks._clm_throughput import bare_torch_steps
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


def test_repetition_penalty_spares_the_prompt(pipe):
    """The scatter line reuses the prompt's `x`, `y`, `(`: a penalty on the prompt's tokens (what
    transformers' `repetition_penalty` does) breaks it; the penalty on generated tokens does not."""
    from course_utils.clm.generate import COURSE_PROMPTS, complete

    prompt = COURSE_PROMPTS[0].prompt
    assert complete(pipe, prompt, repetition_penalty=50.0) == "plt.scatter(x, y)"
    assert complete(pipe, prompt, repetition_penalty=50.0, penalize_prompt=True) != "plt.scatter(x, y)"
    # within what it writes, the penalty still bites: a long multi-line completion changes
    plain = complete(pipe, prompt, one_line=False, max_new_tokens=30, repetition_penalty=1.0)
    assert complete(pipe, prompt, one_line=False, max_new_tokens=30, repetition_penalty=50.0) != plain
    for bad in (0, -1.0, "1.3", True, None):
        with pytest.raises(ValueError, match="repetition_penalty"):
            complete(pipe, prompt, repetition_penalty=bad)


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
        assert re.search(p.expected, p.answer), p.name  # the course model's own line passes its check
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


# --------------------------------------------------------------------------------------------
# Does the model read the comment? (line_logprob, answer_logprobs, comment_sensitivity)
# --------------------------------------------------------------------------------------------

PAIRS = ("x = np.arange(5)\n# make a scatter plot\nplt.scatter(x, x)\n",
         "x = np.arange(5)\n# make a histogram\nplt.hist(x)\n")


@pytest.fixture(scope="module")
def comment_model():
    """A tiny GPT-2 over-fitted on two files that differ only in their comment and next line."""
    import torch

    from benchmarks._clm_throughput import bare_torch_steps
    from course_utils.clm.model import build_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    tok = tiny_tokenizer()
    model = build_model(tok, {"n_layer": 2, "n_embd": 64, "n_head": 2, "context_length": 64, "dropout": 0.0}, seed=0)
    batches = [torch.tensor([tok(t + tok.eos_token)["input_ids"]]) for t in PAIRS]
    bare_torch_steps(model, batches * 120, lr=3e-3)
    model.eval()
    yield model, tok
    torch.set_num_threads(threads)


def _manual_logprob(model, tok, prompt, line):
    import torch

    p = tok(prompt)["input_ids"]
    full = tok(prompt + line + "\n")["input_ids"]
    assert full[:len(p)] == p  # no token spans the boundary in these texts
    ids = torch.tensor([full])
    with torch.no_grad():
        logp = model(ids).logits[0, :-1].log_softmax(-1)
    return float(logp[torch.arange(len(full) - 1), ids[0, 1:]][len(p) - 1:].sum())


def test_line_logprob_is_the_chain_rule_sum(comment_model):
    from course_utils.clm.generate import line_logprob

    model, tok = comment_model
    prompt = "x = np.arange(5)\n# make a scatter plot\n"
    for line in ("plt.scatter(x, x)", "plt.hist(x)", "y = 3"):
        assert line_logprob(model, tok, prompt, line) == pytest.approx(_manual_logprob(model, tok, prompt, line), abs=1e-4)
    assert line_logprob(model, tok, prompt, "plt.scatter(x, x)") > line_logprob(model, tok, prompt, "plt.hist(x)") + 3
    # a trailing newline in the line is the same line
    assert line_logprob(model, tok, prompt, "plt.hist(x)\n") == pytest.approx(line_logprob(model, tok, prompt, "plt.hist(x)"))


def test_line_logprob_scores_a_token_that_spans_the_prompt_end(comment_model):
    """Byte-level BPE can merge the prompt's last newline with the line's indentation: that token
    belongs to the line, and the score is still log P(prompt + line) - log P(prompt)."""
    import torch

    from course_utils.clm.generate import line_logprob

    model, tok = comment_model
    prompt, line = "for i in x:\n", "    plt.hist(x)"
    enc = tok(prompt + line + "\n", return_offsets_mapping=True)
    spans = [i for i, (start, end) in enumerate(enc["offset_mapping"]) if start < len(prompt) < end]
    assert spans, "this text must have a token across the prompt's end for the test to mean anything"
    ids = torch.tensor([enc["input_ids"]])
    with torch.no_grad():
        logp = model(ids).logits[0, :-1].log_softmax(-1)
    per_token = logp[torch.arange(ids.shape[1] - 1), ids[0, 1:]]
    # token k is predicted at position k-1: the line's score starts with the spanning token
    assert line_logprob(model, tok, prompt, line) == pytest.approx(float(per_token[spans[0] - 1:].sum()), abs=1e-4)


def test_line_logprob_keeps_the_end_of_a_long_prompt(comment_model):
    from course_utils.clm.generate import line_logprob

    model, tok = comment_model
    long_prompt = "y = 1\n" * 200 + "x = np.arange(5)\n# make a histogram\n"
    value = line_logprob(model, tok, long_prompt, "plt.hist(x)")
    assert value < 0 and value == value  # finite, no index error past n_positions
    with pytest.raises(ValueError, match="n_positions"):
        line_logprob(model, tok, "x\n", "y = 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1")
    with pytest.raises(ValueError, match="non-empty"):
        line_logprob(model, tok, "x\n", "   ")


def test_comment_sensitivity_sees_a_model_that_reads_comments(comment_model):
    from course_utils.clm.generate import comment_sensitivity

    model, tok = comment_model
    prompts = [{"prompt": t.rsplit("\n", 2)[0] + "\n", "truth": t.rstrip("\n").rsplit("\n", 1)[1]} for t in PAIRS]
    assert prompts[0] == {"prompt": "x = np.arange(5)\n# make a scatter plot\n", "truth": "plt.scatter(x, x)"}
    found = comment_sensitivity(model, tok, prompts, seed=0)
    assert found["n"] == 2 and found["own_better"] == 1.0 and found["mean_gain"] > 3
    assert len(found["gains"]) == 2
    with pytest.raises(ValueError, match="at least two"):
        comment_sensitivity(model, tok, prompts[:1])


def test_comment_sensitivity_is_zero_for_a_model_that_ignores_comments():
    """A model whose prediction never depends on the input scores both comments alike."""
    import torch
    from types import SimpleNamespace

    from course_utils.clm.generate import comment_sensitivity

    tok = tiny_tokenizer()

    class Blind(torch.nn.Module):
        config = SimpleNamespace(n_positions=64)
        device = torch.device("cpu")

        def forward(self, ids):
            logits = torch.arange(len(tok), dtype=torch.float).expand(ids.shape[0], ids.shape[1], -1)
            return SimpleNamespace(logits=logits)

    prompts = [{"prompt": f"x = {i}\n# comment number {i}\n", "truth": f"y = x + {i}"} for i in range(5)]
    found = comment_sensitivity(Blind(), tok, prompts, seed=1)
    assert found["mean_gain"] == 0 and found["own_better"] == 0


def test_answer_logprobs_ranks_candidates(comment_model):
    from course_utils.clm.generate import CoursePrompt, answer_logprobs

    model, tok = comment_model
    prompts = (CoursePrompt("scatter", "x = np.arange(5)\n# make a scatter plot\n", r"plt\.scatter\(", "plt.scatter(...)"),)
    rows = answer_logprobs(model, tok, {"scatter": ["plt.hist(x)", "plt.scatter(x, x)"]}, prompts)
    assert [r["line"] for r in rows] == ["plt.scatter(x, x)", "plt.hist(x)"]
    assert [r["intended"] for r in rows] == [True, False]
    assert rows[0]["logprob"] > rows[1]["logprob"]
    assert rows[0]["per_token"] > rows[1]["per_token"]  # ranked per token: the lines differ in length


def test_line_logprob_per_token_is_the_mean(comment_model):
    from course_utils.clm.generate import line_logprob

    model, tok = comment_model
    prompt = "x = np.arange(5)\n# make a scatter plot\n"
    line = "plt.scatter(x, x)"
    n = len(tok(prompt + line + "\n")["input_ids"]) - len(tok(prompt)["input_ids"])
    total, mean = line_logprob(model, tok, prompt, line), line_logprob(model, tok, prompt, line, per_token=True)
    assert mean < 0 and total == pytest.approx(mean * round(total / mean), abs=1e-4)
    assert round(total / mean) >= n - 1


# ---- notebook 05: two models on the same prompts ------------------------------------------------
def test_completions_side_by_side_and_their_totals(pipe):
    from course_utils.clm.generate import COURSE_PROMPTS, completions_side_by_side, keytoken_count, side_by_side_totals

    held = [{"prompt": COURSE_PROMPTS[0].prompt, "truth": "plt.scatter(x, y)"},
            {"prompt": COURSE_PROMPTS[0].prompt, "truth": "plt.plot(x)"}]
    rows = completions_side_by_side({"a": pipe, "b": pipe}, [COURSE_PROMPTS[0], COURSE_PROMPTS[1]] + held)
    assert rows[0] == {"prompt": "scatter", "a": "plt.scatter(x, y)", "b": "plt.scatter(x, y)", "a ok": True, "b ok": True}
    assert rows[1]["prompt"] == "dataframe" and rows[1]["a ok"] is False  # the over-fitted model only scatters
    assert rows[2] == {"truth": "plt.scatter(x, y)", "a": "plt.scatter(x, y)", "b": "plt.scatter(x, y)", "a sim": 1.0, "b sim": 1.0}
    assert 0 < rows[3]["a sim"] < 1
    tok = pipe.tokenizer
    plt_ids = [i for i in tok("plt.scatter(x, y)")["input_ids"] if tok.decode([i]).strip() == "plt"]
    assert plt_ids, "the test tokenizer keeps 'plt' as one token"
    assert keytoken_count(tok, "plt.scatter(x, y)\nplt.show()", plt_ids[:1]) == 2
    assert keytoken_count(tok, "", plt_ids[:1]) == 0
    lines = [r["a"] for r in rows]
    totals = side_by_side_totals(rows, ["a", "b"], tok, plt_ids[:1])
    assert totals["a"] == totals["b"]
    assert totals["a"]["key_tokens"] == sum(keytoken_count(tok, line, plt_ids[:1]) for line in lines)
    assert totals["a"]["ok"] == sum(r["a ok"] for r in rows[:2]) and totals["a"]["of"] == 2
    assert totals["a"]["similarity"] == pytest.approx((1.0 + rows[3]["a sim"]) / 2)
    assert side_by_side_totals(rows[2:], ["a"], tok, [])["a"] == {"key_tokens": 0, "ok": None, "of": 0,
                                                                  "similarity": pytest.approx((1.0 + rows[3]["a sim"]) / 2)}
    with pytest.raises(ValueError, match="at least one model"):
        completions_side_by_side({}, COURSE_PROMPTS)


def test_model_at_step_prefers_the_same_step_count(tmp_path):
    import json

    from course_utils.clm.generate import model_at_step, trainer_run_steps

    run = tmp_path / "clm-trainer" / "20260101-000000"
    run.mkdir(parents=True)
    assert trainer_run_steps(run) is None and model_at_step(run, 5) == (run, None)  # no record: the final model, steps unknown
    (run / "log_history.json").write_text(json.dumps([{"loss": 3.0, "step": 5}, {"eval_loss": 2.9, "step": 10},
                                                      {"train_runtime": 1.0, "step": 10}]))
    assert trainer_run_steps(run) == 10
    assert model_at_step(run, 10) == (run, 10)  # the run ended at this count: its final model
    assert model_at_step(run, 5) == (run, 10)  # no checkpoint at 5: the final model, and its steps said
    (run / "checkpoint-5").mkdir()
    assert model_at_step(run, 5) == (run, 10)  # a folder without a model is no checkpoint
    (run / "checkpoint-5" / "config.json").write_text("{}")
    assert model_at_step(run, 5) == (run / "checkpoint-5", 5)
