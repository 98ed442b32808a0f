"""§6 step 6 as a script: the Accelerate loop of ``course_utils.clm.loop``, for one or many processes.

    python -m course_utils.clm.train_accelerate --profile workshop
    accelerate launch --num_processes 2 -m course_utils.clm.train_accelerate --profile ci
    accelerate launch -m course_utils.clm.train_accelerate --profile course   # your accelerate config

Data: ``--dataset DIR --tokenizer DIR`` (a ``DatasetDict.save_to_disk`` folder with fixed-length
``input_ids`` in ``train``/``valid``, and a tokenizer folder), or else the profile's corpus and
tokenizer, built by ``course_utils.clm.tokenize.prepare_lm_datasets`` into ``--work``.
Output: a new ``<work>/clm-accelerate/<time>`` folder (or ``--output-dir``), with checkpoints
while it runs and the final model, tokenizer, ``result.json`` and ``COMPLETE`` at the end.
``--resume`` continues an unfinished run from its newest checkpoint. ``--eval-only --model DIR``
prints the validation loss and perplexity of a saved model (the same number on any number of
processes).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

__all__ = [
    "SETTING_FLAGS",
    "parse_args",
    "main",
]

SETTING_FLAGS = (
    "batch_size", "gradient_accumulation_steps", "learning_rate", "weight_decay", "warmup_steps",
    "max_steps", "eval_steps", "save_steps", "logging_steps", "keytoken_alpha", "mixed_precision",
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m course_utils.clm.train_accelerate", description=__doc__.split("\n")[0])
    p.add_argument("--profile", default="auto", help="ci | workshop | course | auto")
    p.add_argument("--work", default=None, help="workspace folder (default runs/workspace-<profile>)")
    p.add_argument("--output-dir", default=None, help="run folder (default: a new <work>/clm-accelerate/<time>)")
    p.add_argument("--dataset", default=None, help="DatasetDict folder (save_to_disk) with train/valid input_ids")
    p.add_argument("--tokenizer", default=None, help="tokenizer folder (needed with --dataset)")
    p.add_argument("--model", default=None, help="start from (or with --eval-only, evaluate) this saved model")
    p.add_argument("--seed", type=int, default=None)
    for name in SETTING_FLAGS:
        kind = str if name == "mixed_precision" else (float if name in ("learning_rate", "weight_decay", "keytoken_alpha") else int)
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=None)
    p.add_argument("--keywords", nargs="*", default=None, help="key-token keywords (default: the course's)")
    p.add_argument("--resume-from-checkpoint", "--resume", dest="resume", action="store_true",
                   help="continue the newest unfinished run (or --output-dir) from its last checkpoint; never a finished run")
    p.add_argument("--eval-only", action="store_true", help="only evaluate --model on the validation split")
    p.add_argument("--metrics-json", default=None, help="also write the final metrics here (main process)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process")
    p.add_argument("--throttle-seconds", type=float, default=0.0,
                   help="sleep after each optimizer step (to demonstrate or test interrupting a run)")
    p.add_argument("--push-to-hub", action="store_true")
    p.add_argument("--hub-model-id", default=None)
    return p.parse_args(argv)


def _load_data(args: argparse.Namespace, cfg: Any, work: Path):
    if args.dataset:
        from datasets import load_from_disk
        from transformers import AutoTokenizer

        if not args.tokenizer:
            raise SystemExit("--dataset needs --tokenizer (the folder of the tokenizer that made it)")
        return AutoTokenizer.from_pretrained(args.tokenizer), load_from_disk(args.dataset)
    from .tokenize import prepare_lm_datasets

    return prepare_lm_datasets(cfg, work)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from ..profiles import activate
    from ..workspace import workspace

    # before any Hugging Face import; the flags are the settings' own knobs (None keeps the profile's)
    cfg = activate(args.profile, seed=args.seed, **{f"clm_{k}": getattr(args, k) for k in SETTING_FLAGS})
    work = workspace(args.work, cfg.name)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from ..training import make_accelerator, script_run_dir
    from .loop import ACCELERATE_RUNS, make_dataloaders, per_sample_eval_losses, train_accelerate
    from .loss import COURSE_KEYWORDS, keytoken_ids_from_keywords
    from .model import build_model

    settings = cfg.clm
    accelerator = make_accelerator(settings.mixed_precision, settings.gradient_accumulation_steps)
    tokenizer, lm_datasets = _load_data(args, cfg, work)

    if args.eval_only:
        from transformers import GPT2LMHeadModel

        if not args.model:
            raise SystemExit("--eval-only needs --model DIR")
        model = GPT2LMHeadModel.from_pretrained(args.model)
        _, eval_dl = make_dataloaders(lm_datasets, settings.batch_size, seed=settings.seed)
        model, eval_dl = accelerator.prepare(model, eval_dl)
        losses = per_sample_eval_losses(model, eval_dl, accelerator)
        loss = losses.mean().item()
        from .loop import perplexity_from_loss

        result = {"eval_loss": loss, "perplexity": perplexity_from_loss(loss), "n_samples": int(losses.numel()),
                  "num_processes": accelerator.num_processes}
    else:
        run_dir = script_run_dir(args.output_dir, work, ACCELERATE_RUNS, resume=args.resume)
        if args.model:
            from transformers import GPT2LMHeadModel

            model = GPT2LMHeadModel.from_pretrained(args.model)
        else:
            model = build_model(tokenizer, settings, seed=settings.seed)
        keytoken_ids = keytoken_ids_from_keywords(tokenizer, args.keywords or COURSE_KEYWORDS, warn=accelerator.is_main_process)
        callback = (lambda step: time.sleep(args.throttle_seconds)) if args.throttle_seconds > 0 else None
        run = train_accelerate(
            model, tokenizer, lm_datasets, settings, run_dir, accelerator=accelerator, keytoken_ids=keytoken_ids,
            resume=args.resume, push_to_hub=args.push_to_hub, hub_model_id=args.hub_model_id, step_callback=callback,
        )
        result = {**run.to_json(), "num_processes": accelerator.num_processes}
        result.pop("history")
    if accelerator.is_main_process:
        line = json.dumps(result)
        print("RESULT " + line, flush=True)
        if args.metrics_json:
            Path(args.metrics_json).write_text(line)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
