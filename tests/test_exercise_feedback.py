"""A failing exercise check hints, it does not answer (issue 14.6).

Every ``check_...`` of ``course_utils.clm.exercises`` and ``course_utils.qa.exercises`` is given a
wrong answer here; what it prints must say what is wrong (a counter-example: the input where the
answer goes wrong and what it gave, or which way a number is off) and must not contain the expected
answer. Tiny fakes stand in for tokenizers, so this runs in a second.
"""
from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np
import pytest

from course_utils.clm import exercises as clm
from course_utils.qa import exercises as qa


def failure(capsys: pytest.CaptureFixture, check: Callable[..., bool], *args: Any, **kwargs: Any) -> str:
    """Run a check that must fail; return what it printed (and make sure it never says "expected")."""
    assert not check(*args, **kwargs)  # a Verdict: false when wrong
    out = capsys.readouterr().out
    assert out.startswith("❌") and "expected" not in out, out
    return out


def has_number(text: str, number: float | int) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(str(number))}(?![\d])", text) is not None


# ---- §6 -------------------------------------------------------------------------------------
def test_import_filter_shows_the_file_it_gets_wrong(capsys: pytest.CaptureFixture) -> None:
    course_filter = lambda content: any(k in content for k in ("pandas", "sklearn", "matplotlib", "seaborn"))
    out = failure(capsys, clm.check_imports_filter, course_filter)
    assert "# one day, port this to pandas" in out and "keeps" in out and "imports none" in out
    assert "return True or False" in failure(capsys, clm.check_imports_filter, lambda content: 1)


def test_first_kept_paths_never_lists_the_right_paths(capsys: pytest.CaptureFixture) -> None:
    rows = [{"path": f"pkg/mod_{i}.py", "content": "import seaborn" if i % 2 else "x"} for i in range(8)]
    out = failure(capsys, clm.check_first_kept_paths, ["pkg/mod_1.py", "pkg/mod_2.py"], rows, ["seaborn"], n=2)
    assert "pkg/mod_2.py" in out and "does not mention" in out and "pkg/mod_3.py" not in out
    out = failure(capsys, clm.check_first_kept_paths, ["pkg/mod_3.py", "pkg/mod_1.py"], rows, ["seaborn"], n=2)
    assert "out of order" in out
    out = failure(capsys, clm.check_first_kept_paths, [], rows, ["seaborn"], n=2)
    assert "pkg/mod_1.py" not in out and ".take(2)" in out


def test_kept_share_says_which_way(capsys: pytest.CaptureFixture) -> None:
    out = failure(capsys, clm.check_kept_share, 0.5, total=8, kept=3)
    assert "too high" in out and "0.375" not in out and "37.5" not in out and "3 of 8" not in out
    assert "too low" in failure(capsys, clm.check_kept_share, 0.0, total=8, kept=3)


def test_chunk_and_waste_checks_give_the_case_not_the_count(capsys: pytest.CaptureFixture) -> None:
    out = failure(capsys, clm.check_chunks_kept, lambda n, c: 0)
    assert "63 tokens" in out and "keeps 3" not in out
    out = failure(capsys, clm.check_waste, 0, 0, lengths=[300, 50, 130, 90], context_length=128)
    assert not has_number(out, 186) and not has_number(out, 62)
    out = failure(capsys, clm.check_waste, 186, 58, lengths=[300, 50, 130, 90], context_length=128)
    assert "EOS" in out and "course's drop" not in out and not has_number(out, 62)


def test_vocabulary_check_does_not_print_the_measurement(capsys: pytest.CaptureFixture) -> None:
    out = failure(capsys, clm.check_vocab_effect, "fewer", n_small=912, n_big=331)
    assert "more" not in out and not has_number(out, 912) and not has_number(out, 331)
    assert '"more" or "fewer"' in failure(capsys, clm.check_vocab_effect, "", n_small=912, n_big=331)


def test_parameter_count_names_the_likely_mistake(capsys: pytest.CaptureFixture) -> None:
    reference = clm._gpt2_param_count_reference
    out = failure(capsys, clm.check_gpt2_param_count, lambda v, p, d, n: reference(v, p, d, n) + v * d)
    assert "too many" in out and "lm_head" in out and f"{reference(1000, 64, 32, 1):,}" not in out
    out = failure(capsys, clm.check_gpt2_param_count, lambda v, p, d, n: reference(v, p, d, n) - p * d)
    assert "too few" in out and "position embeddings" in out


def test_optimizer_steps_counter_example(capsys: pytest.CaptureFixture) -> None:
    out = failure(capsys, clm.check_optimizer_steps, lambda n, b, a: n // (b * a))
    assert "100 chunks, batch 8, accumulation 1" in out and "too few" in out and not has_number(out, 13)


def test_groupby_and_baseline_checks_show_counter_examples(capsys: pytest.CaptureFixture) -> None:
    out = failure(capsys, clm.check_groupby_pattern, r"mean\(")
    assert "accepts" in out or "misses" in out
    out = failure(capsys, clm.check_repeat_baseline, lambda prompt: prompt.splitlines()[-1])
    assert "you return '# Compute the correlation matrix'" in out


def test_keytoken_weights_show_the_input_and_what_came_back(capsys: pytest.CaptureFixture) -> None:
    import torch

    out = failure(capsys, clm.check_keytoken_weights, lambda inputs, keys, alpha=1.0: torch.ones(inputs.shape[0]))
    assert "inputs=" in out and "you return" in out
    assert "torch.Tensor" in failure(capsys, clm.check_keytoken_weights, lambda inputs, keys, alpha=1.0: [1.0])


# ---- §7 -------------------------------------------------------------------------------------
def test_window_counts_say_which_way(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from course_utils.qa import features

    monkeypatch.setattr(features, "count_windows", lambda examples, tokenizer, max_length, stride: 17 + stride)
    out = failure(capsys, qa.check_window_counts, {0: 17, 32: 40, 64: 81}, {}, None, max_length=128)
    assert "stride=32" in out and "too few" in out and not has_number(out, 49)


def test_context_span_and_labels_hint(capsys: pytest.CaptureFixture) -> None:
    out = failure(capsys, qa.check_context_span, lambda seq: (0, 0))
    assert "you return (0, 0)" in out and "(4, 6)" not in out

    class Words:
        def decode(self, ids: list[int]) -> str:
            return " ".join(f"w{i}" for i in ids)

    windows = {"input_ids": [[0, 1, 2, 3, 4]] * 2, "start_positions": [1, 0], "end_positions": [3, 0]}
    out = failure(capsys, qa.check_label_texts, ["w1 w2", ""], windows, Words())
    assert "input_ids[1:3 + 1]" in out and "w1 w2 w3" not in out
    assert "(0, 0)" in failure(capsys, qa.check_label_texts, ["w1 w2 w3", "w0"], windows, Words())


def test_f1_says_which_way_and_why(capsys: pytest.CaptureFixture) -> None:
    out = failure(capsys, qa.check_f1, lambda prediction, reference: float(prediction == reference))
    assert "too low" in out and "articles" in out and "0.8" not in out


def test_best_span_explains_without_the_best_span(capsys: pytest.CaptureFixture) -> None:
    def too_long(s: np.ndarray, e: np.ndarray, offsets: list, max_len: int) -> tuple[int, int]:
        first = next(i for i, o in enumerate(offsets) if o is not None)
        return first, first + max_len

    assert "longer than max_answer_length" in failure(capsys, qa.check_best_span, too_long)
    assert "context tokens" in failure(capsys, qa.check_best_span, lambda *a: (0, 0))
    assert "has valid pairs" in failure(capsys, qa.check_best_span, lambda *a: None)

    def second_best(s: np.ndarray, e: np.ndarray, offsets: list, max_len: int) -> tuple[int, int] | None:
        best = qa.reference_best_span(s, e, offsets, max_len)
        return None if best is None else (best[0], best[0]) if best[1] != best[0] else (best[0] + 1, best[0] + 1)

    out = failure(capsys, qa.check_best_span, second_best)
    rng = np.random.default_rng(0)  # case 0 of check_best_span, rebuilt to know its answer
    n = int(rng.integers(8, 40))
    first = int(rng.integers(1, n // 2))
    offsets = [None] * n
    for k in range(first, n - 1):
        offsets[k] = (k * 5, k * 5 + 4)
    s, e = rng.standard_normal(n), rng.standard_normal(n)
    want = qa.reference_best_span(s, e, offsets, int(rng.integers(1, 12)))
    assert str(want) not in out


def test_number_answers_of_08_to_10_never_print_the_number(capsys: pytest.CaptureFixture) -> None:
    out = failure(capsys, qa.check_trainer_steps, 36, n_windows=100, batch_size=8, epochs=3)
    assert "last, smaller batch" in out and not has_number(out, 39)
    assert "too many" in failure(capsys, qa.check_trainer_steps, 50, n_windows=100, batch_size=8, epochs=3)
    stats = {"mean_length": 48.0, "windows": 10, "tokens_max_length": 1280}
    out = failure(capsys, qa.check_padding_fraction, 0.5, stats)
    assert "too low" in out and "0.625" not in out
    out = failure(capsys, qa.check_schedule_steps, 4, batches_per_epoch=17, epochs=3, gradient_accumulation_steps=4)
    assert "too few" in out and not has_number(out, 15)
    out = failure(capsys, qa.check_duplicated_windows, 0, n_windows=28, batch_size=16, num_processes=2)
    assert "too few" in out and not has_number(out, qa.duplicated_windows(28, 16, 2))


class FakeTokenizer:
    """Splits on spaces; `return_overflowing_tokens` gives one window per `step` tokens."""

    def __call__(self, *texts: str, add_special_tokens: bool = True, max_length: int = 0, stride: int = 0,
                 **kwargs: Any) -> dict[str, list]:
        words = " ".join(texts).split()
        if not max_length:
            return {"input_ids": list(range(len(words)))}
        step = max_length - stride
        return {"input_ids": [words[i:i + max_length] for i in range(0, max(1, len(words) - stride), step)]}

    def tokenize(self, text: str) -> list[str]:
        return text.split()


def test_window_count_and_answer_length_say_which_way(capsys: pytest.CaptureFixture) -> None:
    tok = FakeTokenizer()
    context = " ".join(f"w{i}" for i in range(300))
    windows = len(tok("q", context, max_length=128, stride=32)["input_ids"])
    out = failure(capsys, qa.check_window_count, windows + 1, tok, "q", context, 128, 32)
    assert "too many" in out and not has_number(out, windows)
    answer = "Jax , PyTorch , and TensorFlow"
    out = failure(capsys, qa.check_min_answer_len, 2, tok, answer)
    assert "cut" in out and not has_number(out, 6)
    assert "smaller" in failure(capsys, qa.check_min_answer_len, 9, tok, answer)
