"""§6 steps 4 and 6: TrainingArguments from the profile, Trainer run + resume, loss curves, the two
lr schedules, evaluation (= plain per-token mean), loop settings and the one-AcceleratorState rule."""
from __future__ import annotations

import json
import math

import pytest
from dataclasses import replace
import torch

from test_clm_model import TINY, tiny, tiny_lm_datasets, tiny_tokenizer

def tree_bytes(folder):
    """Every file of a folder and its bytes: equal before and after means nothing was touched."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


CFG = tiny(batch_size=8, gradient_accumulation_steps=1, learning_rate=5e-3, weight_decay=0.1,
       warmup_steps=1, max_steps=4, eval_steps=2, logging_steps=1)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_training_arguments_follow_profile(tmp_path, monkeypatch):
    from course_utils import precision
    from course_utils.clm.loop import training_arguments
    from course_utils.profiles import get_profile

    monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: "no")  # a CPU where the probe finds fp32 fastest

    cfg = get_profile("course")
    args = training_arguments(cfg, tmp_path)
    assert args.eval_strategy == "steps" and args.eval_steps == 5000
    assert args.lr_scheduler_type == "cosine" and args.learning_rate == 5e-4
    assert args.weight_decay == 0.1 and args.warmup_steps == 1000 and args.gradient_accumulation_steps == 8
    assert args.per_device_train_batch_size == 32
    assert not args.fp16 and not args.bf16  # no GPU, fp32 measured fastest: full precision, never fp16 on a CPU
    assert args.push_to_hub is False and args.report_to in ([], "none", ["none"])
    monkeypatch.setattr(precision, "cpu_precision_choice", lambda shapes=None: "bf16")  # a CPU where bf16 autocast measured faster
    assert training_arguments(cfg.clm, tmp_path).bf16 is True
    assert training_arguments(replace(cfg.clm, mixed_precision="no"), tmp_path).bf16 is False
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="fp16.*CUDA"):
            training_arguments(replace(cfg.clm, mixed_precision="fp16"), tmp_path)


def test_trainer_run_saves_and_resumes(tmp_path):
    from transformers import TrainerCallback

    from course_utils.clm.loop import loss_curves, train_with_trainer
    from course_utils.clm.model import build_model
    from course_utils.training import CheckpointError

    tok = tiny_tokenizer()
    ds = tiny_lm_datasets(tok)
    full = train_with_trainer(CFG, tmp_path / "a", tok, ds, build_model(tok, CFG, seed=0))
    files = {p.name for p in full.run_dir.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "COMPLETE", "log_history.json"} <= files
    assert not any(name.startswith("checkpoint-") for name in files)
    assert full.trainer.state.global_step == 4
    assert math.isclose(full.perplexity, math.exp(full.eval_loss))
    curves = loss_curves(full.log_history)
    assert curves["train_step"] == [1, 2, 3, 4] and curves["eval_step"] == [2, 4]
    assert curves["eval_loss"][-1] == pytest.approx(full.eval_loss)

    class Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise KeyboardInterrupt  # what a learner's "stop" button does, after the step-2 checkpoint

    work = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):
        train_with_trainer(CFG, work, tok, ds, build_model(tok, CFG, seed=0), callbacks=[Interrupt()])
    [run_dir] = list((work / "clm-trainer").iterdir())
    assert not (run_dir / "COMPLETE").exists() and (run_dir / "checkpoint-2").is_dir()
    resumed = train_with_trainer(CFG, work, tok, ds, build_model(tok, CFG, seed=5), resume_from_checkpoint=True)
    assert resumed.run_dir == run_dir and resumed.resumed_from.endswith("checkpoint-2")
    assert resumed.trainer.state.global_step == 4
    # same weights, data order and RNG from the checkpoint: the same result as the uninterrupted run
    assert resumed.eval_loss == pytest.approx(full.eval_loss, rel=1e-6)
    # resuming after a finished run starts a new one and leaves the finished one byte for byte
    before = tree_bytes(run_dir)
    again = train_with_trainer(CFG, work, tok, ds, build_model(tok, CFG, seed=0), resume_from_checkpoint=True)
    assert again.run_dir != run_dir and again.resumed_from is None
    assert tree_bytes(run_dir) == before
    with pytest.raises(CheckpointError, match="does not exist"):
        train_with_trainer(CFG, work, tok, ds, resume_from_checkpoint=str(tmp_path / "nowhere"))


def test_course_schedule_ends_near_088_of_peak():
    from course_utils.clm.loop import corrected_lr_schedule, course_lr_schedule

    # the course's linear schedule over N micro-batches, stepped N/8 times after 1000 warm-up steps
    n, accum, warmup = 80_000, 8, 1000
    course = course_lr_schedule(n, accum, warmup, 5e-4)
    assert len(course) == n // accum
    last = n // accum - 1
    assert course[-1] == pytest.approx(5e-4 * (n - last) / (n - warmup))
    assert 0.87 < course[-1] / 5e-4 < 0.89
    ours = corrected_lr_schedule(n, accum, warmup, 5e-4)
    assert max(ours) == pytest.approx(5e-4) and ours[-1] / 5e-4 < 1e-3


def test_eval_is_the_per_token_mean_on_uneven_batches():
    from course_utils.clm.loop import eval_loss_perplexity, make_dataloaders
    from course_utils.clm.model import build_model

    tok = tiny_tokenizer()
    ds = tiny_lm_datasets(tok, n_valid=21)
    model = build_model(tok, TINY, seed=0)
    _, valid = make_dataloaders(ds, batch_size=8)
    loss, ppl = eval_loss_perplexity(model, valid)
    ids = torch.tensor(ds["valid"]["input_ids"])
    with torch.no_grad():
        plain = model(ids, labels=ids).loss.item()  # one batch: the mean over every predicted token
    assert loss == pytest.approx(plain, rel=1e-6)
    assert ppl == pytest.approx(math.exp(plain), rel=1e-6)
    # the course's mean of batch means weighs the last batch (5 samples) like the full ones
    course = torch.stack([model(b["input_ids"], labels=b["input_ids"]).loss for b in valid]).mean().item()
    assert course != pytest.approx(plain, rel=1e-7)


def test_perplexity_overflow_guard():
    from course_utils.clm.loop import perplexity_from_loss

    assert perplexity_from_loss(1000.0) == float("inf")
    assert perplexity_from_loss(0.0) == 1.0


def test_loop_settings_and_bad_input():
    from course_utils.clm.loop import make_dataloaders
    from course_utils.profiles import get_profile

    s = get_profile("ci", clm_max_steps=9).clm
    assert s.max_steps == 9 and s.batch_size == 8 and s.seed == 42
    assert get_profile("workshop").clm.loop_settings().max_steps == 1600  # notebook 05's own step count
    with pytest.raises(ValueError, match="did you mean 'clm_max_steps'"):
        get_profile("ci", clm_max_step=9)
    with pytest.raises(ValueError, match="max_steps=0"):
        get_profile("ci", clm_max_steps=0)
    with pytest.raises(ValueError, match="batch_size=0"):
        tiny(batch_size=0)
    tok = tiny_tokenizer()
    ds = tiny_lm_datasets(tok)
    with pytest.raises(ValueError, match="no 'valid' split"):
        make_dataloaders({"train": ds["train"]}, 8)
    with pytest.raises(ValueError, match="is empty"):
        make_dataloaders({"train": ds["train"], "valid": ds["valid"].select([])}, 8)


def test_one_accelerator_state_per_process():
    from accelerate import Accelerator

    from course_utils.training import make_accelerator

    first = make_accelerator("bf16")
    assert first.mixed_precision == "bf16"
    with pytest.raises(ValueError):
        Accelerator(mixed_precision="no")  # what a notebook re-run with other settings would hit
    second = make_accelerator("no", gradient_accumulation_steps=2)
    assert second.mixed_precision == "no" and second.gradient_accumulation_steps == 2


def test_accelerate_loop_in_process(tmp_path):
    from course_utils.clm.loop import loss_curves, train_accelerate
    from course_utils.training import latest_checkpoint
    from course_utils.clm.model import build_model

    tok = tiny_tokenizer()
    ds = tiny_lm_datasets(tok)
    s = tiny(batch_size=8, gradient_accumulation_steps=2, max_steps=5, eval_steps=2, logging_steps=1,
                     warmup_steps=1, mixed_precision="no")
    seen = []
    run = train_accelerate(build_model(tok, TINY, seed=0), tok, ds, s, tmp_path, keytoken_ids=[5, 6],
                           step_callback=seen.append, print_fn=lambda *a, **k: None)
    assert seen == [1, 2, 3, 4, 5] and run.completed_steps == 5
    # 70 chunks = 9 micro-batches per epoch; accumulation 2 -> steps 1-4 use 8, step 5 the uneven 9th
    assert run.samples_seen == 70
    curves = loss_curves(run.history)
    assert curves["eval_step"] == [2, 4, 5] and len(curves["train_step"]) == 5
    assert all(r["loss"] >= r["lm_loss"] - 1e-5 for r in run.history if "loss" in r)  # key-token weights >= 1
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["completed_steps"] == 5 and (tmp_path / "COMPLETE").exists()
    assert latest_checkpoint(tmp_path) is None  # checkpoints are removed once the model is saved


def test_accelerate_loop_trains_under_bf16_autocast(tmp_path):
    """The workshop's path where the probe picks bf16 (it runs, slower, on any CPU): finite losses, fp32 weights."""
    from course_utils.clm.loop import loss_curves, train_accelerate
    from course_utils.clm.model import build_model

    tok = tiny_tokenizer()
    s = tiny(batch_size=8, max_steps=3, eval_steps=3, logging_steps=1, warmup_steps=1, mixed_precision="bf16")
    model = build_model(tok, TINY, seed=0)
    run = train_accelerate(model, tok, tiny_lm_datasets(tok), s, tmp_path, print_fn=lambda *a, **k: None)
    assert run.completed_steps == 3
    assert all(math.isfinite(r["loss"]) for r in run.history if "loss" in r)
    evals = loss_curves(run.history)["eval_loss"]
    assert evals and all(math.isfinite(v) for v in evals)
    assert next(model.parameters()).dtype == torch.float32


def test_accelerate_loop_resume_in_process_is_bit_identical(tmp_path):
    """The fast sibling of test_clm_resume.py: interrupt after the step-2 checkpoint, resume,
    and end with exactly the weights and history of an uninterrupted run."""
    from course_utils.clm.loop import train_accelerate
    from course_utils.clm.model import build_model

    tok = tiny_tokenizer()
    ds = tiny_lm_datasets(tok)
    s = tiny(batch_size=8, gradient_accumulation_steps=2, max_steps=7, eval_steps=2, logging_steps=1,
                     warmup_steps=1, mixed_precision="no")
    quiet = dict(keytoken_ids=[5, 6], print_fn=lambda *a, **k: None)
    ref_model = build_model(tok, TINY, seed=0)
    ref = train_accelerate(ref_model, tok, ds, s, tmp_path / "ref", **quiet)

    def stop(step):
        if step == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_accelerate(build_model(tok, TINY, seed=0), tok, ds, s, tmp_path / "run", step_callback=stop, **quiet)
    model = build_model(tok, TINY, seed=1)  # other starting weights: everything must come from the checkpoint
    res = train_accelerate(model, tok, ds, s, tmp_path / "run", resume=True, **quiet)
    assert res.resumed_from.endswith("step-4")
    assert res.history == ref.history and res.eval_loss == ref.eval_loss
    assert all(torch.equal(a, b) for a, b in zip(ref_model.state_dict().values(), model.state_dict().values()))


def test_keytoken_losses_are_plotted_on_two_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils.clm.loop import plot_keytoken_losses

    history = [{"step": 1, "loss": 9.0, "lm_loss": 3.0}, {"step": 2, "loss": 8.0, "lm_loss": 2.5},
               {"step": 2, "eval_loss": 2.7, "perplexity": 14.9}]
    left, right = plot_keytoken_losses(history, title="t")
    assert left is not right and left.get_shared_y_axes().get_siblings(left) == [left]  # y-axes not shared
    left_data = {line.get_label(): list(line.get_ydata()) for line in left.get_lines()}
    right_data = {line.get_label(): list(line.get_ydata()) for line in right.get_lines()}
    assert left_data == {"train loss, unweighted": [3.0, 2.5], "validation loss": [2.7]}
    assert right_data == {"train loss, key-token weighted": [9.0, 8.0]}
    assert right.get_ylim()[0] > left.get_ylim()[1]  # each axis fits its own curve
    plt.close("all")


def test_the_schedule_picture_compares_linear_with_linear():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_utils.clm.loop import corrected_lr_schedule, plot_lr_schedules

    ax = plot_lr_schedules(800, 8, 10, 5e-4)
    labels = [line.get_label() for line in ax.get_lines()]
    assert all("linear" in label for label in labels) and len(labels) == 2
    ours = list(ax.get_lines()[1].get_ydata())
    assert ours == corrected_lr_schedule(800, 8, 10, 5e-4, name="linear")
    decay = [b - a for a, b in zip(ours[10:], ours[11:])]  # after warm-up: a straight line down to zero
    assert max(decay) == pytest.approx(min(decay)) and ours[-1] < 1e-5
    plt.close("all")
