"""The registered question-answering pipeline (transformers 5 removed the course's one)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from course_utils.profiles import activate

activate("ci")

import torch  # noqa: E402
from transformers import pipeline  # noqa: E402

from course_utils.qa.model import load_qa_model_and_tokenizer  # noqa: E402
from course_utils.qa.pipeline import (  # noqa: E402
    QuestionAnsweringArgumentError,
    QuestionAnsweringPipeline,
    best_spans,
    register_question_answering_pipeline,
)

COURSE_CONTEXT = (
    "🤗 Transformers is backed by the three most popular deep learning libraries — Jax, PyTorch, "
    "and TensorFlow — with a seamless integration between them. It's straightforward to train "
    "your models with one before loading them for inference with the other."
)
COURSE_QUESTION = "Which deep learning libraries back 🤗 Transformers?"


@pytest.fixture(scope="module")
def qa_pipe(tmp_path_factory):
    model, tokenizer = load_qa_model_and_tokenizer("bundled", seed=0)
    folder = tmp_path_factory.mktemp("qa-model")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    register_question_answering_pipeline()
    return pipeline("question-answering", model=str(folder), device="cpu")


def test_transformers_still_removes_the_task_and_registration_still_fixes_it(tmp_path):
    """Canary: if this fails, a transformers release changed how removed tasks are handled.

    Read the message: either the task is back (drop our workaround and use theirs) or the
    registry/REMOVED_TASKS mechanism moved (update register_question_answering_pipeline)."""
    code = textwrap.dedent(
        f"""
        import json, sys
        from course_utils.profiles import activate
        activate("ci")
        import transformers.pipelines as tp
        from transformers import pipeline
        from course_utils.qa.model import load_qa_model_and_tokenizer
        m, t = load_qa_model_and_tokenizer("bundled", seed=0)
        m.save_pretrained({str(tmp_path)!r}); t.save_pretrained({str(tmp_path)!r})
        out = {{"listed": "question-answering" in getattr(tp, "REMOVED_TASKS", {{}})}}
        try:
            pipeline("question-answering", model={str(tmp_path)!r})
            out["plain"] = "built"
        except KeyError as exc:
            out["plain"] = "KeyError: " + str(exc)
        from course_utils.qa.pipeline import register_question_answering_pipeline
        register_question_answering_pipeline()
        out["ours"] = type(pipeline("question-answering", model={str(tmp_path)!r}, device="cpu")).__name__
        print(json.dumps(out))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["listed"], (
        "transformers no longer lists 'question-answering' in REMOVED_TASKS: the task may be back "
        "or the mechanism moved; revisit course_utils.qa.pipeline.register_question_answering_pipeline"
    )
    assert out["plain"].startswith("KeyError") and "removed" in out["plain"], (
        f"a plain pipeline('question-answering') no longer raises the removal KeyError ({out['plain']}): "
        "revisit register_question_answering_pipeline"
    )
    assert out["ours"] == "QuestionAnsweringPipeline", out


def test_registration_is_idempotent_and_builds_our_class(qa_pipe):
    import transformers.pipelines as tp

    assert isinstance(qa_pipe, QuestionAnsweringPipeline)
    register_question_answering_pipeline()
    register_question_answering_pipeline()
    assert "question-answering" not in tp.REMOVED_TASKS
    assert tp.PIPELINE_REGISTRY.supported_tasks["question-answering"]["impl"] is QuestionAnsweringPipeline


def test_course_call_returns_score_start_end_answer(qa_pipe):
    result = qa_pipe(question=COURSE_QUESTION, context=COURSE_CONTEXT)
    assert set(result) == {"score", "start", "end", "answer"}
    assert result["answer"] == COURSE_CONTEXT[result["start"] : result["end"]]
    assert 0.0 < result["score"] <= 1.0
    # positional dict and list inputs give the same answer
    assert qa_pipe({"question": COURSE_QUESTION, "context": COURSE_CONTEXT}) == result
    both = qa_pipe([{"question": COURSE_QUESTION, "context": COURSE_CONTEXT}] * 2)
    assert both == [result, result]


def test_top_k_and_max_answer_len(qa_pipe):
    top = qa_pipe(question=COURSE_QUESTION, context=COURSE_CONTEXT, top_k=5, max_answer_len=4)
    assert isinstance(top, list) and len(top) == 5
    scores = [a["score"] for a in top]
    assert scores == sorted(scores, reverse=True)
    assert len({(a["start"], a["end"]) for a in top}) == 5  # no span twice
    tok = qa_pipe.tokenizer
    for a in top:
        assert len(tok(a["answer"], add_special_tokens=False)["input_ids"]) <= 4


def test_long_context_is_split_in_windows_and_matches_a_brute_force_search(qa_pipe):
    """The answer over all windows equals an exhaustive search over the model's own logits."""
    context = " ".join([COURSE_CONTEXT] * 6)
    result = qa_pipe(question=COURSE_QUESTION, context=context, max_seq_len=96, doc_stride=32, top_k=3)
    tok, model = qa_pipe.tokenizer, qa_pipe.model
    enc = tok(COURSE_QUESTION, context, truncation="only_second", max_length=96, stride=32,
              return_overflowing_tokens=True, return_offsets_mapping=True, padding="longest",
              return_tensors="pt")
    assert len(enc["input_ids"]) > 3  # several windows
    offsets = enc.pop("offset_mapping").tolist()
    enc.pop("overflow_to_sample_mapping")
    with torch.no_grad():
        out = model(**enc)
    best: dict[tuple[int, int], float] = {}
    for w in range(len(offsets)):
        seq = enc.sequence_ids(w)
        ctx = [i for i, s in enumerate(seq) if s == 1]
        ps = torch.softmax(out.start_logits[w, ctx].double(), 0).tolist()
        pe = torch.softmax(out.end_logits[w, ctx].double(), 0).tolist()
        for a, i in enumerate(ctx):
            for b, j in enumerate(ctx):
                if i <= j < i + 15:
                    key = (offsets[w][i][0], offsets[w][j][1])
                    best[key] = max(best.get(key, 0.0), ps[a] * pe[b])
    want = sorted(best.items(), key=lambda kv: -kv[1])[:3]
    assert [(r["start"], r["end"]) for r in result] == [k for k, _ in want]
    np.testing.assert_allclose([r["score"] for r in result], [v for _, v in want], rtol=1e-6)


def test_best_spans_on_handmade_logits_picks_the_second_window():
    # two windows of 6 tokens; context tokens are 2..4; characters 0..29 of a 30-char context
    context = "aaaa bbbb cccc dddd eeee ffff"
    offsets = np.array([[[0, 0], [0, 0], [0, 4], [5, 9], [10, 14], [0, 0]],
                        [[0, 0], [0, 0], [10, 14], [15, 19], [20, 24], [0, 0]]])
    mask = np.zeros((2, 6), dtype=bool)
    mask[:, 2:5] = True
    start = np.zeros((2, 6)); end = np.zeros((2, 6))
    start[1, 3], end[1, 4] = 9.0, 9.0   # "dddd eeee" in window 2
    start[0, 0], end[0, 0] = 50.0, 50.0  # a huge logit on [CLS] must be ignored
    (best,) = best_spans(start, end, offsets, mask, context, top_k=1)
    assert best["answer"] == "dddd eeee" and (best["start"], best["end"]) == (15, 24)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(question="", context=COURSE_CONTEXT), "question must be a non-empty string"),
        (dict(question=COURSE_QUESTION, context="   "), "context must be a non-empty string"),
        (dict(question=COURSE_QUESTION, context=None), "context must be a non-empty string"),
        (dict(question=COURSE_QUESTION, context=COURSE_CONTEXT, top_k=0), "top_k"),
        (dict(question=COURSE_QUESTION, context=COURSE_CONTEXT, max_answer_len=0), "max_answer_len"),
        (dict(question=COURSE_QUESTION, context=COURSE_CONTEXT, bogus=1), "unknown argument"),
        (dict(question="why " * 80, context=COURSE_CONTEXT), "question has"),
    ],
)
def test_bad_input_gives_clear_errors(qa_pipe, kwargs, match):
    with pytest.raises(QuestionAnsweringArgumentError, match=match):
        qa_pipe(**kwargs)


def test_slow_tokenizer_is_refused(qa_pipe):
    from transformers import BertTokenizerLegacy  # the pure-Python (slow) one in transformers 5

    from course_utils.assets import bundled_qa_encoder_path

    slow = BertTokenizerLegacy.from_pretrained(str(bundled_qa_encoder_path()))
    with pytest.raises(ValueError, match="fast"):
        QuestionAnsweringPipeline(model=qa_pipe.model, tokenizer=slow, device="cpu")


def test_qa_box_prints_the_highlighted_answer_without_widgets(qa_pipe, capsys):
    from course_utils.qa.widgets import answer_html, qa_box

    text = qa_box(qa_pipe, COURSE_CONTEXT, COURSE_QUESTION, top_k=2, interactive=False)
    best = qa_pipe(question=COURSE_QUESTION, context=COURSE_CONTEXT, top_k=2, max_answer_len=30)
    assert f"[[{best[0]['answer']}]]" in text and f"{best[0]['score']:.3f}" in text
    assert text in capsys.readouterr().out
    html = answer_html(COURSE_CONTEXT, best)
    assert f">{best[0]['answer']}</mark>" in html.replace("&#x27;", "'")
    assert answer_html(COURSE_CONTEXT, []) == "<i>no answer found</i>"


def test_exercise_checkers_of_notebook_10(qa_pipe):
    from course_utils.qa.exercises import check_min_answer_len, check_window_count

    tok = qa_pipe.tokenizer
    long_context = " ".join([COURSE_CONTEXT] * 6)
    n = len(tok(COURSE_QUESTION, long_context, truncation="only_second", max_length=128, stride=32,
                return_overflowing_tokens=True)["input_ids"])
    assert check_window_count(n, tok, COURSE_QUESTION, long_context, 128, 32)
    assert not check_window_count(n + 1, tok, COURSE_QUESTION, long_context, 128, 32)
    answer = "Jax, PyTorch, and TensorFlow"
    k = len(tok.tokenize(answer))
    assert check_min_answer_len(k, tok, answer) and not check_min_answer_len(k - 1, tok, answer)
    assert not check_min_answer_len(None, tok, answer)
