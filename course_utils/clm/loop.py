"""§6 steps 4 and 6: training the GPT-2 with ``Trainer`` and with a hand-written 🤗 Accelerate loop.

Both read their sizes from :class:`~course_utils.settings.ClmSettings` and write into a run folder
of the workspace (:func:`course_utils.workspace.run_folder`), marked complete only at the very end,
so an interrupted run is never mistaken for a finished one and a finished run is never resumed.

The Accelerate loop fixes what the course's loop gets wrong or leaves undefined:
the scheduler's length is counted in optimizer steps (the course counts micro-batches, so its
schedule ends at ~0.88 of the peak learning rate instead of decaying), the logged loss is the real
one (not the one divided for gradient accumulation), ``get_lr``/``samples_per_step`` exist,
evaluation gathers one loss *per sample* so that no sample is counted twice on several processes,
and checkpoints are written with ``save_state`` so a killed run continues where it stopped.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..precision import device_type, trainer_precision_kwargs
from ..profiles import quiet
from ..settings import ClmSettings, settings_from
from ..training import (CALIBRATION_STEPS, get_grouped_params, make_accelerator, make_adamw, plan_steps,
                        push_folder_to_hub, resume_progress, save_checkpoint, trainer_checkpoint, trainer_disable_tqdm)
from ..workspace import COMPLETE_MARKER, mark_complete, run_folder

__all__ = [
    "TRAINER_RUNS",
    "ACCELERATE_RUNS",
    "training_arguments",
    "fit_to_budget",
    "build_trainer",
    "periodic_eval_set",
    "finish_trainer_run",
    "train_with_trainer",
    "TrainerRun",
    "loss_curves",
    "plot_loss_curves",
    "plot_keytoken_losses",
    "course_lr_schedule",
    "corrected_lr_schedule",
    "plot_lr_schedules",
    "make_dataloaders",
    "make_eval_dataloaders",
    "eval_loss_perplexity",
    "perplexity_from_loss",
    "per_sample_eval_losses",
    "steps_to_train",
    "make_schedule",
    "train_accelerate",
    "finish_accelerate_run",
    "AccelerateRun",
]

TRAINER_RUNS = "clm-trainer"
ACCELERATE_RUNS = "clm-accelerate"
LOG_HISTORY = "log_history.json"  # a finished Trainer run's log, read back by generate.trainer_run_steps


def _check_lm_datasets(lm_datasets: Any, splits: Sequence[str] = ("train", "valid")) -> None:
    """Fail with the split's name instead of a KeyError deep inside a DataLoader."""
    for split in splits:
        try:
            ds = lm_datasets[split]
        except (KeyError, TypeError):
            raise ValueError(f"lm_datasets has no {split!r} split (expected a DatasetDict with {list(splits)})") from None
        if len(ds) == 0:
            raise ValueError(f"lm_datasets[{split!r}] is empty: no full-length chunks to train or evaluate on")
        if "input_ids" not in ds.column_names:
            raise ValueError(f"lm_datasets[{split!r}] has no 'input_ids' column (columns: {ds.column_names})")


# --------------------------------------------------------------------------------------------
# Step 4: Trainer
# --------------------------------------------------------------------------------------------

def training_arguments(clm: ClmSettings, output_dir: str | os.PathLike, *, push_to_hub: bool = False,
                       hub_model_id: str | None = None, **overrides: Any):
    """The course's ``TrainingArguments(...)``, with the settings' values.

    Renamed since the course: ``evaluation_strategy`` -> ``eval_strategy``; ``fp16=True`` becomes the
    settings' ``mixed_precision`` (:mod:`course_utils.precision`). ``max_steps=-1``: one epoch.
    """
    from transformers import TrainingArguments

    clm = settings_from(clm, ClmSettings)
    return TrainingArguments(**{**dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=clm.batch_size,
        per_device_eval_batch_size=clm.batch_size,
        eval_strategy="steps",
        eval_steps=clm.eval_steps,
        logging_steps=clm.logging_steps,
        gradient_accumulation_steps=clm.gradient_accumulation_steps,
        num_train_epochs=clm.num_train_epochs,
        max_steps=clm.max_steps,
        weight_decay=clm.weight_decay,
        warmup_steps=clm.warmup_steps,
        lr_scheduler_type=clm.lr_scheduler_type,
        learning_rate=clm.learning_rate,
        max_grad_norm=clm.max_grad_norm,
        save_steps=clm.checkpoint_steps,
        save_total_limit=clm.save_total_limit,
        seed=clm.seed,
        **trainer_precision_kwargs(clm.mixed_precision),
        push_to_hub=push_to_hub,
        hub_model_id=hub_model_id,
        report_to="none",
        disable_tqdm=trainer_disable_tqdm(),  # in a notebook: Trainer's table, in its final state
        dataloader_pin_memory=device_type() == "cuda",  # pinning only helps when batches go to a GPU
    ), **overrides})


def fit_to_budget(clm: ClmSettings, model: Any, lm_datasets: Any, collator: Any, run_dir: str | os.PathLike,
                  say: Callable[[str], None] = print) -> ClmSettings:
    """`clm` with ``max_steps`` and warm-up fitted to ``clm.time_budget_s`` (a few steps of a copy
    of `model` are timed: :func:`course_utils.training.plan_steps`); unchanged without a budget.
    The evaluations are paid for: the sample every ``eval_steps``, all chunks at the end."""
    clm = settings_from(clm, ClmSettings)
    if clm.time_budget_s is None:
        return clm
    _check_lm_datasets(lm_datasets)
    train, valid, size = lm_datasets["train"], lm_datasets["valid"], clm.batch_size
    batches = [collator([train[(k * size + i) % len(train)] for i in range(size)])
               for k in range(CALIBRATION_STEPS * clm.gradient_accumulation_steps)]
    periodic = min(clm.periodic_eval_chunks or len(valid), len(valid))
    most = steps_to_train(math.ceil(len(train) / size), clm)  # the profile's own count
    return plan_steps(clm, model, batches, run_dir, eval_every=clm.eval_steps, eval_batches=math.ceil(periodic / size),
                      final_eval_batches=math.ceil(len(valid) / size), most_steps=most, say=say)


def build_trainer(model: Any, tokenizer: Any, lm_datasets: Any, args: Any, collator: Any = None, callbacks=None):
    """The course's ``Trainer(...)`` call, with ``processing_class=`` (``tokenizer=`` is gone in transformers 5)."""
    from transformers import Trainer
    from transformers.trainer_callback import PrinterCallback

    from .model import make_collator

    _check_lm_datasets(lm_datasets)
    trainer = Trainer(
        model=model,
        args=args,
        processing_class=tokenizer,
        data_collator=collator if collator is not None else make_collator(tokenizer),
        train_dataset=lm_datasets["train"],
        eval_dataset=lm_datasets["valid"],
        callbacks=callbacks,
    )
    if quiet():
        trainer.remove_callback(PrinterCallback)  # ci: the loss curves show the logs; keep outputs small
    return trainer


@dataclass
class TrainerRun:
    """What a finished ``Trainer`` run hands back (:func:`finish_trainer_run`)."""

    trainer: Any
    run_dir: Path
    log_history: list[dict[str, Any]]
    eval_loss: float
    perplexity: float
    train_seconds: float
    resumed_from: str | None = None


def periodic_eval_set(valid: Any, n: int | None, seed: int = 42):
    """A fixed random sample of the validation chunks for the evaluations *during* training.

    Evaluating all of them every ``eval_steps`` can cost as much as the training on a CPU; the
    final number is always computed on the whole validation split (:func:`finish_trainer_run`).
    """
    if not n or n >= len(valid):
        return valid
    return valid.shuffle(seed=seed).select(range(int(n)))


def finish_trainer_run(trainer: Any, run_dir: str | os.PathLike, valid: Any, train_seconds: float,
                       resumed_from: str | None = None, push_to_hub: bool = False) -> TrainerRun:
    """After ``trainer.train()``: evaluate on the whole validation split, save model + tokenizer
    (safetensors), drop the checkpoints (they were for resuming), write ``log_history.json``, mark
    the run complete, push when asked."""
    run_dir = Path(run_dir)
    metrics = trainer.evaluate(eval_dataset=valid, metric_key_prefix="final")
    eval_loss = float(metrics["final_loss"])
    trainer.save_model(str(run_dir))  # model.safetensors + config + tokenizer (processing_class)
    for ckpt in run_dir.glob("checkpoint-*"):
        shutil.rmtree(ckpt, ignore_errors=True)
    history = list(trainer.state.log_history)
    (run_dir / LOG_HISTORY).write_text(json.dumps(history, indent=1))
    mark_complete(run_dir)
    if push_to_hub:
        trainer.push_to_hub()
    return TrainerRun(trainer, run_dir, history, eval_loss, perplexity_from_loss(eval_loss), train_seconds, resumed_from)


def train_with_trainer(cfg: Any, work: str | os.PathLike, tokenizer: Any, lm_datasets: Any, model: Any = None, *,
                       resume_from_checkpoint: bool | str | None = None, push_to_hub: bool = False,
                       hub_model_id: str | None = None, callbacks: Sequence[Any] | None = None,
                       **argument_overrides: Any) -> TrainerRun:
    """Notebook 03's training cells in one call (notebook 04 uses it when the workspace has no model).

    ``resume_from_checkpoint``: ``None``/``False`` starts a new run folder; ``True`` continues the
    newest *unfinished* run from its last checkpoint; a checkpoint path continues from that one.
    """
    from .model import build_model

    clm = settings_from(cfg, ClmSettings)
    _check_lm_datasets(lm_datasets)
    if isinstance(resume_from_checkpoint, (str, os.PathLike)):
        run_dir = Path(resume_from_checkpoint).parent
        if (run_dir / COMPLETE_MARKER).exists():
            raise FileExistsError(f"{run_dir} holds a finished run; runs are never overwritten: start a new one")
    else:
        run_dir = run_folder(work, TRAINER_RUNS, resume=bool(resume_from_checkpoint))
    checkpoint = trainer_checkpoint(run_dir, resume_from_checkpoint)
    args = training_arguments(clm, run_dir, push_to_hub=push_to_hub, hub_model_id=hub_model_id, **argument_overrides)
    periodic = periodic_eval_set(lm_datasets["valid"], clm.periodic_eval_chunks, clm.seed)
    trainer = build_trainer(model if model is not None else build_model(tokenizer, clm), tokenizer,
                            {"train": lm_datasets["train"], "valid": periodic}, args, callbacks=list(callbacks or []))
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    return finish_trainer_run(trainer, run_dir, lm_datasets["valid"], time.perf_counter() - start, checkpoint, push_to_hub)


def loss_curves(log_history: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Split ``trainer.state.log_history`` (or our loop's history) into train and eval series."""
    out: dict[str, list[float]] = {"train_step": [], "train_loss": [], "eval_step": [], "eval_loss": []}
    evals: dict[int, float] = {}
    for row in log_history:
        step = row.get("step")
        if step is None:
            continue
        if "loss" in row:
            out["train_step"].append(step)
            out["train_loss"].append(float(row["loss"]))
        if "eval_loss" in row:
            evals[step] = float(row["eval_loss"])  # Trainer may log the last step's eval twice
    out["eval_step"] = sorted(evals)
    out["eval_loss"] = [evals[s] for s in out["eval_step"]]
    out["eval_perplexity"] = [perplexity_from_loss(v) for v in out["eval_loss"]]
    return out


def plot_loss_curves(log_history: Iterable[Mapping[str, Any]], ax: Any = None, title: str = "Loss curves"):
    """Train and validation loss against optimizer steps (validation perplexity on the right axis)."""
    import matplotlib.pyplot as plt

    curves = loss_curves(log_history)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.plot(curves["train_step"], curves["train_loss"], label="train loss", color="tab:blue")
    ax.plot(curves["eval_step"], curves["eval_loss"], "o-", label="validation loss", color="tab:orange")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    return ax


def plot_keytoken_losses(history: Iterable[Mapping[str, Any]], title: str = "Accelerate loop"):
    """Notebook 05's curves on two axes side by side. Left: the plain (unweighted) training loss and
    the validation loss, in the same units as notebook 03's curves. Right, on its own y-axis: the
    key-token weighted loss the loop optimises; it is larger by construction (every weight is at least
    alpha), so on a shared axis it would only look worse. Returns the two axes."""
    import matplotlib.pyplot as plt

    rows = list(history)
    curves = loss_curves(rows)
    plain = [(r["step"], float(r["lm_loss"])) for r in rows if "lm_loss" in r and "step" in r]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    if plain:
        left.plot(*zip(*plain), label="train loss, unweighted", color="tab:blue")
    left.plot(curves["eval_step"], curves["eval_loss"], "o-", label="validation loss", color="tab:orange")
    left.set_ylabel("cross-entropy (nats/token)")
    left.set_title("plain loss (comparable with notebook 03)")
    right.plot(curves["train_step"], curves["train_loss"], color="tab:purple", label="train loss, key-token weighted")
    right.set_ylabel("weighted cross-entropy")
    right.set_title("what the loop optimises")
    for ax in (left, right):
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right")
    fig.suptitle(title)
    fig.tight_layout()
    return left, right


# --------------------------------------------------------------------------------------------
# Learning-rate schedules: the course's and ours
# --------------------------------------------------------------------------------------------

def course_lr_schedule(num_batches: int, gradient_accumulation_steps: int, warmup_steps: int, peak_lr: float = 5e-4) -> list[float]:
    """Learning rate at each optimizer step of the course's loop.

    The course creates a linear schedule over ``len(train_dataloader)`` (micro-batches) but calls
    ``lr_scheduler.step()`` once per optimizer step, i.e. ``num_batches / accumulation`` times: the
    decay is cut off early and the rate ends near 0.88 of its peak for the course's sizes.
    """
    return _schedule_values("linear", warmup_steps, num_batches, num_batches // gradient_accumulation_steps, peak_lr)


def corrected_lr_schedule(
    num_batches: int, gradient_accumulation_steps: int, warmup_steps: int, peak_lr: float = 5e-4, name: str = "linear"
) -> list[float]:
    """The same loop with the schedule counted in optimizer steps: it decays to zero at the end.
    Linear by default, as the course's loop: the only difference from it is what is counted."""
    steps = num_batches // gradient_accumulation_steps
    return _schedule_values(name, warmup_steps, steps, steps, peak_lr)


def _schedule_values(name: str, warmup: int, total: int, calls: int, peak_lr: float) -> list[float]:
    import torch
    from transformers import get_scheduler

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=peak_lr)
    sched = get_scheduler(name, optimizer=opt, num_warmup_steps=warmup, num_training_steps=total)
    values = []
    for _ in range(calls):
        values.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return values


def plot_lr_schedules(
    num_batches: int, gradient_accumulation_steps: int, warmup_steps: int, peak_lr: float = 5e-4, ax: Any = None
):
    """Both schedules on one plot, both linear as in the course's loop, so the only difference is
    what the schedule's length counts; the title says where each ends."""
    import matplotlib.pyplot as plt

    course = course_lr_schedule(num_batches, gradient_accumulation_steps, warmup_steps, peak_lr)
    ours = corrected_lr_schedule(num_batches, gradient_accumulation_steps, warmup_steps, peak_lr, name="linear")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.plot(course, label="course: linear, length in micro-batches", color="tab:red")
    ax.plot(ours, label="corrected: linear, length in optimizer steps", color="tab:green")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"last lr: course {course[-1] / peak_lr:.2f} x peak, ours {ours[-1] / peak_lr:.3f} x peak")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


# --------------------------------------------------------------------------------------------
# Step 6: the Accelerate loop
# --------------------------------------------------------------------------------------------

def _collate_input_ids(examples: list[Mapping[str, Any]]):
    """All chunks have the same length, so a batch is one stacked tensor: no padding, no mask."""
    import torch

    return {"input_ids": torch.tensor([ex["input_ids"] for ex in examples], dtype=torch.long)}


def make_dataloaders(lm_datasets: Any, batch_size: int, eval_batch_size: int | None = None, seed: int = 42):
    """Shuffled train and ordered validation ``DataLoader``s over the fixed-length chunks."""
    import torch
    from torch.utils.data import DataLoader

    _check_lm_datasets(lm_datasets)
    lengths = {len(x) for x in lm_datasets["train"][: min(64, len(lm_datasets["train"]))]["input_ids"]}
    if len(lengths) != 1:
        raise ValueError(f"lm_datasets['train'] chunks have different lengths {sorted(lengths)}: expected fixed-length chunks")
    gen = torch.Generator().manual_seed(seed)
    train = DataLoader(lm_datasets["train"], batch_size=batch_size, shuffle=True, generator=gen, collate_fn=_collate_input_ids)
    valid = DataLoader(lm_datasets["valid"], batch_size=eval_batch_size or batch_size, collate_fn=_collate_input_ids)
    return train, valid


def perplexity_from_loss(loss: float) -> float:
    """``exp(loss)``, or ``inf`` where it overflows (an untrained model can have a huge loss)."""
    try:
        return math.exp(loss)
    except OverflowError:
        return float("inf")


def eval_loss_perplexity(model: Any, dataloader: Any, accelerator: Any = None) -> tuple[float, float]:
    """Mean validation loss over all samples and its perplexity.

    Named so that it does not shadow the ``evaluate`` library in a notebook (the course calls it
    ``evaluate``). One loss per sample is gathered with ``gather_for_metrics``, which drops the
    samples that a distributed sampler repeated to even out the last batch; the course's
    ``gather(outputs.loss)`` (and even ``gather_for_metrics(loss.repeat(batch_size))``) weigh
    those repeats in, so their result depends on the number of processes.
    """
    losses = per_sample_eval_losses(model, dataloader, accelerator)
    loss = losses.mean().item()
    return loss, perplexity_from_loss(loss)


def per_sample_eval_losses(model: Any, dataloader: Any, accelerator: Any = None):
    """One mean token loss per validation sample (float64), gathered over all processes."""
    import torch

    from .loss import per_sample_loss

    was_training = model.training
    model.eval()
    losses = []
    with torch.no_grad():
        for batch in dataloader:
            input_ids = batch["input_ids"]
            logits = model(input_ids).logits
            per_sample = per_sample_loss(input_ids, logits)
            if accelerator is not None:
                per_sample = accelerator.gather_for_metrics(per_sample)
            losses.append(per_sample.double().cpu())
    if was_training:
        model.train()
    if not losses:
        raise ValueError("eval dataloader is empty: nothing to evaluate")
    return torch.cat(losses)


def make_eval_dataloaders(lm_datasets: Any, settings: ClmSettings, accelerator: Any) -> tuple[Any, Any]:
    """Prepared dataloaders for the final evaluation (every validation chunk) and for the ones
    during training (a fixed sample of ``periodic_eval_chunks``, or the same loader)."""
    _, eval_dl = make_dataloaders(lm_datasets, settings.batch_size)
    sample = periodic_eval_set(lm_datasets["valid"], settings.periodic_eval_chunks, settings.seed)
    eval_dl = accelerator.prepare(eval_dl)
    if sample is lm_datasets["valid"]:
        return eval_dl, eval_dl
    return eval_dl, accelerator.prepare(make_dataloaders({"train": lm_datasets["train"], "valid": sample}, settings.batch_size)[1])


def steps_to_train(train_batches: int, settings: ClmSettings, num_processes: int = 1) -> int:
    """Optimizer steps the loop runs: ``max_steps``, or whole epochs of what each process sees
    (its share of the batches, divided by accumulation; a last partial accumulation also steps)."""
    if settings.max_steps > 0:
        return settings.max_steps
    per_process = math.ceil(train_batches / num_processes)
    return math.ceil(per_process / settings.gradient_accumulation_steps) * settings.num_train_epochs


def make_schedule(optimizer: Any, settings: ClmSettings, max_steps: int, num_processes: int = 1) -> Any:
    """The warm-up + decay schedule counted in optimizer steps (the course counts micro-batches).
    Accelerate's prepared scheduler advances ``num_processes`` times per call, hence the factor."""
    from transformers import get_scheduler

    return get_scheduler(settings.lr_scheduler_type, optimizer=optimizer,
                         num_warmup_steps=settings.warmup_steps * num_processes,
                         num_training_steps=max_steps * num_processes)


@dataclass
class AccelerateRun:
    """What ``train_accelerate`` hands back (also written as ``run_dir/result.json``)."""

    run_dir: Path
    completed_steps: int
    samples_seen: int
    history: list[dict[str, Any]]
    eval_loss: float
    perplexity: float
    train_seconds: float
    resumed_from: str | None = None
    final_train_loss: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["run_dir"] = str(self.run_dir)
        return out


@dataclass
class _Progress:
    """Where the loop is; saved in every checkpoint (``progress.json``), so a resumed run logs and
    counts exactly what an uninterrupted one would have."""

    completed_steps: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    samples_seen: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    running: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # loss sums since the last log row

    def count_batch(self, loss: Any, per_sample: Any, samples_per_batch: int, n_train: int) -> None:
        """One micro-batch done: the counters, and the sums of its weighted and plain loss."""
        self.batches_in_epoch += 1
        self.samples_seen = self.epoch * n_train + min(self.batches_in_epoch * samples_per_batch, n_train)
        self.running = [self.running[0] + float(loss.detach().double()),
                        self.running[1] + float(per_sample.detach().double().mean()), self.running[2] + 1]

    def log_train_row(self, accelerator: Any, lr: float, say: Callable[..., None]) -> float:
        """The mean losses since the last row (averaged over processes), the lr and samples seen."""
        import torch

        sums = torch.tensor(self.running[:2], dtype=torch.float64, device=accelerator.device) / self.running[2]
        loss, lm_loss = (float(x) for x in accelerator.reduce(sums, reduction="mean"))
        row = {"step": self.completed_steps, "loss": round(loss, 4), "lm_loss": round(lm_loss, 4),
               "lr": float(f"{lr:.3g}"), "samples": self.samples_seen, "epoch": self.epoch}
        self.history.append(row)
        if not quiet():  # batch runs: the loss curves below show these rows
            say(f"step {row['step']:>6}  loss {loss:7.4f}  lm_loss {lm_loss:7.4f}  lr {lr:.2e}  "
                f"samples {row['samples']:>9,}  epoch {row['epoch']}")
        self.running = [0.0, 0.0, 0.0]
        return loss

    def log_eval(self, model: Any, dataloader: Any, accelerator: Any, say: Callable[..., None]) -> float:
        loss, ppl = eval_loss_perplexity(model, dataloader, accelerator)
        self.history.append({"step": self.completed_steps, "eval_loss": loss, "perplexity": ppl, "samples": self.samples_seen})
        say(f"step {self.completed_steps:>6}  eval loss {loss:.4f}  perplexity {ppl:.2f}")
        return loss


def _check_loop_inputs(settings: ClmSettings, lm_datasets: Any, run_dir: str | os.PathLike, accelerator: Any,
                       push_to_hub: bool, hub_model_id: str | None) -> Any:
    """Everything that would fail later, checked before any work; returns the accelerator to use."""
    if push_to_hub and not hub_model_id:
        raise ValueError("push_to_hub=True needs hub_model_id ('user/name'), checked before training starts")
    _check_lm_datasets(lm_datasets)
    if (Path(run_dir) / COMPLETE_MARKER).exists():
        raise FileExistsError(f"{run_dir} holds a finished run; runs are never overwritten: use a new folder")
    if accelerator is None:
        return make_accelerator(settings.mixed_precision, settings.gradient_accumulation_steps)
    if accelerator.gradient_accumulation_steps != settings.gradient_accumulation_steps:
        raise ValueError(f"accelerator.gradient_accumulation_steps={accelerator.gradient_accumulation_steps} differs "
                         f"from settings.gradient_accumulation_steps={settings.gradient_accumulation_steps}")
    return accelerator


def train_accelerate(model: Any, tokenizer: Any, lm_datasets: Any, settings: ClmSettings, run_dir: str | os.PathLike, *,
                     accelerator: Any = None, keytoken_ids: Sequence[int] | None = None,
                     resume: bool | str | os.PathLike = False, push_to_hub: bool = False,
                     hub_model_id: str | None = None, step_callback: Callable[[int], None] | None = None,
                     print_fn: Callable[..., None] | None = None) -> AccelerateRun:
    """The course's Accelerate loop, made complete and resumable: per micro-batch forward, key-token
    weighted loss and backward inside ``accumulate``; per optimizer step clip, step, schedule, log;
    every ``eval_steps`` evaluate, every ``checkpoint_steps`` ``save_state``."""
    import torch
    from tqdm.auto import tqdm

    from .loss import keytoken_weights, per_sample_loss

    accelerator = _check_loop_inputs(settings, lm_datasets, run_dir, accelerator, push_to_hub, hub_model_id)
    say = print_fn or accelerator.print
    torch.manual_seed(settings.seed)
    train_dl, _ = make_dataloaders(lm_datasets, settings.batch_size, seed=settings.seed)
    optimizer = make_adamw(get_grouped_params(model, settings.weight_decay), lr=settings.learning_rate)
    max_steps = steps_to_train(len(train_dl), settings, accelerator.num_processes)
    lr_scheduler = make_schedule(optimizer, settings, max_steps, accelerator.num_processes)
    model, optimizer, train_dl, lr_scheduler = accelerator.prepare(model, optimizer, train_dl, lr_scheduler)
    eval_dl, periodic_dl = make_eval_dataloaders(lm_datasets, settings, accelerator)
    state, resumed_from = resume_progress(accelerator, run_dir, resume, asdict(_Progress()), say)
    progress, samples_per_batch = _Progress(**state), settings.batch_size * accelerator.num_processes
    bar = tqdm(total=max_steps, initial=progress.completed_steps, disable=quiet() or not accelerator.is_local_main_process)
    model.train()
    start = time.perf_counter()
    while progress.completed_steps < max_steps:
        train_dl.set_epoch(progress.epoch)
        skip = progress.batches_in_epoch  # > 0 only in the epoch a resumed run stopped in
        for batch in accelerator.skip_first_batches(train_dl, skip) if skip else train_dl:
            with accelerator.accumulate(model):
                per_sample = per_sample_loss(batch["input_ids"], model(batch["input_ids"]).logits)
                loss = (per_sample * keytoken_weights(batch["input_ids"], keytoken_ids or [], settings.keytoken_alpha)).mean()
                accelerator.backward(loss)  # divides by the accumulation steps itself
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            progress.count_batch(loss, per_sample, samples_per_batch, len(lm_datasets["train"]))
            if not accelerator.sync_gradients:
                continue
            progress.completed_steps = step = progress.completed_steps + 1
            bar.update(1)
            if step % settings.logging_steps == 0 or step == max_steps:
                progress.log_train_row(accelerator, lr_scheduler.get_last_lr()[0], say)
            if step % settings.eval_steps == 0 and step != max_steps:
                progress.log_eval(model, periodic_dl, accelerator, say)
            if step % settings.checkpoint_steps == 0 and step != max_steps:
                save_checkpoint(accelerator, run_dir, step, asdict(progress), settings.save_total_limit)
            if step_callback is not None:
                step_callback(step)
            if step >= max_steps:
                break
        else:  # the epoch ran out before max_steps
            progress.epoch, progress.batches_in_epoch = progress.epoch + 1, 0
    bar.close()
    return finish_accelerate_run(accelerator, model, tokenizer, eval_dl, run_dir, progress,
                                 time.perf_counter() - start, resumed_from, push_to_hub, hub_model_id, say)


def finish_accelerate_run(accelerator: Any, model: Any, tokenizer: Any, eval_dl: Any, run_dir: str | os.PathLike,
                          progress: _Progress, seconds: float, resumed_from: str | None = None,
                          push_to_hub: bool = False, hub_model_id: str | None = None,
                          say: Callable[..., None] = print) -> AccelerateRun:
    """The last evaluation (every validation chunk), then model + tokenizer and ``result.json`` into
    `run_dir`, the checkpoints removed, the run marked complete, pushed when asked."""
    run_dir = Path(run_dir)
    eval_loss = progress.log_eval(model, eval_dl, accelerator, lambda *a: None)
    say(f"final: step {progress.completed_steps}, eval loss {eval_loss:.4f}, perplexity {perplexity_from_loss(eval_loss):.2f}")
    accelerator.wait_for_everyone()
    accelerator.unwrap_model(model).save_pretrained(str(run_dir), is_main_process=accelerator.is_main_process,
                                                    save_function=accelerator.save)
    train_rows = [r for r in progress.history if "loss" in r]
    result = AccelerateRun(run_dir, progress.completed_steps, progress.samples_seen, progress.history, eval_loss,
                           perplexity_from_loss(eval_loss), seconds, resumed_from,
                           train_rows[-1]["loss"] if train_rows else None)
    if accelerator.is_main_process:
        tokenizer.save_pretrained(str(run_dir))
        (run_dir / "result.json").write_text(json.dumps(result.to_json(), indent=1))
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        mark_complete(run_dir)
        if push_to_hub:
            push_folder_to_hub(run_dir, hub_model_id, f"step {progress.completed_steps}")
    accelerator.wait_for_everyone()
    return result
