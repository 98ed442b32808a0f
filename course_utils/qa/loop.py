"""Fine-tuning the QA model: with ``Trainer`` (notebook 08) and with a plain Accelerate loop (09).

What this adds to the course's code, and why:

* **Metrics during training.** ``Trainer`` calls ``compute_metrics`` only when the evaluation
  features carry labels; QA validation features do not (an answer is scored on the *example*,
  after mapping windows back to text), so the course's Trainer never reports EM/F1 while it
  trains. :class:`QATrainer` overrides ``evaluate`` to run the prediction loop, post-process and
  log ``eval_exact_match`` / ``eval_f1`` at every evaluation.
* **Dynamic padding.** The course pads every window to ``max_length``; most windows are shorter.
  ``DataCollatorWithPadding`` pads each batch to its longest window, and length grouping puts
  windows of similar length in the same batch, so far fewer padding tokens go through the model.
  Logits of different batches then have different widths: they are padded with -100 before
  post-processing (``Trainer`` does this itself; the Accelerate loop uses :func:`concat_padded`).
* **An Accelerate loop that is correct with several processes**: the learning-rate schedule is
  counted in optimizer steps, evaluation pads across processes and gathers with
  ``gather_for_metrics`` (the duplicated samples of an uneven last batch are dropped), and
  ``save_state``/``load_state`` checkpoints let a killed run resume where it stopped.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import torch
from transformers import (
    DataCollatorWithPadding,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    default_data_collator,
    get_scheduler,
)

from ..precision import device_type, resolve_mixed_precision, trainer_precision_kwargs
from ..profiles import quiet
from ..settings import QaSettings, settings_from
from ..training import (get_grouped_params, make_accelerator, make_adamw, plan_steps, push_folder_to_hub,
                        resume_progress, save_checkpoint, trainer_checkpoint, trainer_disable_tqdm)
from ..workspace import COMPLETE_MARKER
from .postprocess import concat_padded  # noqa: F401  (re-exported: the loop's evaluation uses it)

__all__ = [
    "MODEL_COLUMNS",
    "EVAL_ONLY_COLUMNS",
    "precision_flags",
    "mixed_precision_name",
    "qa_training_arguments",
    "padding_collator",
    "build_features",
    "model_features",
    "qa_metrics",
    "QATrainer",
    "build_qa_trainer",
    "finetune_with_trainer",
    "predict_metrics",
    "loss_history",
    "save_final_model",
    "padding_stats",
    "spread_batches",
    "first_vs_best",
    "QA_CALIBRATION_STEPS",
    "fit_to_budget",
    "evaluate_accelerate",
    "EpochLengthGroupedSampler",
    "make_train_dataloader",
    "make_eval_dataloader",
    "make_linear_schedule",
    "save_final",
    "train_accelerate",
    "plot_training_curves",
]

MODEL_COLUMNS = ("input_ids", "token_type_ids", "attention_mask", "start_positions", "end_positions")
EVAL_ONLY_COLUMNS = ("example_id", "offset_mapping")


# ---------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------
def precision_flags(setting: str | None = "auto") -> dict[str, bool]:
    """The ``TrainingArguments`` precision flags for the profile's ``mixed_precision``.

    ``"auto"``: bf16 (or fp16) on a GPU; on a CPU, whichever of fp32 and bf16 autocast a short probe
    measures faster on this machine (:mod:`course_utils.precision`).
    """
    return trainer_precision_kwargs(resolve_mixed_precision(setting))


def mixed_precision_name(setting: str | None = "auto") -> str:
    """The same choice as :func:`precision_flags`, spelled for ``Accelerator(mixed_precision=...)``."""
    return resolve_mixed_precision(setting)


def qa_training_arguments(qa: QaSettings, output_dir: str | os.PathLike, *, eval_strategy: str = "epoch",
                          save_strategy: str = "epoch", logging_steps: int = 10, push_to_hub: bool = False,
                          hub_model_id: str | None = None, **overrides: Any) -> TrainingArguments:
    """The course's ``TrainingArguments(...)``, with the settings' values.

    transformers 5 names: ``eval_strategy`` (was ``evaluation_strategy``), warm-up as a ratio in
    ``warmup_steps`` (was ``warmup_ratio``), ``train_sampling_strategy="group_by_length"`` (was
    ``group_by_length``); ``fp16=True`` becomes the settings' ``mixed_precision``.
    """
    qa = settings_from(qa, QaSettings)
    return TrainingArguments(**{**dict(
        output_dir=str(output_dir),
        eval_strategy=eval_strategy,
        save_strategy=save_strategy,
        save_steps=qa.save_steps or 500,  # used when save_strategy="steps"
        learning_rate=qa.learning_rate,
        weight_decay=qa.weight_decay,
        warmup_steps=qa.warmup_ratio,
        num_train_epochs=qa.num_train_epochs,
        max_steps=qa.max_steps,
        per_device_train_batch_size=qa.batch_size,
        per_device_eval_batch_size=2 * qa.batch_size,
        gradient_accumulation_steps=qa.gradient_accumulation_steps,
        train_sampling_strategy="group_by_length" if qa.dynamic_padding else "random",
        logging_steps=logging_steps,
        save_total_limit=qa.save_total_limit,  # a checkpoint holds the optimizer state too (~170 MB for MiniLM)
        seed=qa.seed,
        **precision_flags(qa.mixed_precision),
        push_to_hub=push_to_hub,
        hub_model_id=hub_model_id,
        report_to="none",
        disable_tqdm=trainer_disable_tqdm(),  # in a notebook: Trainer's table, in its final state
        dataloader_pin_memory=device_type() == "cuda",  # pinning only helps when batches go to a GPU
    ), **overrides})


def padding_collator(tokenizer: Any, dynamic_padding: bool) -> Callable[[list[dict]], dict]:
    """``DataCollatorWithPadding`` (pad to the longest window of the batch) or the course's
    ``default_data_collator`` (windows already padded to ``max_length``)."""
    if dynamic_padding:
        return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
    return default_data_collator


def build_features(raw_datasets: Any, tokenizer: Any, max_length: int, stride: int,
                   dynamic_padding: bool = True, num_proc: int | None = None) -> tuple[Any, Any]:
    """The course's two ``Dataset.map`` calls: training windows with labels, validation windows
    with ``example_id`` / ``offset_mapping``. Unpadded when ``dynamic_padding`` (the collator pads
    each batch), else padded to ``max_length`` as in the course."""
    from .features import preprocess_training_examples, preprocess_validation_examples

    padding: str | bool = False if dynamic_padding else "max_length"
    num_proc = num_proc if num_proc and num_proc > 1 else None
    train = raw_datasets["train"].map(
        preprocess_training_examples,
        batched=True,
        remove_columns=raw_datasets["train"].column_names,
        fn_kwargs=dict(tokenizer=tokenizer, max_length=max_length, stride=stride, padding=padding),
        num_proc=num_proc,
        desc="training windows",
    )
    valid = raw_datasets["validation"].map(
        preprocess_validation_examples,
        batched=True,
        remove_columns=raw_datasets["validation"].column_names,
        fn_kwargs=dict(tokenizer=tokenizer, max_length=max_length, stride=stride, padding=padding),
        num_proc=num_proc,
        desc="validation windows",
    )
    return train, valid


def model_features(features: Any) -> Any:
    """The columns the model takes (``example_id``/``offset_mapping`` stay in the full features)."""
    drop = [c for c in features.column_names if c not in MODEL_COLUMNS]
    return features.remove_columns(drop) if drop else features


def qa_metrics(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    features: Any,
    examples: Any,
    n_best: int = 20,
    max_answer_length: int = 30,
) -> dict[str, float]:
    """EM/F1 through the colleague's post-processing (``course_utils.qa.postprocess``)."""
    from .postprocess import compute_metrics

    return compute_metrics(
        start_logits, end_logits, features, examples, n_best=n_best, max_answer_length=max_answer_length
    )


# ---------------------------------------------------------------------------------------------
# Trainer
# ---------------------------------------------------------------------------------------------
class QATrainer(Trainer):
    """A ``Trainer`` that reports SQuAD exact match and F1 at every evaluation.

    Pass the full validation features (with ``example_id`` and ``offset_mapping``; ``Trainer``
    hides those columns from the model itself) as ``eval_dataset`` and the raw validation examples
    as ``eval_examples``.
    """

    def __init__(self, *args: Any, eval_examples: Any = None, n_best: int = 20,
                 max_answer_length: int = 30, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples
        self.n_best = n_best
        self.max_answer_length = max_answer_length
        _table_without_loss_column(self)

    def _get_eval_sampler(self, eval_dataset: Any) -> Any:
        """Evaluate windows in dataset order, always.

        With ``train_sampling_strategy="group_by_length"`` transformers 5 also *shuffles the
        evaluation and prediction order* by length; the predictions then no longer line up with
        the windows, and post-processing (which matches logits to ``example_id`` / offsets by
        position) scores the wrong spans. Grouping only pays off in training anyway.
        """
        from torch.utils.data import SequentialSampler

        if eval_dataset is None:
            return None
        return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None

    def evaluate(self, eval_dataset: Any = None, ignore_keys: list[str] | None = None,
                 metric_key_prefix: str = "eval") -> dict[str, float]:
        features = eval_dataset if eval_dataset is not None else self.eval_dataset
        if self.eval_examples is None:
            raise ValueError("QATrainer.evaluate needs eval_examples= (the raw validation examples)")
        missing = [c for c in EVAL_ONLY_COLUMNS if c not in features.column_names]
        if missing:
            raise ValueError(
                f"evaluation features lack {missing}: build them with preprocess_validation_examples"
            )
        start = time.time()
        output = self.evaluation_loop(
            self.get_eval_dataloader(features),
            description="Evaluation",
            prediction_loss_only=False,
            ignore_keys=ignore_keys,
            metric_key_prefix=metric_key_prefix,
        )
        start_logits, end_logits = output.predictions[:2]
        scores = qa_metrics(start_logits, end_logits, features, self.eval_examples,
                            self.n_best, self.max_answer_length)
        metrics = {f"{metric_key_prefix}_{k}": float(v) for k, v in scores.items()}
        metrics[f"{metric_key_prefix}_runtime"] = round(time.time() - start, 4)
        if self.state.epoch is not None:
            metrics["epoch"] = self.state.epoch
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


def _table_without_loss_column(trainer: Trainer) -> None:
    """Swap Trainer's notebook table (the display in Jupyter) for one without "Validation Loss".

    QA evaluations report exact match and F1: the validation windows carry no labels, so that
    column would read "No log" on every row. Outside a notebook there is no table: nothing changes.
    """
    from transformers.utils.notebook import NotebookProgressCallback, NotebookTrainingTracker

    class ScoresTracker(NotebookTrainingTracker):
        def write_line(self, values: dict[str, Any]) -> None:
            if values.get("Validation Loss") == "No log":
                values = {k: v for k, v in values.items() if k != "Validation Loss"}
            super().write_line(values)

    class ScoresProgress(NotebookProgressCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            super().on_train_begin(args, state, control, **kwargs)
            self.training_tracker = ScoresTracker(state.max_steps, [self.first_column, "Training Loss"])

    if trainer.pop_callback(NotebookProgressCallback) is not None:
        trainer.add_callback(ScoresProgress())


def build_qa_trainer(
    model: Any,
    tokenizer: Any,
    args: TrainingArguments,
    train_features: Any,
    eval_features: Any = None,
    eval_examples: Any = None,
    dynamic_padding: bool = True,
    callbacks: list[TrainerCallback] | None = None,
) -> QATrainer:
    """The course's ``Trainer(...)`` call, with ``processing_class=`` (was ``tokenizer=``)."""
    return QATrainer(
        model=model,
        args=args,
        train_dataset=model_features(train_features),
        eval_dataset=eval_features,
        eval_examples=eval_examples,
        processing_class=tokenizer,
        data_collator=padding_collator(tokenizer, dynamic_padding),
        callbacks=callbacks,
    )


def finetune_with_trainer(
    cfg: Any,
    run_dir: str | os.PathLike,
    *,
    raw_datasets: Any = None,
    resume_from_checkpoint: bool | str | None = None,
    eval_strategy: str = "epoch",
    save_strategy: str = "epoch",
    save_steps: int | None = None,
    logging_steps: int = 10,
    callbacks: list[TrainerCallback] | None = None,
    push_to_hub: bool = False,
    data_seed: int | None = None,
) -> tuple[QATrainer, dict[str, float]]:
    """Notebook 08 in one call: data, windows, model, ``QATrainer``, train, ``predict``, save.

    Later notebooks call it to build a model when the workspace has none; the resume test runs
    it in a subprocess and kills it; the model soup of notebook 08 trains its extra members with
    it. ``run_dir`` receives the checkpoints and, at the end, the final model (safetensors) and
    tokenizer; the caller marks it complete. The model always starts from ``cfg.seed``;
    ``data_seed`` (default ``cfg.seed``) changes only the data order and the dropout masks.
    """
    from .data import load_qa_datasets
    from .model import load_qa_model_and_tokenizer, model_options

    resume = trainer_checkpoint(run_dir, resume_from_checkpoint)  # fail before any work
    qa = settings_from(cfg, QaSettings)
    raw = raw_datasets if raw_datasets is not None else load_qa_datasets(cfg)
    model, tokenizer = load_qa_model_and_tokenizer(qa.encoder_source, seed=qa.seed, **model_options(qa))
    train_features, eval_features = build_features(raw, tokenizer, qa.max_length, qa.stride, qa.dynamic_padding, qa.num_proc)
    args = qa_training_arguments(replace(qa, save_steps=save_steps or qa.save_steps), run_dir,
                                 eval_strategy=eval_strategy, save_strategy=save_strategy, logging_steps=logging_steps,
                                 push_to_hub=push_to_hub, seed=qa.seed if data_seed is None else data_seed)
    trainer = build_qa_trainer(model, tokenizer, args, train_features, eval_features, raw["validation"],
                               qa.dynamic_padding, callbacks)
    trainer.train(resume_from_checkpoint=resume)
    metrics = predict_metrics(trainer, eval_features, raw["validation"])
    save_final_model(trainer, tokenizer, run_dir)
    return trainer, metrics


def predict_metrics(trainer: Trainer, eval_features: Any, eval_examples: Any) -> dict[str, float]:
    """The course's last step: ``trainer.predict`` on the validation features, then EM/F1."""
    output = trainer.predict(eval_features)
    start_logits, end_logits = output.predictions[:2]
    return qa_metrics(start_logits, end_logits, eval_features, eval_examples)


def loss_history(trainer_or_log: Any) -> dict[str, list[tuple[float, float]]]:
    """``(step, value)`` pairs of training loss and eval EM/F1 from ``trainer.state.log_history``."""
    log = trainer_or_log.state.log_history if hasattr(trainer_or_log, "state") else trainer_or_log
    out: dict[str, list[tuple[float, float]]] = {"loss": [], "eval_exact_match": [], "eval_f1": []}
    for entry in log:
        for key in out:
            if key in entry:
                out[key].append((entry["step"], float(entry[key])))
    return out


def save_final_model(trainer_or_model: Any, tokenizer: Any, folder: str | os.PathLike) -> Path:
    """Weights as safetensors + tokenizer + config, ready for ``pipeline(model=folder)``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(trainer_or_model, Trainer):
        trainer_or_model.save_model(str(folder))
    else:
        trainer_or_model.save_pretrained(str(folder), safe_serialization=True)
    tokenizer.save_pretrained(str(folder))
    return folder


# ---------------------------------------------------------------------------------------------
# measurement: the speed-up of dynamic padding
# ---------------------------------------------------------------------------------------------
def padding_stats(features: Any, batch_size: int, max_length: int, group_by_length: bool, seed: int = 0) -> dict[str, float]:
    """Tokens the model sees per epoch with pad-to-max_length vs pad-to-longest-in-batch.

    ``features`` are *unpadded* windows (their ``input_ids`` lengths are the real lengths).
    """
    lengths = np.array([len(x) for x in features["input_ids"]])
    if group_by_length:
        from transformers.trainer_pt_utils import LengthGroupedSampler

        torch.manual_seed(seed)
        order = np.array(list(LengthGroupedSampler(batch_size, lengths=lengths.tolist())))
    else:
        order = np.random.default_rng(seed).permutation(len(lengths))
    batches = [lengths[order[i : i + batch_size]] for i in range(0, len(order), batch_size)]
    padded_dynamic = sum(int(math.ceil(b.max() / 8) * 8) * len(b) for b in batches)
    return {
        "windows": int(len(lengths)),
        "mean_length": float(lengths.mean()),
        "tokens_max_length": int(max_length * len(lengths)),
        "tokens_dynamic": int(padded_dynamic),
        "token_ratio": float(max_length * len(lengths) / padded_dynamic),
    }


def spread_batches(dataloader: Any, n: int) -> list[Any]:
    """`n` batches spread evenly over one pass of `dataloader`, for timing.

    Not simply the first `n`: ``LengthGroupedSampler`` serves the longest batch first and sorts
    the rest by length within large groups, so the first batches are the longest of the epoch,
    and timing them hides what dynamic padding saves.
    """
    batches = list(dataloader)
    if n < 1 or not batches:
        raise ValueError(f"need n >= 1 and a non-empty dataloader, got n={n}, {len(batches)} batches")
    step = max(1, len(batches) // n)
    return batches[::step][:n]


def first_vs_best(seconds: Mapping[str, float]) -> tuple[str, float]:
    """The fastest row of a speed table (seconds per step, the course's way first) and its speed-up
    over the first row. The last row is not always the fastest: a change that does not pay on this
    machine (bf16 where it is emulated, dynamic padding on windows that are nearly full) can slow it."""
    if not seconds:
        raise ValueError("an empty speed table has no first row")
    if any(not s > 0 for s in seconds.values()):
        raise ValueError(f"seconds per step must be > 0, got {dict(seconds)}")
    first = next(iter(seconds.values()))
    best = min(seconds, key=seconds.get)
    return best, first / seconds[best]


# ---------------------------------------------------------------------------------------------
# Accelerate
# ---------------------------------------------------------------------------------------------
def evaluate_accelerate(accelerator: Any, model: Any, eval_dataloader: Any, eval_features: Any,
                        eval_examples: Any) -> dict[str, float]:
    """Logits of every evaluation window, each exactly once, then EM/F1.

    Each process pads its batch's logits to the widest batch of all processes
    (``pad_across_processes``), ``gather_for_metrics`` collects them and drops the samples that
    were repeated to even out the last batch; the batches are then padded to a common width.
    """
    model.eval()
    starts, ends = [], []
    for batch in eval_dataloader:
        with torch.no_grad():
            out = model(**batch)
        start = accelerator.pad_across_processes(out.start_logits, dim=1, pad_index=-100)
        end = accelerator.pad_across_processes(out.end_logits, dim=1, pad_index=-100)
        start, end = accelerator.gather_for_metrics((start, end))
        starts.append(start.float().cpu().numpy())
        ends.append(end.float().cpu().numpy())
    start_logits, end_logits = concat_padded(starts), concat_padded(ends)
    if len(start_logits) != len(eval_features):
        raise RuntimeError(f"gathered {len(start_logits)} windows for {len(eval_features)} features")
    return qa_metrics(start_logits, end_logits, eval_features, eval_examples)


class EpochLengthGroupedSampler:
    """transformers' ``LengthGroupedSampler`` (windows of similar length in the same batch, which
    ``Trainer`` uses with ``group_by_length``) for a hand-written loop: reseeded from
    ``(seed, epoch)`` at every ``set_epoch``, so each epoch has its own order, every process draws
    the same one (Accelerate then splits the batches), and a resumed run sees the batches it
    skips in the order it first saw them."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 42):
        from transformers.trainer_pt_utils import LengthGroupedSampler

        self.seed, self.epoch = int(seed), 0
        self.generator = torch.Generator()
        self._sampler = LengthGroupedSampler(batch_size, lengths=list(lengths), generator=self.generator)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._sampler)

    def __iter__(self):
        self.generator.manual_seed(self.seed * 100_003 + self.epoch)
        return iter(self._sampler)


def make_train_dataloader(train_features: Any, tokenizer: Any, batch_size: int, dynamic_padding: bool = True,
                          seed: int = 42) -> Any:
    """The loop's training batches. With dynamic padding, windows of similar length share a batch
    (as ``Trainer`` does with ``group_by_length``): randomly shuffled batches are padded to their
    longest window, which is often near ``max_length``. Without it, the course's shuffled batches of
    fully padded windows."""
    from torch.utils.data import DataLoader

    train_set = model_features(train_features)
    collate = padding_collator(tokenizer, dynamic_padding)
    if dynamic_padding:
        sampler = EpochLengthGroupedSampler([len(ids) for ids in train_set["input_ids"]], batch_size, seed)
        return DataLoader(train_set, sampler=sampler, batch_size=batch_size, collate_fn=collate)
    return DataLoader(train_set, shuffle=True, batch_size=batch_size, collate_fn=collate)


QA_CALIBRATION_STEPS = 9  # batches of varying length: more of them, spread over the epoch, averaged


def fit_to_budget(qa: QaSettings, model: Any, train_features: Any, eval_features: Any, tokenizer: Any,
                  run_dir: str | os.PathLike, say: Callable[[str], None] = print) -> QaSettings:
    """`qa` with ``max_steps`` fitted to ``qa.time_budget_s`` (steps of a copy of `model` on batches
    from across an epoch are timed: :func:`course_utils.training.plan_steps`); unchanged without a
    budget. With dynamic padding the batches differ in length, so their *mean* is what a step costs;
    the evaluation after every epoch is timed on batches of the evaluation itself. The warm-up
    stays a ratio."""
    qa = settings_from(qa, QaSettings)
    if qa.time_budget_s is None:
        return qa
    loader = make_train_dataloader(train_features, tokenizer, qa.batch_size, qa.dynamic_padding, qa.seed)
    steps = QA_CALIBRATION_STEPS
    batches = spread_batches(loader, steps * qa.gradient_accumulation_steps)
    eval_loader = make_eval_dataloader(eval_features, tokenizer, qa)
    per_epoch = math.ceil(len(loader) / qa.gradient_accumulation_steps)
    most = qa.max_steps if qa.max_steps > 0 else qa.num_train_epochs * per_epoch  # the profile's own count
    return plan_steps(qa, model, batches, run_dir, eval_every=per_epoch, eval_batches=len(eval_loader),
                      final_eval_batches=len(eval_loader), eval_sample=spread_batches(eval_loader, 3),
                      most_steps=most, calibration_steps=steps, average="mean", say=say)


def make_eval_dataloader(eval_features: Any, tokenizer: Any, settings: QaSettings) -> Any:
    """Validation windows in dataset order (post-processing matches logits to windows by position)."""
    from torch.utils.data import DataLoader

    return DataLoader(model_features(eval_features), shuffle=False, batch_size=2 * settings.batch_size,
                      collate_fn=padding_collator(tokenizer, settings.dynamic_padding))


def make_linear_schedule(optimizer: Any, batches_per_epoch: int, settings: QaSettings) -> tuple[Any, int, int]:
    """The course's linear schedule, counted in *optimizer* steps (batches / accumulation, where the
    course counts batches); returns it with the number of optimizer steps and of epochs to run."""
    steps_per_epoch = math.ceil(batches_per_epoch / settings.gradient_accumulation_steps)
    total = settings.max_steps if settings.max_steps > 0 else settings.num_train_epochs * steps_per_epoch
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=int(settings.warmup_ratio * total),
                              num_training_steps=total)
    return scheduler, total, math.ceil(total / steps_per_epoch)


def save_final(accelerator: Any, model: Any, tokenizer: Any, run_dir: Path, history: dict[str, Any],
               push_to_hub: bool = False, hub_model_id: str | None = None) -> Path:
    """``run_dir/final`` (safetensors + tokenizer, for ``pipeline``) and ``history.json``, written by
    the main process; pushed to the Hub when asked."""
    final = run_dir / "final"
    accelerator.wait_for_everyone()
    accelerator.unwrap_model(model).save_pretrained(str(final), is_main_process=accelerator.is_main_process,
                                                    save_function=accelerator.save, safe_serialization=True)
    if accelerator.is_main_process:
        tokenizer.save_pretrained(str(final))
        (run_dir / "history.json").write_text(json.dumps(history))
        if push_to_hub:
            push_folder_to_hub(final, hub_model_id, "fine-tuned QA model")
    accelerator.wait_for_everyone()
    return final


def _check_loop_inputs(settings: QaSettings, train_features: Any, run_dir: str | os.PathLike,
                       push_to_hub: bool, hub_model_id: str | None) -> Path:
    """Everything that would fail later, checked before any work; returns the created run folder."""
    if push_to_hub and not hub_model_id:
        raise ValueError("push_to_hub=True needs hub_model_id ('<user>/<model-name>'), checked before training")
    if len(train_features) == 0:
        raise ValueError("train_features is empty: nothing to train on")
    if (Path(run_dir) / COMPLETE_MARKER).exists():
        raise FileExistsError(f"{run_dir} holds a finished run; runs are never overwritten: use a new folder")
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    return Path(run_dir)


def train_accelerate(model: Any, tokenizer: Any, train_features: Any, eval_features: Any, eval_examples: Any,
                     run_dir: str | os.PathLike, settings: QaSettings, *, resume: bool | str = False,
                     stop_after_steps: int | None = None, push_to_hub: bool = False,
                     hub_model_id: str | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The course's loop: prepare, then per batch forward, backward, optimizer and schedule step;
    EM/F1 and a ``save_state`` checkpoint after every epoch. Returns the history (``loss`` and
    ``lr`` per optimizer step, ``epochs`` with EM/F1, ``steps``); the model goes to ``run_dir/final``."""
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    run_dir = _check_loop_inputs(settings, train_features, run_dir, push_to_hub, hub_model_id)
    accelerator = make_accelerator(settings.mixed_precision, settings.gradient_accumulation_steps)
    set_seed(settings.seed)
    train_dl = make_train_dataloader(train_features, tokenizer, settings.batch_size, settings.dynamic_padding, settings.seed)
    eval_dl = make_eval_dataloader(eval_features, tokenizer, settings)
    optimizer = make_adamw(get_grouped_params(model, settings.weight_decay), lr=settings.learning_rate)
    model, optimizer, train_dl, eval_dl = accelerator.prepare(model, optimizer, train_dl, eval_dl)
    scheduler, total_steps, num_epochs = make_linear_schedule(optimizer, len(train_dl), settings)
    accelerator.register_for_checkpointing(scheduler)  # stepped by hand, once per optimizer step
    fresh = {"step": 0, "epoch": 0, "batches_in_epoch": 0,
             "history": {"loss": [], "lr": [], "epochs": [], "steps": 0, "total_steps": total_steps}}
    progress, _ = resume_progress(accelerator, run_dir, resume, fresh, log)
    step, history = progress["step"], progress["history"]
    bar = tqdm(total=total_steps, initial=step, disable=quiet() or not accelerator.is_local_main_process)
    for epoch in range(progress["epoch"], num_epochs):
        model.train()
        train_dl.set_epoch(epoch)
        done = progress["batches_in_epoch"] if epoch == progress["epoch"] else 0
        for batch in accelerator.skip_first_batches(train_dl, done) if done else train_dl:
            with accelerator.accumulate(model):
                loss = model(**batch).loss
                accelerator.backward(loss)
                optimizer.step()
                optimizer.zero_grad()
            done += 1
            if accelerator.sync_gradients:
                history["lr"].append((step + 1, scheduler.get_last_lr()[0]))  # the lr this step used
                scheduler.step()
                step += 1
                bar.update(1)
                history["loss"].append((step, float(accelerator.gather(loss.detach()).mean())))
                history["steps"] = step
                if settings.save_steps and step % settings.save_steps == 0:
                    save_checkpoint(accelerator, run_dir, step, {"step": step, "epoch": epoch, "batches_in_epoch": done,
                                                                 "history": history}, settings.save_total_limit)
                if step >= total_steps or step == stop_after_steps:  # stop_after_steps: a test's "kill"
                    break
        if step == stop_after_steps:
            return history
        metrics = evaluate_accelerate(accelerator, model, eval_dl, eval_features, eval_examples)
        history["epochs"].append({"epoch": epoch, "step": step, **metrics})
        log(f"epoch {epoch}: step {step}, exact_match {metrics['exact_match']:.2f}, f1 {metrics['f1']:.2f}")
        save_checkpoint(accelerator, run_dir, step, {"step": step, "epoch": epoch + 1, "batches_in_epoch": 0,
                                                     "history": history}, settings.save_total_limit)
    bar.close()
    save_final(accelerator, model, tokenizer, run_dir, history, push_to_hub, hub_model_id)
    return history


# ---------------------------------------------------------------------------------------------
# plots
# ---------------------------------------------------------------------------------------------
def plot_training_curves(history: Mapping[str, Any], title: str = "fine-tuning") -> Any:
    """Training loss per logged step and, on a second axis, eval F1 / EM at each evaluation.

    Accepts :func:`loss_history`'s dict (Trainer) or the Accelerate loop's history
    (``loss`` pairs + ``epochs`` with ``step``/``exact_match``/``f1``).
    """
    import matplotlib.pyplot as plt

    loss = list(history.get("loss", []))
    if "epochs" in history:
        f1 = [(e["step"], e["f1"]) for e in history["epochs"]]
        em = [(e["step"], e["exact_match"]) for e in history["epochs"]]
    else:
        f1, em = list(history.get("eval_f1", [])), list(history.get("eval_exact_match", []))
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if loss:
        ax.plot(*zip(*loss), color="tab:blue", lw=1.2, label="training loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (start + end cross-entropy / 2)")
    ax.set_title(title)
    if f1:
        ax2 = ax.twinx()
        ax2.plot(*zip(*f1), "o-", color="tab:orange", label="eval F1")
        ax2.plot(*zip(*em), "s--", color="tab:green", label="eval exact match")
        ax2.set_ylabel("score (%)")
        ax2.set_ylim(0, 100)
        ax2.legend(loc="center right")
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig
