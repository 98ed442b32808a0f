"""Notebook 09's Accelerate loop as a script, for one process or many.

    python -m course_utils.qa.train_accelerate --profile workshop
    accelerate launch --multi_gpu --num_processes 2 -m course_utils.qa.train_accelerate --profile ci
    (on a machine without GPU the processes join one gloo group on the CPU)
    python -m course_utils.qa.train_accelerate --profile ci --eval-only --model runs/.../final

Training writes into a new ``<work>/qa-accelerate/<timestamp>`` folder, or into ``--output-dir``
(never one that holds a finished run; ``--resume`` continues the newest unfinished run), as the
CLM script does, checkpoints with ``save_state`` under ``checkpoints/``, saves the final model
(safetensors) under ``final/`` and marks the run complete. ``--metrics-json``
writes the final EM/F1 (and how many windows were scored) for tests and benchmarks.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

__all__ = [
    "ARTEFACT",
    "parse_args",
    "main",
]

ARTEFACT = "qa-accelerate"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m course_utils.qa.train_accelerate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="auto", help="ci | workshop | course | auto")
    p.add_argument("--work", default=None, help="workspace folder (default runs/workspace-<profile>)")
    p.add_argument("--output-dir", default=None, help="run folder (default: a new <work>/qa-accelerate/<time>)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--model", default=None, help="qa_encoder_source: bundled | Hub id | folder")
    p.add_argument("--data-source", default=None)
    p.add_argument("--eval-source", default=None)
    p.add_argument("--max-train-examples", type=int, default=None)
    p.add_argument("--max-eval-examples", type=int, default=None)
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--stride", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--warmup-ratio", type=float, default=None)
    p.add_argument("--num-train-epochs", type=int, default=None)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--gradient-accumulation-steps", type=int, default=None)
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--no-dynamic-padding", action="store_true", help="pad every window to max_length (the course)")
    p.add_argument("--mixed-precision", default=None, choices=["auto", "no", "fp16", "bf16"],
                   help="default: the profile's qa mixed_precision; auto: bf16/fp16 on a GPU; on a CPU, what a short probe measures faster")
    p.add_argument("--save-steps", "--checkpoint-steps", dest="save_steps", type=int, default=None,
                   help="also checkpoint every N optimizer steps (--checkpoint-steps: the old name)")
    p.add_argument("--resume-from-checkpoint", "--resume", dest="resume", action="store_true",
                   help="continue the newest unfinished run from its last checkpoint (never a finished one)")
    p.add_argument("--eval-only", action="store_true", help="only score --model on the validation split")
    p.add_argument("--metrics-json", default=None)
    p.add_argument("--push-to-hub", action="store_true")
    p.add_argument("--hub-model-id", "--hub-repo-id", dest="hub_model_id", default=None)
    return p.parse_args(argv)


def _profile(args: argparse.Namespace) -> Any:
    from ..profiles import activate

    overrides = dict(
        qa_encoder_source=args.model, qa_data_source=args.data_source,
        qa_max_train_examples=args.max_train_examples, qa_max_eval_examples=args.max_eval_examples,
        qa_max_length=args.max_length, qa_stride=args.stride, qa_batch_size=args.batch_size,
        qa_learning_rate=args.learning_rate, qa_warmup_ratio=args.warmup_ratio,
        qa_num_train_epochs=args.num_train_epochs, qa_max_steps=args.max_steps, qa_dropout=args.dropout,
        qa_eval_source=args.eval_source, qa_mixed_precision=args.mixed_precision,
        qa_gradient_accumulation_steps=args.gradient_accumulation_steps, qa_save_steps=args.save_steps,
    )
    if args.no_dynamic_padding:
        overrides["qa_dynamic_padding"] = False
    return activate(args.profile, seed=args.seed, **overrides)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    cfg = _profile(args)  # sets the offline switches before any HF import

    from accelerate import PartialState

    from ..training import make_accelerator, script_run_dir
    from ..workspace import mark_complete, workspace
    from . import loop
    from .data import load_qa_datasets
    from .model import load_qa_model_and_tokenizer, model_options

    import torch

    # Without a GPU, cpu=True is what makes `accelerate launch --multi_gpu` processes join one
    # gloo group (MULTI_CPU) instead of each running alone.
    state = PartialState(cpu=not torch.cuda.is_available())
    qa = cfg.qa
    mixed = loop.mixed_precision_name(qa.mixed_precision)
    model, tokenizer = load_qa_model_and_tokenizer(qa.encoder_source, seed=cfg.seed, **model_options(qa))
    raw = load_qa_datasets(cfg)
    with state.main_process_first():  # the main process writes the datasets cache, the others read it
        train_features, eval_features = loop.build_features(
            raw, tokenizer, qa.max_length, qa.stride, qa.dynamic_padding, qa.num_proc)

    started = time.time()
    if args.eval_only:
        from torch.utils.data import DataLoader

        accelerator = make_accelerator(mixed)
        dl = DataLoader(loop.model_features(eval_features), batch_size=2 * qa.batch_size,
                        collate_fn=loop.padding_collator(tokenizer, qa.dynamic_padding))
        model, dl = accelerator.prepare(model, dl)
        metrics = loop.evaluate_accelerate(accelerator, model, dl, eval_features, raw["validation"])
        result: dict[str, Any] = {"metrics": metrics}
    else:
        out = script_run_dir(args.output_dir, workspace(args.work, cfg.name), ARTEFACT, resume=args.resume)
        history = loop.train_accelerate(
            model, tokenizer, train_features, eval_features, raw["validation"], out, qa,
            resume=args.resume, push_to_hub=args.push_to_hub, hub_model_id=args.hub_model_id,
            log=print if state.is_main_process else (lambda _msg: None),
        )
        if state.is_main_process:
            mark_complete(out)
        metrics = history["epochs"][-1] if history["epochs"] else {}
        result = {"metrics": metrics, "steps": history["steps"], "run_dir": str(out),
                  "final_model": str(out / "final")}
    result.update(num_processes=state.num_processes, eval_windows=len(eval_features),
                  eval_examples=len(raw["validation"]), train_windows=len(train_features),
                  seconds=round(time.time() - started, 1), mixed_precision=mixed)
    if state.is_main_process:
        print(json.dumps(result))
        if args.metrics_json:
            Path(args.metrics_json).write_text(json.dumps(result, indent=1))
    state.wait_for_everyone()
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
