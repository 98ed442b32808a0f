"""course_utils.qa.features: windows and labels equal to the course's, on bundled and real SQuAD."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from course_utils.qa.course import course_preprocess_training_examples, course_preprocess_validation_examples
from course_utils.qa.data import load_qa_datasets, read_squad_file
from course_utils.qa.features import (
    answer_token_span,
    count_windows,
    decode_labels,
    preprocess_training_examples,
    preprocess_validation_examples,
    tokenize_windows,
)

SQUAD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "squad"


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from course_utils.assets import bundled_qa_encoder_path

    return AutoTokenizer.from_pretrained(bundled_qa_encoder_path())


@pytest.fixture(scope="module")
def bundled():
    return load_qa_datasets({"data_source": "bundled"})


def _batch(records):
    return {k: [r[k] for r in records] for k in ("id", "title", "context", "question", "answers")}


def _assert_same(ours, ref):
    assert ours["input_ids"] == ref["input_ids"]
    assert ours["start_positions"] == ref["start_positions"]
    assert ours["end_positions"] == ref["end_positions"]


@pytest.mark.parametrize("max_length,stride", [(384, 128), (256, 64), (128, 32), (100, 50), (64, 16)])
def test_labels_equal_the_course_on_bundled(tokenizer, bundled, max_length, stride):
    batch = bundled["train"][:]
    ours = preprocess_training_examples(batch, tokenizer, max_length, stride)
    ref = course_preprocess_training_examples(batch, tokenizer, max_length, stride)
    _assert_same(ours, ref)
    assert "offset_mapping" not in ours and "overflow_to_sample_mapping" not in ours
    inside = sum(s > 0 for s in ours["start_positions"])
    assert 0 < inside <= len(ours["start_positions"])


@pytest.mark.shared_data
@pytest.mark.parametrize("max_length,stride", [(384, 128), (256, 64), (100, 50)])
def test_labels_equal_the_course_on_real_squad(tokenizer, max_length, stride):
    if not SQUAD.is_dir():
        pytest.skip("../shared/data is absent")
    records = read_squad_file(SQUAD / "train-sample-v1.1.jsonl")
    batch = _batch(records)
    ours = preprocess_training_examples(batch, tokenizer, max_length, stride)
    ref = course_preprocess_training_examples(batch, tokenizer, max_length, stride)
    _assert_same(ours, ref)
    assert len(ours["input_ids"]) > len(records)  # real contexts need several windows


def test_labels_with_a_cased_tokenizer_too(bundled):
    """A second, differently built fast tokenizer (byte-level BPE, no token_type_ids)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    texts = list(bundled["train"]["context"]) + list(bundled["train"]["question"])
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=["<s>", "</s>", "<pad>", "<unk>"]))
    raw.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>")
    batch = bundled["train"][:200]
    for max_length, stride in [(128, 32), (96, 40)]:
        _assert_same(preprocess_training_examples(batch, tok, max_length, stride),
                     course_preprocess_training_examples(batch, tok, max_length, stride))


def test_no_final_sep_no_index_error(tokenizer):
    """A tokenizer that adds no final special token: the course's `while sequence_ids[idx] == 1`
    runs off the end of a full window; ours finds the context end by counting."""
    from tokenizers import processors

    tok = copy.deepcopy(tokenizer)
    tok._tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A", pair="[CLS] $A [SEP] $B:1", special_tokens=[("[CLS]", 101), ("[SEP]", 102)])
    context = " ".join(f"word{i}" for i in range(60)) + " the answer is Helsinki today."
    start = context.index("Helsinki")
    batch = {"id": ["x"], "question": ["Where?"], "context": [context],
             "answers": [{"text": ["Helsinki"], "answer_start": [start]}]}
    with pytest.raises(IndexError):
        course_preprocess_training_examples(batch, tok, 32, 8)
    out = preprocess_training_examples(batch, tok, 32, 8)
    texts = decode_labels(out, tok)
    assert "helsinki" in texts
    assert all(len(ids) == 32 or ids[-1] != 102 for ids in out["input_ids"])


def test_dynamic_padding_gives_the_same_labels(tokenizer, bundled):
    batch = bundled["train"][:64]
    padded = preprocess_training_examples(batch, tokenizer, 128, 32)
    unpadded = preprocess_training_examples(batch, tokenizer, 128, 32, padding=False)
    assert padded["start_positions"] == unpadded["start_positions"]
    assert padded["end_positions"] == unpadded["end_positions"]
    assert max(len(x) for x in unpadded["input_ids"]) == 128 > min(len(x) for x in unpadded["input_ids"])


def test_course_worked_example(tokenizer, bundled):
    """max_length=100, stride=50 on one long bundled passage: windows overlap by 50 tokens and the
    labels decode back to the answer in every window that holds it."""
    row = next(r for r in bundled["train"] if r["question"] == "Which deep learning libraries back 🤗 Transformers?")
    windows = tokenize_windows(tokenizer, row["question"], row["context"], max_length=100, stride=50)
    assert len(windows["input_ids"]) >= 2
    first, second = windows["input_ids"][0], windows["input_ids"][1]
    q_len = first.index(102) + 1
    assert first[-51:-1] == second[q_len:q_len + 50]  # the overlap is `stride` tokens
    out = preprocess_training_examples({k: [row[k]] for k in row}, tokenizer, 100, 50)
    decoded = [t for t in decode_labels(out, tokenizer) if t]
    assert decoded and set(decoded) == {"jax, pytorch and tensorflow"}


def test_answer_token_span_edges():
    offsets = [(0, 0), (0, 3), (4, 7), (8, 12), (13, 15), (0, 0)]
    assert answer_token_span(offsets, 1, 4, 4, 12) == (2, 3)
    assert answer_token_span(offsets, 1, 4, 5, 6) == (2, 2)  # inside one token
    assert answer_token_span(offsets, 2, 4, 0, 3) == (0, 0)  # starts before the window
    assert answer_token_span(offsets, 1, 3, 13, 15) == (0, 0)  # ends after the window
    assert answer_token_span(offsets, 1, 4, 0, 15) == (1, 4)


def test_validation_features_match_the_course(tokenizer, bundled):
    batch = bundled["validation"][:]
    for max_length, stride in [(384, 128), (128, 32)]:
        ours = preprocess_validation_examples(batch, tokenizer, max_length, stride)
        ref = course_preprocess_validation_examples(batch, tokenizer, max_length, stride)
        assert ours["input_ids"] == ref["input_ids"]
        assert ours["example_id"] == ref["example_id"]
        assert ours["offset_mapping"] == ref["offset_mapping"]
        first = ours["offset_mapping"][0]
        assert first[0] is None and any(o is not None for o in first)


def test_validation_map_keeps_example_ids(tokenizer, bundled):
    val = bundled["validation"].select(range(60))
    feats = val.map(preprocess_validation_examples, batched=True, remove_columns=val.column_names,
                    fn_kwargs={"tokenizer": tokenizer, "max_length": 128, "stride": 32})
    assert set(feats["example_id"]) == set(val["id"])
    assert len(feats) == count_windows(val[:], tokenizer, 128, 32) > 60
    # Training batches need exactly one answer per question: keep each question's first answer,
    # as the course's label code does.
    one = val.map(lambda ex: {"answers": {"text": ex["answers"]["text"][:1],
                                          "answer_start": ex["answers"]["answer_start"][:1]}})
    train_feats = preprocess_training_examples(one[:], tokenizer, 128, 32)
    assert len(train_feats["input_ids"]) == len(feats)


# ---------------------------------------------------------------------------------------------
# Pictures, the window explorer and the notebook 06 exercises
# ---------------------------------------------------------------------------------------------
def test_worked_example_is_the_course_pipeline_question():
    from course_utils.qa.data import worked_example

    ex = worked_example()
    assert ex["answers"]["text"] == ["Jax, PyTorch and TensorFlow"]
    with pytest.raises(KeyError):
        worked_example("Not a question we have?")


def test_example_windows_and_their_pictures(tokenizer):
    from course_utils.qa.data import worked_example
    from course_utils.qa.viz import ZERO_BORDER, example_windows, windows_html, windows_text

    ex = worked_example()
    text, start = ex["answers"]["text"][0], ex["answers"]["answer_start"][0]
    windows = example_windows(tokenizer, ex["question"], ex["context"], text, start, 100, 50)
    ref = preprocess_training_examples({k: [v] for k, v in ex.items()}, tokenizer, 100, 50)
    assert [w.start_position for w in windows] == ref["start_positions"]
    assert [w.end_position for w in windows] == ref["end_positions"]
    assert any(w.has_answer for w in windows) and any(not w.has_answer for w in windows)
    assert {w.label_text for w in windows if w.has_answer} == {text}
    assert windows[0].char_start == 0 and windows[-1].char_end == len(ex["context"])
    assert all(b.char_start < a.char_end for a, b in zip(windows, windows[1:]))  # they overlap
    page = windows_html(windows, ex["context"], start, text)
    assert page.count("<b>window ") == len(windows)
    assert page.count(f"2px solid {ZERO_BORDER}") == 1 + sum(not w.has_answer for w in windows)  # + legend
    plain = windows_text(windows, ex["context"])
    assert plain.count("labels (0, 0)") == sum(not w.has_answer for w in windows)


def test_window_explorer_prints_without_widgets(tokenizer, capsys):
    from course_utils.qa.data import worked_example
    from course_utils.qa.widgets import widgets_available, window_explorer

    assert not widgets_available()  # no kernel in a test
    out = window_explorer(tokenizer, worked_example(), max_length=100, stride=50)
    assert out.startswith("max_length=100, stride=50: ") and "window 0:" in out
    assert out in capsys.readouterr().out


def test_plot_dataset_shape(tokenizer, bundled):
    import matplotlib

    matplotlib.use("Agg")
    from course_utils.qa.viz import answer_positions, plot_dataset_shape

    shares = plot_dataset_shape(bundled["validation"], tokenizer, window_sizes=(64, 256))
    assert shares["share_longer_than_64"] > shares["share_longer_than_256"] > 0
    pos = answer_positions(bundled["validation"])
    assert len(pos["relative_start"]) == 3 * len(bundled["validation"])
    assert all(0 <= p < 1 for p in pos["relative_start"])


def test_exercise_checkers_06(tokenizer, bundled, capsys):
    from course_utils.qa.data import worked_example
    from course_utils.qa.exercises import (check_context_span, check_label_texts, check_window_counts,
                                           reference_context_span)

    batch = bundled["train"][:40]
    right = {s: count_windows(batch, tokenizer, 128, s) for s in (0, 32, 64)}
    assert check_window_counts(right, batch, tokenizer, 128)
    assert right[0] <= right[32] <= right[64]
    assert not check_window_counts({**right, 32: right[32] + 1}, batch, tokenizer, 128)
    assert not check_window_counts({}, batch, tokenizer, 128)

    def course_loop(sequence_ids):
        idx = 0
        while sequence_ids[idx] != 1:
            idx += 1
        start = idx
        while sequence_ids[idx] == 1:
            idx += 1
        return start, idx - 1

    assert check_context_span(reference_context_span)
    assert not check_context_span(course_loop)
    assert "IndexError" in capsys.readouterr().out

    ex = worked_example()
    one = preprocess_training_examples({k: [v] for k, v in ex.items()}, tokenizer, 100, 50)
    answer = [tokenizer.decode(ids[s:e + 1]) if (s, e) != (0, 0) else ""
              for ids, s, e in zip(one["input_ids"], one["start_positions"], one["end_positions"])]
    assert check_label_texts(answer, one, tokenizer)
    assert not check_label_texts([], one, tokenizer)
