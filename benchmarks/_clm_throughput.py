"""Throughput of §6's two training paths against the plainest PyTorch loop (``train_throughput``).

Moved here from ``course_utils.clm.loop``: no notebook runs it, the benchmark does.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from course_utils.clm.loop import build_trainer, train_accelerate, training_arguments
from course_utils.precision import autocast
from course_utils.settings import ClmSettings

__all__ = ["bare_torch_steps", "compare_throughput"]


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
        settings = ClmSettings(batch_size=batch_size, gradient_accumulation_steps=1, warmup_steps=0, max_steps=total,
                               eval_steps=total + 1, logging_steps=total, mixed_precision=mixed_precision)
        args = training_arguments(settings, tmp, eval_strategy="no", save_strategy="no", disable_tqdm=True,
                                  dataloader_drop_last=True)
        trainer = build_trainer(model_factory(), tokenizer, small, args, callbacks=[clock])
        trainer.train()
        return rate(clock.times)

    def run_accelerate(tmp: str) -> float:
        times: list[float] = []
        settings = ClmSettings(batch_size=batch_size, gradient_accumulation_steps=1, warmup_steps=0, max_steps=total,
                               eval_steps=total + 1, logging_steps=total, mixed_precision=mixed_precision)
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
