"""Training pieces of §7: arguments, collators, QATrainer metrics, the Accelerate loop."""
from __future__ import annotations

import math

import numpy as np
import pytest
from dataclasses import replace

from course_utils.settings import QaSettings

from course_utils.profiles import activate, get_profile

activate("ci")

import torch  # noqa: E402
from datasets import DatasetDict  # noqa: E402

from course_utils.qa import loop  # noqa: E402
from course_utils.training import make_accelerator  # noqa: E402
from course_utils.qa.data import load_qa_datasets  # noqa: E402
from course_utils.qa.model import load_qa_model_and_tokenizer  # noqa: E402
from test_qa_distributed import tiny_squad  # noqa: E402

SIZES = dict(max_length=64, stride=16)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    folder = tiny_squad(tmp_path_factory.mktemp("tiny"))
    cfg = activate("ci", qa_data_source=str(folder), qa_max_train_examples=16)
    return load_qa_datasets(cfg)


@pytest.fixture(scope="module")
def tokenizer():
    return load_qa_model_and_tokenizer("bundled", dropout=0.0, seed=0)[1]


def fresh_model():
    return load_qa_model_and_tokenizer("bundled", dropout=0.0, seed=0)[0]


# ------------------------------------------------------------------ arguments and collators
def test_training_arguments_follow_the_profile_with_transformers5_names(tmp_path):
    qa = replace(get_profile("workshop").qa, mixed_precision="no")
    args = loop.qa_training_arguments(qa, tmp_path, seed=7)
    assert args.eval_strategy == "epoch"
    assert args.learning_rate == qa.learning_rate and args.weight_decay == 0.01
    assert args.warmup_steps == pytest.approx(qa.warmup_ratio)  # a ratio, as warmup_ratio was
    assert args.train_sampling_strategy == "group_by_length"
    assert args.fp16 is False and args.bf16 is False  # "no" asked
    bf16 = loop.qa_training_arguments(replace(qa, mixed_precision="bf16"), tmp_path)
    assert bf16.bf16 and (bf16.use_cpu or torch.cuda.is_available())
    assert args.push_to_hub is False and args.seed == 7
    assert args.save_total_limit == 2  # a checkpoint is ~170 MB with MiniLM: keep the newest two
    assert loop.qa_training_arguments(replace(qa, save_total_limit=None), tmp_path).save_total_limit is None
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="save_total_limit"):
            loop.qa_training_arguments(replace(qa, save_total_limit=bad), tmp_path)
    course = loop.qa_training_arguments(get_profile("ci", qa_dynamic_padding=False).qa, tmp_path)
    assert course.train_sampling_strategy == "random"
    with pytest.raises(ValueError, match="warmup_ratio"):
        loop.qa_training_arguments(replace(qa, warmup_ratio=1.5), tmp_path)
    with pytest.raises(ValueError, match="batch_size"):
        loop.qa_training_arguments(replace(qa, batch_size=0), tmp_path)


def test_dynamic_windows_have_the_course_labels_and_tokens(raw, tokenizer):
    """Unpadded windows = the course's padded windows with the padding cut off, same labels."""
    dyn_train, dyn_eval = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    pad_train, pad_eval = loop.build_features(raw, tokenizer, dynamic_padding=False, **SIZES)
    assert len(dyn_train) == len(pad_train) and len(dyn_eval) == len(pad_eval)
    assert dyn_train["start_positions"] == pad_train["start_positions"]
    assert dyn_train["end_positions"] == pad_train["end_positions"]
    for a, b in zip(dyn_train["input_ids"], pad_train["input_ids"]):
        assert len(b) == SIZES["max_length"] and b[: len(a)] == a and set(b[len(a):]) <= {tokenizer.pad_token_id}
    assert dyn_eval["example_id"] == pad_eval["example_id"]


def test_padding_collator_pads_to_the_longest_window_in_multiples_of_8(raw, tokenizer):
    train, _ = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    rows = [loop.model_features(train)[i] for i in range(4)]
    batch = loop.padding_collator(tokenizer, True)(rows)
    longest = max(len(r["input_ids"]) for r in rows)
    assert batch["input_ids"].shape == (4, math.ceil(longest / 8) * 8)
    assert batch["start_positions"].tolist() == [r["start_positions"] for r in rows]
    assert loop.padding_collator(tokenizer, False) is loop.default_data_collator


def test_concat_padded_fills_missing_positions_with_minus_100():
    out = loop.concat_padded([np.ones((2, 3)), np.full((1, 5), 2.0)])
    assert out.shape == (3, 5)
    assert out[:2, 3:].tolist() == [[-100, -100], [-100, -100]] and out[2].tolist() == [2] * 5
    with pytest.raises(ValueError, match="no logits"):
        loop.concat_padded([])


def test_padding_stats_count_tokens(raw, tokenizer):
    train, _ = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    stats = loop.padding_stats(train, batch_size=4, max_length=64, group_by_length=True)
    lengths = [len(x) for x in train["input_ids"]]
    assert stats["windows"] == len(lengths) and stats["tokens_max_length"] == 64 * len(lengths)
    assert sum(lengths) <= stats["tokens_dynamic"] <= stats["tokens_max_length"]
    assert stats["token_ratio"] >= 1.0


def test_time_train_steps_under_bf16_autocast_and_with_frozen_embeddings(raw, tokenizer):
    """The speed table of notebook 08: bf16 autocast and a frozen embedding matrix both train."""
    from torch.utils.data import DataLoader

    from course_utils.training import time_train_steps

    train, _ = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    dl = DataLoader(loop.model_features(train), batch_size=4, collate_fn=loop.padding_collator(tokenizer, True))
    model = fresh_model()
    model.get_input_embeddings().weight.requires_grad_(False)
    before = model.get_input_embeddings().weight.clone()
    head = model.qa_outputs.weight.clone()
    seconds = time_train_steps(model, list(dl)[:2], 2, precision="bf16")
    assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert torch.equal(model.get_input_embeddings().weight, before)  # frozen: untouched
    assert not torch.equal(model.qa_outputs.weight, head)  # the rest trains
    assert model.qa_outputs.weight.dtype == torch.float32  # autocast: the weights stay fp32
    with pytest.raises(ValueError, match="mixed_precision"):
        time_train_steps(fresh_model(), list(dl)[:2], 2, precision="half")


def test_qa_trainer_trains_under_bf16_autocast_on_a_cpu(raw, tokenizer, tmp_path):
    """The workshop's path where the probe picks bf16, run on any CPU (slower where bf16 is emulated, same result type)."""
    train, valid = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    qa = replace(get_profile("ci").qa, max_steps=4, batch_size=4, mixed_precision="bf16")
    args = loop.qa_training_arguments(qa, tmp_path, seed=0, save_strategy="no", eval_strategy="no", logging_steps=1)
    assert args.bf16
    trainer = loop.build_qa_trainer(fresh_model(), tokenizer, args, train, valid, raw["validation"])
    trainer.train()
    losses = [v for _, v in loop.loss_history(trainer)["loss"]]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    metrics = loop.predict_metrics(trainer, valid, raw["validation"])  # bf16 logits post-process fine
    assert 0.0 <= metrics["f1"] <= 100.0


# ------------------------------------------------------------------ QATrainer
def test_qa_trainer_logs_em_f1_during_training_and_predict_agrees(raw, tokenizer, tmp_path):
    train, valid = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    qa = replace(get_profile("ci").qa, max_steps=-1, num_train_epochs=2, batch_size=4)
    args = loop.qa_training_arguments(qa, tmp_path, seed=0, save_strategy="no", logging_steps=1)
    trainer = loop.build_qa_trainer(fresh_model(), tokenizer, args, train, valid, raw["validation"])
    trainer.train()
    history = loop.loss_history(trainer)
    assert [s for s, _ in history["eval_f1"]] == [math.ceil(len(train) / 4), 2 * math.ceil(len(train) / 4)]
    assert len(history["loss"]) == trainer.state.global_step
    assert history["loss"][-1][1] < history["loss"][0][1]  # it learns
    final = loop.predict_metrics(trainer, valid, raw["validation"])
    assert final["f1"] == pytest.approx(history["eval_f1"][-1][1])
    assert final["exact_match"] == pytest.approx(history["eval_exact_match"][-1][1])
    fig = loop.plot_training_curves(history)
    assert len(fig.axes) == 2


def test_qa_trainers_notebook_table_has_no_empty_validation_loss_column():
    """In a notebook, Trainer's table gets a "Validation Loss" column that QA evaluations (EM/F1, no
    loss) would fill with "No log": QATrainer's table leaves it out and keeps the scores."""
    from types import SimpleNamespace

    from transformers.trainer_utils import IntervalStrategy
    from transformers.utils.notebook import NotebookProgressCallback

    class FakeTrainer:  # only the callback list matters here
        def __init__(self):
            self.callbacks = [NotebookProgressCallback()]

        def pop_callback(self, cls):
            found = [c for c in self.callbacks if type(c) is cls]
            self.callbacks = [c for c in self.callbacks if c not in found]
            return found[0] if found else None

        def add_callback(self, callback):
            self.callbacks.append(callback)

    trainer = FakeTrainer()
    loop._table_without_loss_column(trainer)
    (table,) = trainer.callbacks
    assert isinstance(table, NotebookProgressCallback) and type(table) is not NotebookProgressCallback
    args = SimpleNamespace(eval_strategy=IntervalStrategy.EPOCH)
    state = SimpleNamespace(max_steps=4, epoch=1.0, global_step=4, log_history=[{"loss": 4.5, "step": 4}])
    table.on_train_begin(args, state, None)
    table.training_tracker.display = lambda: None  # no IPython display in a test
    table.on_evaluate(args, state, None, metrics={"eval_exact_match": 50.0, "eval_f1": 62.5, "eval_runtime": 0.1})
    assert table.training_tracker.inner_table == [["Epoch", "Training Loss", "Exact Match", "F1"], [1, 4.5, 50.0, 62.5]]
    untouched = FakeTrainer()
    untouched.callbacks = []  # outside a notebook Trainer has no table: nothing to swap
    loop._table_without_loss_column(untouched)
    assert untouched.callbacks == []


def test_dynamic_padding_evaluation_equals_the_courses_padded_evaluation(raw, tokenizer, tmp_path):
    """Same model: EM/F1 with batches padded to their longest window (logits padded with -100
    across batches) equal the course's pad-everything-to-max_length evaluation."""
    model = fresh_model()
    torch.manual_seed(1)
    with torch.no_grad():  # a head with some structure, so predictions are not all ties
        model.qa_outputs.weight.normal_(0, 0.5)
    results = {}
    for dynamic in (True, False):
        _, valid = loop.build_features(raw, tokenizer, dynamic_padding=dynamic, **SIZES)
        args = loop.qa_training_arguments(replace(get_profile("ci").qa, dynamic_padding=dynamic, batch_size=4),
                                          tmp_path / str(dynamic), save_strategy="no", per_device_eval_batch_size=2)
        trainer = loop.build_qa_trainer(model, tokenizer, args, valid, valid, raw["validation"], dynamic)
        output = trainer.predict(valid)
        if dynamic:
            assert (output.predictions[0] == -100).any()  # batches of different widths
        results[dynamic] = loop.qa_metrics(*output.predictions[:2], valid, raw["validation"])
    assert results[True] == results[False]


def test_evaluate_without_examples_or_offsets_is_a_clear_error(raw, tokenizer, tmp_path):
    train, valid = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    args = loop.qa_training_arguments(get_profile("ci").qa, tmp_path, save_strategy="no")
    trainer = loop.build_qa_trainer(fresh_model(), tokenizer, args, train, valid, None)
    with pytest.raises(ValueError, match="eval_examples"):
        trainer.evaluate()
    trainer.eval_examples = raw["validation"]
    with pytest.raises(ValueError, match="offset_mapping"):
        trainer.evaluate(valid.remove_columns(["offset_mapping"]))


# ------------------------------------------------------------------ Accelerate loop
def run_loop(raw, tokenizer, out, resume=False, stop_after_steps=None, **kw):
    train, valid = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    settings = QaSettings(**{**dict(batch_size=4, learning_rate=1e-4, warmup_ratio=0.25, num_train_epochs=2,
                                    dynamic_padding=True, mixed_precision="no", seed=0), **kw})
    model = fresh_model()
    return model, loop.train_accelerate(model, tokenizer, train, valid, raw["validation"], out, settings,
                                        resume=resume, stop_after_steps=stop_after_steps, log=lambda _m: None)


def test_accelerate_schedule_counts_optimizer_steps(raw, tokenizer, tmp_path):
    train, _ = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    batches = math.ceil(len(train) / 4)
    _, history = run_loop(raw, tokenizer, tmp_path, gradient_accumulation_steps=2)
    per_epoch = math.ceil(batches / 2)
    assert history["total_steps"] == history["steps"] == 2 * per_epoch
    lrs = [lr for _, lr in history["lr"]]
    warm = int(0.25 * history["total_steps"])
    assert lrs[0] == 0.0 and max(lrs) == pytest.approx(1e-4 * (1 - 0 / max(1, history["total_steps"] - warm)))
    assert lrs[-1] == pytest.approx(1e-4 / (history["total_steps"] - warm))  # the last step before 0
    assert [e["step"] for e in history["epochs"]] == [per_epoch, 2 * per_epoch]
    assert (tmp_path / "final" / "model.safetensors").exists()


def test_accelerate_loop_trains_and_evaluates_under_bf16(raw, tokenizer, tmp_path):
    """Notebook 09 where the probe picks bf16: Accelerate's autocast; the gathered logits come back as fp32."""
    model, history = run_loop(raw, tokenizer, tmp_path, num_train_epochs=1, max_steps=2,
                              mixed_precision="bf16")
    assert history["steps"] == history["total_steps"] > 0
    assert all(math.isfinite(v) for _, v in history["loss"])
    assert 0.0 <= history["epochs"][-1]["f1"] <= 100.0
    assert next(model.parameters()).dtype == torch.float32


def test_accelerate_resume_continues_bit_identically(raw, tokenizer, tmp_path):
    from course_utils.training import latest_checkpoint

    full_model, full = run_loop(raw, tokenizer, tmp_path / "full")
    run_loop(raw, tokenizer, tmp_path / "cut", save_steps=1, stop_after_steps=3)  # "killed" after step 3
    assert latest_checkpoint(tmp_path / "cut").name == "step-3"
    resumed_model, resumed = run_loop(raw, tokenizer, tmp_path / "cut", save_steps=1, resume=True)
    assert resumed["steps"] == full["steps"]
    assert [list(x) for x in resumed["loss"]] == [list(x) for x in full["loss"]]  # JSON turns tuples into lists
    assert [e["f1"] for e in resumed["epochs"]] == [e["f1"] for e in full["epochs"]]
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)
    # a checkpoint after every step, but only the newest two stay on disk (save_total_limit's default)
    kept = sorted(p.name for p in (tmp_path / "cut" / "checkpoints").iterdir())
    assert len(kept) == 2 and f"step-{full['steps']}" in kept


def test_accelerate_loop_keeps_every_checkpoint_when_asked(raw, tokenizer, tmp_path):
    _, history = run_loop(raw, tokenizer, tmp_path, save_steps=1, save_total_limit=None)
    assert len(list((tmp_path / "checkpoints").iterdir())) == history["steps"]


def test_train_dataloader_groups_by_length_only_with_dynamic_padding(raw, tokenizer):
    dynamic, _ = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    grouped = loop.make_train_dataloader(dynamic, tokenizer, 4, dynamic_padding=True, seed=3)
    assert isinstance(grouped.sampler, loop.EpochLengthGroupedSampler)
    assert sum(b["input_ids"].shape[0] for b in grouped) == len(dynamic)
    padded, _ = loop.build_features(raw, tokenizer, dynamic_padding=False, **SIZES)
    course = loop.make_train_dataloader(padded, tokenizer, 4, dynamic_padding=False)
    assert isinstance(course.sampler, torch.utils.data.RandomSampler)
    assert {b["input_ids"].shape[1] for b in course} == {SIZES["max_length"]}


def test_length_grouped_sampler_is_seeded_per_epoch_and_groups_lengths():
    lengths = [int(x) for x in np.random.default_rng(0).integers(10, 300, size=400)]
    a, b = loop.EpochLengthGroupedSampler(lengths, 8, seed=1), loop.EpochLengthGroupedSampler(lengths, 8, seed=1)
    first = list(a)
    assert sorted(first) == list(range(400))  # every window once per epoch
    assert list(b) == first  # same seed, same epoch: the same order (every process, a resumed run)
    a.set_epoch(1)
    assert list(a) != first and sorted(a) == list(range(400))
    a.set_epoch(0)
    assert list(a) == first
    assert list(loop.EpochLengthGroupedSampler(lengths, 8, seed=2)) != first

    def padded(order):  # tokens after padding each batch of 8 to its longest window
        return sum(8 * max(lengths[i] for i in order[k:k + 8]) for k in range(0, len(order), 8))
    shuffled = [int(i) for i in np.random.default_rng(1).permutation(400)]
    assert padded(first) < 0.8 * padded(shuffled)


def test_accelerate_bad_inputs(raw, tokenizer, tmp_path):
    train, valid = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    ok = QaSettings(dynamic_padding=True, mixed_precision="no")
    with pytest.raises(ValueError, match="empty"):
        loop.train_accelerate(fresh_model(), tokenizer, train.select([]), valid, raw["validation"], tmp_path, ok)
    with pytest.raises(ValueError, match="batch_size"):
        loop.train_accelerate(fresh_model(), tokenizer, train, valid, raw["validation"], tmp_path,
                              QaSettings(batch_size=0))
    with pytest.raises(ValueError, match="save_total_limit"):
        loop.train_accelerate(fresh_model(), tokenizer, train, valid, raw["validation"], tmp_path,
                              QaSettings(save_total_limit=0))
    with pytest.raises(ValueError, match="hub_model_id"):
        loop.train_accelerate(fresh_model(), tokenizer, train, valid, raw["validation"], tmp_path, ok, push_to_hub=True)
    with pytest.raises(FileNotFoundError, match="not a complete checkpoint"):
        loop.train_accelerate(fresh_model(), tokenizer, train, valid, raw["validation"], tmp_path / "new", ok,
                              resume=tmp_path, log=lambda _m: None)
    (tmp_path / "done").mkdir()
    (tmp_path / "done" / "COMPLETE").write_text("x")
    with pytest.raises(FileExistsError, match="finished run"):
        loop.train_accelerate(fresh_model(), tokenizer, train, valid, raw["validation"], tmp_path / "done", ok)
    with pytest.raises(ValueError, match="did you mean 'qa_batch_size'"):
        get_profile("ci", qa_batch_sise=4)


# ------------------------------------------------------------------ exercises of notebooks 08-09
def test_exercise_checkers_of_notebooks_08_and_09():
    from course_utils.qa.exercises import (check_duplicated_windows, check_padding_fraction,
                                           check_renamed_argument, check_schedule_steps,
                                           check_trainer_steps, duplicated_windows)

    assert check_trainer_steps(3 * 13, n_windows=100, batch_size=8, epochs=3)
    assert not check_trainer_steps(3 * 12, n_windows=100, batch_size=8, epochs=3)  # dropped the last batch
    assert check_renamed_argument("eval_strategy") and not check_renamed_argument("evaluation_strategy")
    stats = {"mean_length": 96.0, "windows": 10, "tokens_max_length": 2560}
    assert check_padding_fraction(0.625, stats) and not check_padding_fraction(0.5, stats)
    assert check_schedule_steps(3 * 5, batches_per_epoch=17, epochs=3, gradient_accumulation_steps=4)
    assert not check_schedule_steps(3 * 17, batches_per_epoch=17, epochs=3, gradient_accumulation_steps=4)
    # 28 windows, batches of 16, 2 processes: the second process gets 12 + 4 repeated
    assert duplicated_windows(28, 16, 2) == 4 and duplicated_windows(32, 16, 2) == 0
    assert duplicated_windows(40, 16, 2) == 24  # 3 batches -> 2 rounds of 2 x 16
    assert check_duplicated_windows(4, 28, 16, 2) and not check_duplicated_windows(0, 28, 16, 2)


def test_make_accelerator_survives_a_changed_mixed_precision_in_one_process():
    """A plain second Accelerator with another mixed_precision raises; get_accelerator resets."""
    from accelerate import Accelerator

    assert make_accelerator("no").mixed_precision == "no"
    with pytest.raises(ValueError, match="already been initialized"):
        Accelerator(mixed_precision="bf16", cpu=True)
    assert make_accelerator("bf16").mixed_precision == "bf16"
    assert make_accelerator("no").mixed_precision == "no"
    assert loop.mixed_precision_name("no") == "no" and loop.mixed_precision_name("bf16") == "bf16"
    assert loop.mixed_precision_name() in ("no", "bf16", "fp16")  # "auto": depends on the machine


def test_spread_batches_sample_the_whole_epoch_not_the_longest_first(raw, tokenizer):
    from torch.utils.data import DataLoader
    from transformers.trainer_pt_utils import LengthGroupedSampler

    train, _ = loop.build_features(raw, tokenizer, dynamic_padding=True, **SIZES)
    feats = loop.model_features(train)
    lengths = [len(x) for x in feats["input_ids"]]
    dl = DataLoader(feats, batch_size=2, sampler=LengthGroupedSampler(2, lengths=lengths),
                    collate_fn=loop.padding_collator(tokenizer, True))
    picked = loop.spread_batches(dl, 3)
    assert len(picked) == 3
    tokens = [int(b["attention_mask"].sum()) for b in picked]
    assert tokens[0] == 2 * max(lengths)  # the sampler's longest batch comes first...
    assert tokens[-1] < tokens[0]  # ...and the last pick, from the end of the epoch, is shorter
    with pytest.raises(ValueError, match="n >= 1"):
        loop.spread_batches(dl, 0)
