"""The training foundation both tracks stand on: one implementation of each thing their loops share.

* :func:`make_accelerator` -- an ``Accelerator`` that survives a re-run cell with other settings;
* :func:`get_grouped_params` + :func:`make_adamw` -- the course's two weight-decay groups (decided by
  module type, so every norm layer escapes decay whatever it is called) and ``torch.optim.AdamW``;
* :func:`save_checkpoint` / :func:`latest_checkpoint` / :func:`load_checkpoint` -- one checkpoint
  format: ``run_dir/checkpoints/step-N``, written by ``save_state`` into a temporary folder, renamed
  once every process has finished writing, with ``progress.json`` (where the loop was) inside;
* :func:`resume_progress` -- where an Accelerate loop starts: step 0 or its newest checkpoint;
* :func:`trainer_checkpoint` -- the same question for ``Trainer`` (``trainer.train(resume_from_checkpoint=...)``);
* :class:`CheckpointError` / :func:`check_model_folder` -- a checkpoint or model folder that exists but
  cannot be used, found before any work starts;
* :func:`push_folder_to_hub` -- ``huggingface_hub.upload_folder`` (the course's ``Repository`` is gone);
* :func:`time_train_steps` / :func:`plan_steps` -- training by time budget: a few steps of a copy of
  the model are timed, and ``max_steps`` is set so the run ends inside ``time_budget_s``
  (the arithmetic is :func:`course_utils.budget.steps_for_budget`).
* :func:`trainer_disable_tqdm` -- ``TrainingArguments(disable_tqdm=...)`` for both tracks.

Which run folder a training run writes into (new, or the unfinished one it resumes) is
:func:`course_utils.workspace.run_folder`. Imports run one way: this module uses only the
foundation modules (``precision``, ``budget``, ``profiles``, ``workspace``); ``clm/`` and ``qa/``
import it, never the reverse.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .budget import BudgetPlan, steps_for_budget
from .precision import autocast, device_type, resolve_mixed_precision
from .profiles import quiet

__all__ = [
    "launch_in_notebook",
    "BUDGET_FILE",
    "CALIBRATION_STEPS",
    "CHECKPOINTS",
    "CheckpointError",
    "check_model_folder",
    "get_grouped_params",
    "latest_checkpoint",
    "load_checkpoint",
    "make_accelerator",
    "make_adamw",
    "push_folder_to_hub",
    "resume_progress",
    "script_run_dir",
    "plan_steps",
    "save_checkpoint",
    "time_forward",
    "time_train_steps",
    "trainer_checkpoint",
    "trainer_disable_tqdm",
]

CHECKPOINTS = "checkpoints"
PROGRESS = "progress.json"


class CheckpointError(ValueError):
    """A checkpoint or saved-model folder that exists but cannot be resumed from or loaded."""


# ---------------------------------------------------------------------------------------------
# Trainer's progress display
# ---------------------------------------------------------------------------------------------
def trainer_disable_tqdm() -> bool:
    """``TrainingArguments(disable_tqdm=...)``: True only for quiet runs outside a notebook.

    In a notebook (papermill's batch runs included) ``Trainer`` draws one HTML table that it
    updates in place: an executed notebook keeps its final state, the bar full and one rounded row
    per evaluation, as a learner sees it. ``disable_tqdm=True`` would print a raw dict per log
    instead. Quiet scripts and terminals (the ci profile, ``accelerate launch``) print no bars.
    """
    from transformers.utils import is_in_notebook

    return quiet() and not is_in_notebook()


# ---------------------------------------------------------------------------------------------
# the Accelerator
# ---------------------------------------------------------------------------------------------
def make_accelerator(mixed_precision: str = "no", gradient_accumulation_steps: int = 1, **kwargs: Any):
    """An ``Accelerator``, even when this process already made one with other settings.

    Accelerate keeps one ``AcceleratorState`` per process, and a second ``Accelerator`` asking for
    another mixed precision raises: re-running a notebook cell with another setting (or a test
    after another test) would fail. The state is reset first; the process group of a distributed
    run (``PartialState``) is kept. ``use_seedable_sampler`` makes the shuffled order a function of
    the seed and the epoch, which resuming relies on.
    """
    import torch
    from accelerate import Accelerator, DataLoaderConfiguration
    from accelerate.state import AcceleratorState, GradientState

    mixed_precision = resolve_mixed_precision(mixed_precision)
    if not torch.cuda.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # `accelerate launch --multi_gpu --num_processes N` on a machine without GPUs: Accelerate
        # only picks its multi-CPU (gloo) mode when told it runs on CPU.
        kwargs.setdefault("cpu", True)
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    kwargs.setdefault("dataloader_config", DataLoaderConfiguration(use_seedable_sampler=True))
    return Accelerator(mixed_precision=mixed_precision, gradient_accumulation_steps=gradient_accumulation_steps, **kwargs)


def launch_in_notebook(function: Any, args: tuple = (), num_processes: int = 2, mixed_precision: str = "no") -> None:
    """The course's ``notebook_launcher(function, args, num_processes=...)``, safe to call from a
    kernel that has already run other cells.

    Accelerate forks the kernel once per process and refuses when an ``Accelerator`` was made in
    the kernel before (every cell above did make one): that state says "one process" and would be
    inherited. It is reset first; ``function`` makes its own. Without GPUs the processes join one
    gloo group on the CPU, as ``accelerate launch`` does. A CUDA context cannot be forked, so a
    kernel that has already used the GPU must be restarted before this cell.
    """
    import torch
    from accelerate import notebook_launcher
    from accelerate.state import AcceleratorState, GradientState

    if isinstance(num_processes, bool) or not isinstance(num_processes, int) or num_processes < 1:
        raise ValueError(f"num_processes={num_processes!r}: give a whole number of processes, 1 or more")
    if not callable(function):
        raise TypeError(f"function must be callable (the training function each process runs), got {function!r}")
    if num_processes > 1 and torch.cuda.is_available() and torch.cuda.is_initialized():
        raise RuntimeError("CUDA is already in use in this kernel, and a forked process cannot share it: "
                           "restart the kernel and run this cell before any cell that touches the GPU")
    AcceleratorState._reset_state(reset_partial_state=True)
    GradientState._reset_state()
    notebook_launcher(function, args, num_processes=num_processes, mixed_precision=mixed_precision)


# ---------------------------------------------------------------------------------------------
# the optimizer
# ---------------------------------------------------------------------------------------------
def get_grouped_params(
    model: Any,
    weight_decay: float = 0.1,
    no_decay: Iterable[str] = ("bias",),
    no_decay_modules: tuple[type, ...] | None = None,
) -> list[dict[str, Any]]:
    """Two optimizer groups: with weight decay, and without (biases, every norm layer, `no_decay`).

    A parameter skips decay when its name contains one of `no_decay`, or when it belongs to a
    normalisation module (``nn.LayerNorm`` and friends), whatever that module is called: GPT-2
    names its LayerNorms ``ln_1``/``ln_2``/``ln_f``, so the course's ``"LayerNorm.weight"`` test
    misses them. Tied weights (GPT-2's ``lm_head`` is ``wte``) appear once; frozen ones not at all.
    """
    import torch.nn as nn

    if isinstance(no_decay, str):
        no_decay = (no_decay,)
    no_decay = tuple(no_decay)
    if no_decay_modules is None:
        no_decay_modules = (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, getattr(nn, "RMSNorm", nn.LayerNorm))
    norm_params: set[int] = set()
    for module in model.modules():
        if isinstance(module, no_decay_modules):
            norm_params.update(id(p) for p in module.parameters(recurse=False))
    decay, skip = [], []
    for name, param in model.named_parameters():  # named_parameters() de-duplicates tied weights
        if not param.requires_grad:
            continue
        (skip if id(param) in norm_params or any(nd in name for nd in no_decay) else decay).append(param)
    return [{"params": decay, "weight_decay": float(weight_decay)}, {"params": skip, "weight_decay": 0.0}]


def make_adamw(params: Any, lr: float):
    """``torch.optim.AdamW`` with the fused kernel where this torch has one for the device (as
    ``Trainer``'s default ``adamw_torch_fused``); the course's ``transformers.AdamW`` is gone."""
    import torch

    try:
        return torch.optim.AdamW(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # an older torch or an unsupported device
        return torch.optim.AdamW(params, lr=lr)


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------
def _step_of(path: Path) -> int | None:
    name = path.name
    return int(name[5:]) if name.startswith("step-") and name[5:].isdigit() else None


def checkpoint_dirs(run_dir: str | os.PathLike) -> list[Path]:
    """The complete ``step-N`` checkpoints of a run, oldest first (half-written ones never count:
    they still carry their temporary name)."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _step_of(p) is not None and (p / PROGRESS).exists()]
    return sorted(found, key=_step_of)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint of an Accelerate run, or None."""
    found = checkpoint_dirs(run_dir)
    return found[-1] if found else None


def save_checkpoint(accelerator: Any, run_dir: str | os.PathLike, step: int, progress: dict[str, Any],
                    keep: int | None = 2) -> Path:
    """``save_state`` into ``checkpoints/tmp-step-N``, renamed to ``step-N`` when complete.

    Every process writes its own random state into the folder, so the rename waits for all of them
    (without that barrier it raced the second process's write). A kill therefore never leaves a
    folder that looks complete. ``progress`` (JSON) records where the loop was. Only the newest
    ``keep`` checkpoints stay (``None``: all), as ``Trainer``'s ``save_total_limit``.
    """
    root = Path(run_dir) / CHECKPOINTS
    final, tmp = root / f"step-{step}", root / f"tmp-step-{step}"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp), safe_serialization=True)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / PROGRESS).write_text(json.dumps(progress))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for stale in checkpoint_dirs(run_dir)[:-keep] if keep else []:
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Any, checkpoint: str | os.PathLike) -> dict[str, Any]:
    """``load_state`` of a checkpoint written by :func:`save_checkpoint`; returns its progress.

    A folder without ``progress.json`` is no checkpoint (``FileNotFoundError``); one that cannot be
    loaded (a truncated file, another model's weights) is a :class:`CheckpointError`. Both name
    the folder and say what to do.
    """
    ckpt = Path(checkpoint)
    if not (ckpt / PROGRESS).exists():
        raise FileNotFoundError(f"{ckpt} is not a complete checkpoint of this loop (no {PROGRESS})")
    try:
        progress = json.loads((ckpt / PROGRESS).read_text())
        accelerator.load_state(str(ckpt))
    except Exception as err:
        raise CheckpointError(
            f"checkpoint {ckpt} cannot be loaded ({type(err).__name__}: {err}). Delete it to resume "
            "from the one before, or start a new run."
        ) from err
    return progress


def resume_progress(accelerator: Any, run_dir: str | os.PathLike, resume: bool | str | os.PathLike,
                    fresh: dict[str, Any], log: Any = print) -> tuple[dict[str, Any], str | None]:
    """Where an Accelerate loop starts, and from which checkpoint (None: from scratch).

    ``resume=False``: `fresh`. ``True``: the newest complete checkpoint of `run_dir`, or `fresh` with
    a note when it has none (a run killed before its first checkpoint starts again). A path: that
    checkpoint. Model, optimizer, scheduler and random states come back with ``load_state``.
    """
    if not resume:
        return fresh, None
    ckpt = latest_checkpoint(run_dir) if resume is True else Path(resume)
    if ckpt is None:
        log(f"resume asked, but {Path(run_dir).name} has no checkpoint yet: starting from step 0")
        return fresh, None
    progress = load_checkpoint(accelerator, ckpt)
    log(f"resumed from {ckpt.name}")
    return progress, str(ckpt)


def check_model_folder(path: str | os.PathLike) -> Path:
    """A saved model (or Trainer checkpoint) folder, checked: it exists, has ``config.json`` and
    readable weights. Fails early, naming the folder and the missing piece."""
    folder = Path(path)
    if not folder.is_dir():
        raise CheckpointError(f"model folder {str(folder)!r} does not exist or is not a folder")
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"model folder {str(folder)!r} has no config.json: not a saved model")
    weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin"))
    if not weights:
        raise CheckpointError(f"model folder {str(folder)!r} has no weights (model.safetensors)")
    for file in weights:
        if file.suffix == ".safetensors":
            try:
                from safetensors import safe_open

                with safe_open(str(file), framework="pt") as handle:
                    handle.keys()
            except Exception as exc:  # safetensors raises its own error types
                raise CheckpointError(f"weights file {str(file)!r} is corrupted or truncated: {exc}") from exc
    return folder


def trainer_checkpoint(run_dir: str | os.PathLike, resume: bool | str | os.PathLike | None) -> str | None:
    """What to pass to ``trainer.train(resume_from_checkpoint=...)`` for a run folder from
    :func:`course_utils.workspace.run_folder`, checked first so a damaged checkpoint fails with its
    name (not a traceback from deep inside ``Trainer``).

    ``None``/``False``: None. ``True``: the newest ``checkpoint-N`` of `run_dir`, or None when it has
    none (a new run, or one killed before its first save). A path: that checkpoint.
    """
    if not resume:
        return None
    if resume is True:
        found = [p for p in Path(run_dir).glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()]
        if not found:
            return None
        path = max(found, key=lambda p: int(p.name[11:]))
    else:
        path = Path(resume)
    check_model_folder(path)
    if not (path / "trainer_state.json").is_file():
        raise CheckpointError(f"{str(path)!r} is a model folder but not a Trainer checkpoint (no trainer_state.json)")
    return str(path)


def script_run_dir(output_dir: str | os.PathLike | None, work: str | os.PathLike, name: str, *,
                   resume: bool = False) -> Path:
    """The run folder of a training script (both tracks share the flags ``--work`` and
    ``--output-dir``), the same folder in every process.

    ``output_dir`` given: that folder, refused when it holds a finished run (runs are never
    overwritten). Otherwise
    :func:`course_utils.workspace.run_folder` under `work`, chosen by the main process (``resume``:
    the newest unfinished run) and broadcast to the others.
    """
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list

    from .workspace import COMPLETE_MARKER, run_folder

    if output_dir:
        path = Path(output_dir)
        if (path / COMPLETE_MARKER).exists():
            raise SystemExit(f"{path} holds a finished run; choose another --output-dir (runs are never overwritten)")
        path.mkdir(parents=True, exist_ok=True)
        return path
    holder: list[str | None] = [None]
    if PartialState().is_main_process:
        holder[0] = str(run_folder(work, name, resume=resume))
    broadcast_object_list(holder)
    return Path(holder[0])


# ---------------------------------------------------------------------------------------------
# the Hub
# ---------------------------------------------------------------------------------------------
def push_folder_to_hub(folder: str | os.PathLike, repo_id: str | None, message: str = "upload from nlp-course-companion") -> str:
    """``huggingface_hub.upload_folder`` into ``repo_id`` (created when missing).

    The course's ``huggingface_hub.Repository`` (a git clone of the model repo) is gone.
    """
    if not repo_id:
        raise ValueError("push_to_hub=True needs a Hub repository id ('<user>/<model-name>'): pass hub_model_id")
    from huggingface_hub import create_repo, upload_folder

    create_repo(repo_id, exist_ok=True)
    return str(upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=message))


# ---------------------------------------------------------------------------------------------
# training by time budget
# ---------------------------------------------------------------------------------------------
CALIBRATION_STEPS = 5  # timed on a copy of the model; the first pays one-off costs and is left out
BUDGET_FILE = "budget.json"  # the plan, kept in the run folder: a resumed run keeps its step count


def _on(device: str, batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}


def time_train_steps(model: Any, batches: Sequence[dict[str, Any]], n_steps: int, *, lr: float = 1e-5,
                     precision: str = "no", accumulation: int = 1) -> list[float]:
    """Seconds of each of `n_steps` optimizer steps (forward under autocast, backward, AdamW) of
    `model` on `batches` (``accumulation`` batches per step, cycling through them), the first step
    included: it pays for one-off work (kernel choice, allocation), so callers leave it out.

    The model's weights change: pass a copy. Frozen parameters get no optimizer state, as in
    ``Trainer``. Each batch must hold the labels, so that ``model(**batch).loss`` exists.
    """
    import torch

    precision = resolve_mixed_precision(precision)  # a bad name fails before any work
    batches = list(batches)
    if n_steps < 1 or accumulation < 1 or not batches:
        raise ValueError(f"need n_steps >= 1, accumulation >= 1 and batches, got {n_steps}, {accumulation}, {len(batches)}")
    device = next(model.parameters()).device.type
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    seconds = []
    for i in range(n_steps):
        start = time.perf_counter()
        for j in range(accumulation):
            with autocast(precision, model):
                loss = model(**_on(device, batches[(i * accumulation + j) % len(batches)])).loss
            (loss / accumulation).backward()
        opt.step()
        opt.zero_grad()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return seconds


def time_forward(model: Any, batches: Sequence[dict[str, Any]], precision: str = "no") -> float:
    """Mean seconds of one evaluation forward pass (eval mode, no gradients) over `batches`
    (a sample of the evaluation's own batches: their lengths vary with dynamic padding)."""
    import torch

    precision = resolve_mixed_precision(precision)
    device = next(model.parameters()).device.type
    model.eval()
    seconds = []
    with torch.no_grad():
        for batch in batches:
            start = time.perf_counter()
            with autocast(precision, model):
                model(**_on(device, batch))
            seconds.append(time.perf_counter() - start)
    model.train()
    return statistics.mean(seconds)


def plan_steps(settings: Any, model: Any, batches: Sequence[dict[str, Any]], run_dir: str | os.PathLike, *,
               eval_every: int = 0, eval_batches: int = 0, final_eval_batches: int = 0,
               eval_sample: Sequence[dict[str, Any]] | None = None, most_steps: int | None = None,
               calibration_steps: int = CALIBRATION_STEPS, average: str = "median",
               say: Callable[[str], None] = print) -> Any:
    """`settings` with ``max_steps`` (and a step-counted warm-up) chosen so that the training ends
    inside ``settings.time_budget_s`` seconds; `settings` unchanged when that is None.

    `calibration_steps` optimizer steps of a *copy* of `model` on `batches` (model-ready training
    batches, labels included) give the seconds per step (their `average`: see
    :func:`~course_utils.budget.steps_for_budget`), and forward passes over `eval_sample` (batches of
    the evaluation; default: two training batches) the cost of an evaluation: ``eval_batches``
    such batches every ``eval_every`` steps, and ``final_eval_batches`` once at the end. `most_steps`: the profile's
    own step count, never exceeded (a budget only shortens a run). The schedule is therefore
    known before the first real step. The plan is written to ``run_dir/budget.json`` and printed
    (:meth:`~course_utils.budget.BudgetPlan.explain`); resuming that run reuses it, so a continued
    run keeps the step count (and schedule) it started with.
    """
    budget = getattr(settings, "time_budget_s", None)
    if budget is None:
        return settings
    path = Path(run_dir) / BUDGET_FILE
    if path.is_file():
        plan = BudgetPlan(**json.loads(path.read_text()))
        say(f"resumed run: {plan.max_steps} steps, as planned at its start for a budget of {plan.budget_s:.0f} s")
    else:
        probe = copy.deepcopy(model).to(device_type())
        seconds = time_train_steps(probe, batches, calibration_steps, lr=settings.learning_rate,
                                   precision=settings.mixed_precision, accumulation=settings.gradient_accumulation_steps)
        sample = list(batches)[:2] if eval_sample is None else list(eval_sample)
        forward = time_forward(probe, sample, settings.mixed_precision) if eval_batches or final_eval_batches else 0.0
        del probe
        try:
            plan = _budget_plan(settings, budget, seconds, forward, eval_every, eval_batches, final_eval_batches,
                                most_steps, average)
        except ValueError as exc:
            raise ValueError(f"{getattr(settings, '_track', '')}_time_budget_s: {exc}") from None
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dataclasses.asdict(plan), indent=1))
        say(plan.explain())
    changes: dict[str, Any] = {"max_steps": plan.max_steps}
    if hasattr(settings, "warmup_steps"):
        changes["warmup_steps"] = plan.warmup_steps if settings.max_steps > 0 else min(settings.warmup_steps, plan.max_steps - 1)
    return dataclasses.replace(settings, **changes)


def _budget_plan(settings: Any, budget: float, seconds: list[float], forward: float, eval_every: int,
                 eval_batches: int, final_eval_batches: int, most_steps: int | None, average: str) -> BudgetPlan:
    counted_warmup = hasattr(settings, "warmup_steps") and settings.max_steps > 0
    return steps_for_budget(budget, seconds, counted=False,
                            warmup_fraction=min(0.5, settings.warmup_steps / settings.max_steps) if counted_warmup else 0.0,
                            eval_s=forward * eval_batches if eval_every else 0.0, eval_every=eval_every if eval_batches else 0,
                            extra_s=forward * final_eval_batches, max_steps=most_steps, average=average)
