"""§6 steps 4 and 6: training the GPT-2 with ``Trainer`` and with a hand-written 🤗 Accelerate loop.

Both read their sizes from the profile and write into a fresh run folder of the workspace,
marked complete only at the very end, so an interrupted run is never mistaken for a finished
one and a learner's earlier run is never overwritten. Both can resume from their last checkpoint.

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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..precision import autocast, resolve_mixed_precision, trainer_precision_kwargs
from ..profiles import quiet
from ..training import (CheckpointError, latest_checkpoint, load_checkpoint, make_accelerator, make_adamw,
                        push_folder_to_hub, save_checkpoint)
from ..workspace import COMPLETE_MARKER, mark_complete, run_folder

__all__ = [
    "training_arguments",
    "build_trainer",
    "train_with_trainer",
    "TrainerRun",
    "loss_curves",
    "plot_loss_curves",
    "course_lr_schedule",
    "corrected_lr_schedule",
    "plot_lr_schedules",
    "LoopSettings",
    "make_dataloaders",
    "eval_loss_perplexity",
    "perplexity_from_loss",
    "per_sample_eval_losses",
    "train_accelerate",
    "AccelerateRun",
    "bare_torch_steps",
    "compare_throughput",
]

TRAINER_RUNS = "clm-trainer"
ACCELERATE_RUNS = "clm-accelerate"


def _clm(cfg: Any) -> Mapping[str, Any]:
    clm = getattr(cfg, "clm", cfg)
    if not isinstance(clm, Mapping):
        raise TypeError(f"cfg must be a profiles.Profile or a dict of clm settings, got {type(cfg).__name__}")
    return clm


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

def training_arguments(
    cfg: Any,
    output_dir: str | os.PathLike,
    *,
    push_to_hub: bool = False,
    hub_model_id: str | None = None,
    mixed_precision: str | None = None,
    **overrides: Any,
):
    """The course's ``TrainingArguments``, sized by the profile.

    Renamed since the course: ``evaluation_strategy`` -> ``eval_strategy``. ``max_steps=-1`` means
    one epoch, as in the course. Progress bars are off in quiet (ci) runs. The course's
    ``fp16=True`` becomes the profile's ``mixed_precision`` (see :mod:`course_utils.precision`).
    """
    from transformers import TrainingArguments

    clm = _clm(cfg)
    precision = resolve_mixed_precision(mixed_precision or clm.get("mixed_precision", "auto"))
    eval_steps = int(clm["eval_steps"])
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        per_device_train_batch_size=int(clm["batch_size"]),
        per_device_eval_batch_size=int(clm["batch_size"]),
        eval_strategy="steps",
        eval_steps=eval_steps,
        logging_steps=int(clm.get("logging_steps") or eval_steps),
        save_steps=eval_steps,
        save_total_limit=2,
        gradient_accumulation_steps=int(clm["gradient_accumulation_steps"]),
        num_train_epochs=1,
        max_steps=int(clm["max_steps"]),
        weight_decay=float(clm["weight_decay"]),
        warmup_steps=int(clm["warmup_steps"]),
        lr_scheduler_type="cosine",
        learning_rate=float(clm["learning_rate"]),
        **trainer_precision_kwargs(precision),
        push_to_hub=bool(push_to_hub),
        hub_model_id=hub_model_id,
        report_to="none",
        disable_tqdm=quiet(),
        seed=int(getattr(cfg, "seed", 42)),
        dataloader_num_workers=0,
        dataloader_pin_memory=precision != "no",  # pinning only helps when batches go to a GPU
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def build_trainer(model: Any, tokenizer: Any, lm_datasets: Any, args: Any, collator: Any = None, callbacks=None):
    """``Trainer(processing_class=tokenizer, ...)``: the ``tokenizer=`` argument is gone in transformers 5."""
    from transformers import Trainer

    from .model import make_collator

    from transformers.trainer_callback import PrinterCallback

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
    """What ``train_with_trainer`` hands back."""

    trainer: Any
    run_dir: Path
    log_history: list[dict[str, Any]]
    eval_loss: float
    perplexity: float
    train_seconds: float
    resumed_from: str | None = None


def _periodic_eval_set(valid: Any, n: int | None, seed: int):
    """A fixed random sample of the validation chunks for the evaluations *during* training.

    Evaluating all of them every ``eval_steps`` can cost as much as the training on a CPU; the
    final number is always computed on the whole validation split.
    """
    if not n or n >= len(valid):
        return valid
    return valid.shuffle(seed=seed).select(range(int(n)))


def _trainer_checkpoints(run_dir: Path) -> list[Path]:
    found = [p for p in run_dir.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    return sorted(found, key=lambda p: int(p.name.split("-")[-1]))


def train_with_trainer(
    cfg: Any,
    work: str | os.PathLike,
    tokenizer: Any,
    lm_datasets: Any,
    model: Any = None,
    *,
    resume_from_checkpoint: bool | str | None = None,
    push_to_hub: bool = False,
    hub_model_id: str | None = None,
    callbacks: Sequence[Any] | None = None,
    **argument_overrides: Any,
) -> TrainerRun:
    """Train, evaluate, save model + tokenizer (safetensors) into ``work/clm-trainer/<time>``.

    ``resume_from_checkpoint``: ``None``/``False`` starts a new run folder; ``True`` continues the
    newest unfinished run from its last checkpoint; a path continues from that checkpoint.
    """
    from .model import build_model

    _check_lm_datasets(lm_datasets)
    resumed_from: str | None = None
    if isinstance(resume_from_checkpoint, (str, os.PathLike)) and not isinstance(resume_from_checkpoint, bool):
        ckpt = Path(resume_from_checkpoint)
        if not (ckpt / "trainer_state.json").exists():
            raise FileNotFoundError(f"resume_from_checkpoint={str(ckpt)!r} is not a Trainer checkpoint (no trainer_state.json)")
        if (ckpt.parent / COMPLETE_MARKER).exists():
            raise FileExistsError(f"{ckpt.parent} holds a finished run; runs are never overwritten: start a new one")
        run_dir, resumed_from = ckpt.parent, str(ckpt)
    else:
        run_dir = run_folder(work, TRAINER_RUNS, resume=bool(resume_from_checkpoint))
        found = _trainer_checkpoints(run_dir)
        resumed_from = str(found[-1]) if found else None
    if model is None:
        model = build_model(tokenizer, cfg)
    periodic = _periodic_eval_set(lm_datasets["valid"], _clm(cfg).get("periodic_eval_chunks"), int(getattr(cfg, "seed", 42)))
    args = training_arguments(cfg, run_dir, push_to_hub=push_to_hub, hub_model_id=hub_model_id, **argument_overrides)
    trainer = build_trainer(model, tokenizer, {"train": lm_datasets["train"], "valid": periodic}, args,
                            callbacks=list(callbacks or []))
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=resumed_from)
    seconds = time.perf_counter() - start
    metrics = trainer.evaluate(eval_dataset=lm_datasets["valid"], metric_key_prefix="final")
    metrics = {k.replace("final_", "eval_"): v for k, v in metrics.items()}
    trainer.save_model(str(run_dir))  # model.safetensors + config + tokenizer (processing_class)
    for ckpt in _trainer_checkpoints(run_dir):  # the final model is saved; checkpoints were for resuming
        shutil.rmtree(ckpt, ignore_errors=True)
    eval_loss = float(metrics["eval_loss"])
    history = list(trainer.state.log_history)
    (run_dir / "log_history.json").write_text(json.dumps(history, indent=1))
    mark_complete(run_dir)
    if push_to_hub:
        trainer.push_to_hub()
    return TrainerRun(trainer, run_dir, history, eval_loss, perplexity_from_loss(eval_loss), seconds, resumed_from)


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
    num_batches: int, gradient_accumulation_steps: int, warmup_steps: int, peak_lr: float = 5e-4, name: str = "cosine"
) -> list[float]:
    """The same loop with the schedule counted in optimizer steps: it decays to zero at the end."""
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
    """Both schedules on one plot; the title says where the course's ends."""
    import matplotlib.pyplot as plt

    course = course_lr_schedule(num_batches, gradient_accumulation_steps, warmup_steps, peak_lr)
    ours = corrected_lr_schedule(num_batches, gradient_accumulation_steps, warmup_steps, peak_lr)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.plot(course, label="course: linear over micro-batches", color="tab:red")
    ax.plot(ours, label="ours: cosine over optimizer steps", color="tab:green")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"last lr: course {course[-1] / peak_lr:.2f} x peak, ours {ours[-1] / peak_lr:.3f} x peak")
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


# --------------------------------------------------------------------------------------------
# Step 6: the Accelerate loop
# --------------------------------------------------------------------------------------------

@dataclass
class LoopSettings:
    """Everything the custom loop needs, defaulted from the profile's ``clm`` keys."""

    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    learning_rate: float = 5e-4
    weight_decay: float = 0.1
    warmup_steps: int = 0
    max_steps: int = -1  # optimizer steps; -1 = num_epochs passes over the data
    num_epochs: int = 1
    eval_steps: int = 0  # 0 = only at the end
    save_steps: int = 0  # 0 = same as eval_steps
    logging_steps: int = 10
    keytoken_alpha: float = 1.0
    max_grad_norm: float = 1.0
    seed: int = 42
    mixed_precision: str = "auto"
    keep_checkpoints: int = 2
    periodic_eval_chunks: int | None = None  # evaluations during training on a fixed sample; final on all

    @classmethod
    def from_profile(cls, cfg: Any, **overrides: Any) -> "LoopSettings":
        clm = _clm(cfg)
        known = {f.name for f in fields(cls)}
        values = {k: clm[k] for k in known if k in clm and clm[k] is not None}
        values["seed"] = int(getattr(cfg, "seed", values.get("seed", 42)))
        for key, value in overrides.items():
            if key not in known:
                raise ValueError(f"unknown loop setting {key!r}; known: {sorted(known)}")
            if value is not None:
                values[key] = value
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("batch_size", "gradient_accumulation_steps", "num_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.max_steps == 0 or self.max_steps < -1:
            raise ValueError(f"max_steps={self.max_steps}: use a positive number of optimizer steps, or -1 for whole epochs")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate={self.learning_rate} must be > 0")


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
    completed_steps: int = 0
    epoch: int = 0
    batches_in_epoch: int = 0
    samples_seen: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    # loss sums since the last log line, so a resumed run logs exactly what the first would have
    running: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])


def _save_checkpoint(accelerator: Any, run_dir: Path, progress: _Progress, keep: int) -> Path:
    return save_checkpoint(accelerator, run_dir, progress.completed_steps, asdict(progress), keep if keep > 0 else None)


def train_accelerate(
    model: Any,
    tokenizer: Any,
    lm_datasets: Any,
    settings: LoopSettings,
    run_dir: str | os.PathLike,
    *,
    accelerator: Any = None,
    keytoken_ids: Sequence[int] | None = None,
    resume: bool | str | os.PathLike = False,
    push_to_hub: bool = False,
    hub_model_id: str | None = None,
    step_callback: Callable[[int], None] | None = None,
    print_fn: Callable[..., None] | None = None,
) -> AccelerateRun:
    """The course's Accelerate loop, made complete and resumable.

    Per micro-batch: forward, key-token weighted loss, ``accelerator.backward`` inside
    ``accelerator.accumulate`` (which divides the loss for accumulation and syncs gradients only
    on the last micro-batch). Per optimizer step: clip at 1.0, step, schedule, log the real loss,
    lr and samples seen; every ``eval_steps`` evaluate, every ``save_steps`` ``save_state``.
    ``resume=True`` continues from ``run_dir``'s newest checkpoint (a path: from that one).
    """
    import torch
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    from ..training import get_grouped_params
    from .loss import keytoken_weights, per_sample_loss

    settings.validate()
    if push_to_hub and not hub_model_id:
        raise ValueError("push_to_hub=True needs hub_model_id ('user/name'), checked before training starts")
    _check_lm_datasets(lm_datasets)
    run_dir = Path(run_dir)
    if (run_dir / COMPLETE_MARKER).exists():
        raise FileExistsError(f"{run_dir} holds a finished run; runs are never overwritten: use a new folder")
    if accelerator is None:
        accelerator = make_accelerator(settings.mixed_precision, settings.gradient_accumulation_steps)
    elif accelerator.gradient_accumulation_steps != settings.gradient_accumulation_steps:
        raise ValueError(
            f"accelerator.gradient_accumulation_steps={accelerator.gradient_accumulation_steps} differs from "
            f"settings.gradient_accumulation_steps={settings.gradient_accumulation_steps}"
        )
    say = print_fn or accelerator.print
    keytoken_ids = list(keytoken_ids or [])

    torch.manual_seed(settings.seed)
    train_dl, eval_dl = make_dataloaders(lm_datasets, settings.batch_size, seed=settings.seed)
    periodic_valid = _periodic_eval_set(lm_datasets["valid"], settings.periodic_eval_chunks, settings.seed)
    periodic_dl = None
    if periodic_valid is not lm_datasets["valid"]:
        periodic_dl = make_dataloaders({"train": lm_datasets["train"], "valid": periodic_valid}, settings.batch_size)[1]
    optimizer = make_adamw(get_grouped_params(model, settings.weight_decay), lr=settings.learning_rate)
    accum = settings.gradient_accumulation_steps
    n_proc = accelerator.num_processes
    batches_per_process = math.ceil(len(train_dl) / n_proc)  # what each process will see per epoch
    steps_per_epoch = math.ceil(batches_per_process / accum)  # the last partial accumulation also steps
    max_steps = settings.max_steps if settings.max_steps > 0 else steps_per_epoch * settings.num_epochs
    # The scheduler is counted in optimizer steps. Accelerate's wrapped scheduler advances
    # num_processes times per call (it assumes the single-process length), hence the factor.
    lr_scheduler = get_scheduler(
        "cosine", optimizer=optimizer,
        num_warmup_steps=settings.warmup_steps * n_proc, num_training_steps=max_steps * n_proc,
    )
    model, optimizer, train_dl, eval_dl, lr_scheduler = accelerator.prepare(model, optimizer, train_dl, eval_dl, lr_scheduler)
    periodic_dl = eval_dl if periodic_dl is None else accelerator.prepare(periodic_dl)

    progress = _Progress()
    resumed_from: str | None = None
    if resume:
        ckpt = Path(resume) if not isinstance(resume, bool) else latest_checkpoint(run_dir)
        if ckpt is None:
            say(f"resume asked, but {run_dir} has no checkpoint: starting from step 0")
        else:
            progress = _Progress(**load_checkpoint(accelerator, ckpt))
            resumed_from = str(ckpt)
            say(f"resumed from {ckpt.name}: step {progress.completed_steps}, {progress.samples_seen} samples seen")

    save_steps = settings.save_steps or settings.eval_steps
    n_train = len(lm_datasets["train"])

    def samples_seen() -> int:  # get_lr/samples_per_step of the course were never defined
        return progress.epoch * n_train + min(progress.batches_in_epoch * settings.batch_size * n_proc, n_train)

    model.train()
    start = time.perf_counter()
    bar = tqdm(total=max_steps, initial=progress.completed_steps, disable=quiet() or not accelerator.is_local_main_process, desc="optimizer steps")
    running = torch.tensor(progress.running[0], dtype=torch.float64, device=accelerator.device)
    running_lm = torch.tensor(progress.running[1], dtype=torch.float64, device=accelerator.device)
    running_n = int(progress.running[2])
    last_train_loss = None
    while progress.completed_steps < max_steps:
        train_dl.set_epoch(progress.epoch)
        epoch_dl = accelerator.skip_first_batches(train_dl, progress.batches_in_epoch) if progress.batches_in_epoch else train_dl
        for batch in epoch_dl:
            input_ids = batch["input_ids"]
            with accelerator.accumulate(model):
                logits = model(input_ids).logits
                per_sample = per_sample_loss(input_ids, logits)
                loss = (per_sample * keytoken_weights(input_ids, keytoken_ids, settings.keytoken_alpha)).mean()
                accelerator.backward(loss)  # divides by the accumulation steps itself
                if accelerator.sync_gradients and settings.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()
            progress.batches_in_epoch += 1
            progress.samples_seen = samples_seen()
            running += loss.detach().double()
            running_lm += per_sample.detach().double().mean()
            running_n += 1
            if not accelerator.sync_gradients:
                continue
            progress.completed_steps += 1
            bar.update(1)
            step = progress.completed_steps
            if step % max(1, settings.logging_steps) == 0 or step == max_steps:
                mean = accelerator.reduce(torch.stack([running, running_lm]) / running_n, reduction="mean")
                last_train_loss = float(mean[0])
                row = {
                    "step": step,
                    "loss": round(last_train_loss, 6),
                    "lm_loss": round(float(mean[1]), 6),
                    "lr": lr_scheduler.get_last_lr()[0],
                    "samples": progress.samples_seen,
                    "epoch": progress.epoch,
                }
                progress.history.append(row)
                if not quiet():
                    say(row)
                running.zero_(); running_lm.zero_(); running_n = 0
            if settings.eval_steps and step % settings.eval_steps == 0 and step != max_steps:
                eval_loss, ppl = eval_loss_perplexity(model, periodic_dl, accelerator)
                progress.history.append({"step": step, "eval_loss": eval_loss, "perplexity": ppl, "samples": progress.samples_seen})
                say(f"step {step}: eval loss {eval_loss:.4f}, perplexity {ppl:.2f}")
            if save_steps and step % save_steps == 0 and step != max_steps:
                progress.running = [float(running), float(running_lm), float(running_n)]
                _save_checkpoint(accelerator, run_dir, progress, settings.keep_checkpoints)
            if step_callback is not None:
                step_callback(step)
            if step >= max_steps:
                break
        else:
            progress.epoch += 1
            progress.batches_in_epoch = 0
            continue
        break
    bar.close()
    seconds = time.perf_counter() - start

    eval_loss, ppl = eval_loss_perplexity(model, eval_dl, accelerator)
    progress.history.append({"step": progress.completed_steps, "eval_loss": eval_loss, "perplexity": ppl, "samples": progress.samples_seen})
    say(f"final: step {progress.completed_steps}, eval loss {eval_loss:.4f}, perplexity {ppl:.2f}")
    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    unwrapped.save_pretrained(str(run_dir), is_main_process=accelerator.is_main_process, save_function=accelerator.save)
    result = AccelerateRun(
        run_dir, progress.completed_steps, progress.samples_seen, progress.history, eval_loss, ppl, seconds,
        resumed_from, last_train_loss,
    )
    if accelerator.is_main_process:
        tokenizer.save_pretrained(str(run_dir))
        (run_dir / "result.json").write_text(json.dumps(result.to_json(), indent=1))
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        mark_complete(run_dir)
        if push_to_hub:
            push_folder_to_hub(run_dir, hub_model_id, f"step {progress.completed_steps}")
    accelerator.wait_for_everyone()
    return result


# --------------------------------------------------------------------------------------------
# Throughput: Trainer and our loop against a bare PyTorch loop (used by benchmarks/)
# --------------------------------------------------------------------------------------------

def bare_torch_steps(model: Any, batches: Sequence[Any], lr: float = 5e-4, max_grad_norm: float = 1.0,
                     mixed_precision: str = "no") -> list[float]:
    """The plainest training loop there is; returns the time after each step (``perf_counter``).

    ``mixed_precision="bf16"`` wraps the forward pass in ``torch.autocast``, which is all that
    ``Trainer`` and ``Accelerator`` add for bf16, so the comparison stays like for like.
    """
    import torch

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    model.train()
    times = []
    for input_ids in batches:
        with autocast(mixed_precision, model):
            loss = model(input_ids, labels=input_ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter())
    return times


def compare_throughput(
    model_factory: Callable[[], Any],
    tokenizer: Any,
    lm_datasets: Any,
    batch_size: int,
    steps: int = 20,
    warmup: int = 3,
    work: str | os.PathLike | None = None,
    repeats: int = 2,
    mixed_precision: str = "no",
) -> dict[str, float]:
    """Training tokens/s of a bare loop, ``Trainer`` and ``train_accelerate`` on the same model and batch,
    all three in the same ``mixed_precision``.

    Each runs ``warmup + steps`` optimizer steps from a fresh ``model_factory()``; only the last
    ``steps`` are timed, so start-up and the first slow steps do not count. Evaluation and
    checkpointing are off. The three alternate ``repeats`` times and the best rate of each counts,
    so a moment of contention on a shared machine does not decide the comparison. Returns
    tokens/s for each and the ratios to the bare loop.
    """
    import tempfile

    import torch
    from transformers import TrainerCallback

    _check_lm_datasets(lm_datasets)
    seq_len = len(lm_datasets["train"][0]["input_ids"])
    total = warmup + steps
    if len(lm_datasets["train"]) < batch_size * total:
        raise ValueError(f"need {batch_size * total} training chunks for {total} steps of batch {batch_size}")
    tokens = batch_size * seq_len * steps

    def rate(times: list[float]) -> float:
        return tokens / (times[warmup + steps - 1] - times[warmup - 1])

    ids = torch.tensor(lm_datasets["train"][: batch_size * total]["input_ids"], dtype=torch.long)
    batches = list(ids.split(batch_size))
    small = {"train": lm_datasets["train"].select(range(batch_size * total)),
             "valid": lm_datasets["valid"].select(range(min(batch_size, len(lm_datasets["valid"]))))}

    class _Clock(TrainerCallback):
        def __init__(self):
            self.times: list[float] = []

        def on_step_end(self, args, state, control, **kwargs):
            self.times.append(time.perf_counter())

    def run_trainer(tmp: str) -> float:
        clock = _Clock()
        cfg = {"batch_size": batch_size, "gradient_accumulation_steps": 1, "learning_rate": 5e-4, "weight_decay": 0.1,
               "warmup_steps": 0, "max_steps": total, "eval_steps": total + 1, "logging_steps": total}
        args = training_arguments(cfg, tmp, eval_strategy="no", save_strategy="no", disable_tqdm=True,
                                  mixed_precision=mixed_precision, dataloader_drop_last=True)
        trainer = build_trainer(model_factory(), tokenizer, small, args, callbacks=[clock])
        trainer.train()
        return rate(clock.times)

    def run_accelerate(tmp: str) -> float:
        times: list[float] = []
        settings = LoopSettings(batch_size=batch_size, max_steps=total, eval_steps=0, save_steps=0,
                                logging_steps=total, mixed_precision=mixed_precision)
        train_accelerate(model_factory(), tokenizer, small, settings, Path(tmp) / f"acc-{time.time_ns()}",
                         step_callback=lambda s: times.append(time.perf_counter()), print_fn=lambda *a, **k: None)
        return rate(times)

    best = {"bare": 0.0, "trainer": 0.0, "accelerate": 0.0}
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        for _ in range(max(1, repeats)):
            best["bare"] = max(best["bare"], rate(bare_torch_steps(model_factory(), batches,
                                                                   mixed_precision=mixed_precision)))
            best["trainer"] = max(best["trainer"], run_trainer(tmp))
            best["accelerate"] = max(best["accelerate"], run_accelerate(tmp))
    out = dict(best)
    out["trainer_vs_bare"] = out["trainer"] / out["bare"]
    out["accelerate_vs_bare"] = out["accelerate"] / out["bare"]
    return out
