"""5. Training throughput: ``Trainer`` and our Accelerate loop against a bare PyTorch loop.

Same model (same seed, same sizes), same data, same batch, fp32, evaluation and checkpoints off:

* CLM: the workshop GPT-2 (4 layers, 256 wide, 4 heads, context 128, 8k BPE vocabulary, about
  5M parameters), batch 32, on chunks of the bundled corpus, through the CLM track's
  ``course_utils.clm.loop.compare_throughput`` (bare loop, ``build_trainer`` +
  ``trainer.train()``, ``train_accelerate`` with its key-token loss), timed after warm-up steps.
* QA: the bundled MiniLM with a QA head, batch 8, windows of real SQuAD train questions padded to
  the workshop's max_length 256 (one shape for all three, so only the loop differs): a bare loop,
  ``course_utils.qa.loop.build_qa_trainer`` + ``train()``, and ``course_utils.qa.loop.train_accelerate``.
  Steps are timed with a forward pre-hook on the model (time between consecutive forward calls =
  one whole training step, data loading and optimizer included), the same clock for all three.

The ceiling: the CPU's fp32 matmul peak measured here. MFU = model FLOPs per second / peak, with
training FLOPs per token = 6 x (matmul parameters) + 12 x layers x context x width (attention).
Rows: reference = the bare loop, ours = Trainer or Accelerate; ``ratio`` = bare seconds per step /
ours (>= 0.9 means within 10% of the bare loop). ``identical`` is not applicable (null): no
output is compared, only speed on the same work.
"""
from __future__ import annotations

import tempfile
import time
from typing import Any

from . import require_module, result
from ._inputs import matmul_peak_gflops

NAME = "train_throughput"

CLM_SIZES = {"n_layer": 4, "n_embd": 256, "n_head": 4, "context_length": 128, "dropout": 0.0, "batch_size": 32}
CLM_TINY = {"n_layer": 1, "n_embd": 32, "n_head": 2, "context_length": 32, "dropout": 0.0, "batch_size": 4}
QA_MAX_LENGTH, QA_STRIDE, QA_BATCH = 256, 64, 8


# ----------------------------------------------------------------------------------------------
# FLOPs
# ----------------------------------------------------------------------------------------------
def gpt2_flops_per_token(model: Any, context_length: int) -> float:
    """6 x matmul parameters (every 2-D weight except the position table; the token embedding
    counts once, as the tied output layer) + 12 x layers x context x width."""
    cfg = model.config
    n = sum(p.numel() for name, p in model.named_parameters() if p.ndim >= 2 and "wpe" not in name)
    return 6 * n + 12 * cfg.n_layer * context_length * cfg.n_embd


def encoder_flops_per_token(model: Any, seq_len: int) -> float:
    from .qa_padding import encoder_flops_per_token as f

    return f(model, seq_len)


# ----------------------------------------------------------------------------------------------
# CLM
# ----------------------------------------------------------------------------------------------
def clm_rows(quick: bool, tiny: bool, peak: float) -> list[dict[str, Any]]:
    from datasets import DatasetDict

    from ._inputs import clm_corpus_and_tokenizer

    from ._clm_throughput import compare_throughput
    from course_utils.settings import ClmSettings

    model_mod = require_module("course_utils.clm.model", "build_model")
    tok_mod = require_module("course_utils.clm.tokenize", "make_tokenize")
    sizes = CLM_TINY if tiny else CLM_SIZES
    steps, warmup = (2, 1) if tiny else (3, 1) if quick else (20, 3)
    # Throughput does not depend on which chunks: the --quick corpus is plenty in every mode.
    raw, tokenizer, corpus_note = clm_corpus_and_tokenizer(quick=True, tiny=tiny)
    fn = tok_mod.make_tokenize(tokenizer, sizes["context_length"])
    lm = DatasetDict({split: raw[split].map(fn, batched=True, remove_columns=raw[split].column_names,
                                            keep_in_memory=True, load_from_cache_file=False)
                      for split in ("train", "valid")})
    needed = sizes["batch_size"] * (steps + warmup)
    if len(lm["train"]) < needed:
        raise ValueError(f"only {len(lm['train'])} chunks, {needed} needed")
    lm["train"] = lm["train"].select(range(needed))  # the same chunks for all three loops
    lm["valid"] = lm["valid"].select(range(min(len(lm["valid"]), sizes["batch_size"])))

    def factory():
        return model_mod.build_model(tokenizer, ClmSettings(**{k: sizes[k] for k in ("context_length", "n_layer", "n_embd", "n_head")}, dropout=0.0), seed=0)

    probe = factory()
    n_params = sum(p.numel() for p in probe.parameters())
    flops_tok = gpt2_flops_per_token(probe, sizes["context_length"])
    # Best of `rounds` calls (each runs bare, Trainer, Accelerate in turn): noise only slows.
    # fp32 always; bf16 too where the profile's "auto" picks it (a GPU, or a CPU with AMX).
    rounds = 1 if (quick or tiny) else 2
    precision = require_module("course_utils.precision", "resolve_mixed_precision")
    precisions = ["no"] + (["bf16"] if precision.resolve_mixed_precision("auto") == "bf16" else [])
    rows = []
    for mixed in precisions:
        all_rates: list[dict[str, float]] = []
        for _ in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                all_rates.append(compare_throughput(factory, tokenizer, lm, sizes["batch_size"], steps=steps,
                                                         warmup=warmup, work=tmp, mixed_precision=mixed))
        row_peak = peak if mixed == "no" else matmul_peak_gflops(256 if tiny else 1024, dtype="bfloat16")
        rows.extend(clm_result_rows(all_rates, mixed, sizes, n_params, len(tokenizer), steps, warmup, rounds,
                                    corpus_note, flops_tok, row_peak))
    return rows


def clm_result_rows(all_rates: list[dict[str, float]], mixed: str, sizes: dict[str, Any], n_params: int,
                    vocab_size: int, steps: int, warmup: int, rounds: int, corpus_note: str,
                    flops_tok: float, peak: float) -> list[dict[str, Any]]:
    """One result row per loop (Trainer, Accelerate) against the bare loop, at one precision."""
    suffix = "" if mixed == "no" else f"_{mixed}"
    rates = {key: max(r[key] for r in all_rates) for key in ("bare", "trainer", "accelerate")}
    tokens_per_step = sizes["batch_size"] * sizes["context_length"]
    settings = {"model": f"GPT-2 {sizes['n_layer']}x{sizes['n_embd']}x{sizes['n_head']} ctx {sizes['context_length']}",
                "params": n_params, "vocab_size": vocab_size, "batch_size": sizes["batch_size"],
                "timed_steps": steps, "warmup_steps": warmup, "rounds": rounds, "precision": "fp32" if mixed == "no" else f"{mixed} autocast", "corpus": corpus_note,
                "flops_per_token": flops_tok, "via": "benchmarks/_clm_throughput.compare_throughput"}
    bare = rates["bare"]
    rows = []
    for key in ("trainer", "accelerate"):
        ours = rates[key]
        rows.append(result(
            f"train_clm_{key}{suffix}", settings, tokens_per_step / bare, tokens_per_step / ours, None,
            unit="seconds per step (reference = bare PyTorch loop)",
            tokens_per_s_bare=round(bare, 1), tokens_per_s_ours=round(ours, 1),
            vs_bare=round(ours / bare, 3),
            tokens_per_s_each_round={k: [round(r[k], 1) for r in all_rates] for k in ("bare", key)},
            mfu_bare=round(bare * flops_tok / 1e9 / peak, 3), mfu_ours=round(ours * flops_tok / 1e9 / peak, 3),
            matmul_peak_gflops=round(peak, 1),
            note=(f"{key}: {ours:,.0f} tok/s vs bare {bare:,.0f} ({ours / bare:.0%}); MFU "
                  f"{ours * flops_tok / 1e9 / peak:.0%} vs {bare * flops_tok / 1e9 / peak:.0%} of the {peak:.0f} GFLOP/s "
                  f"{'fp32' if mixed == 'no' else mixed} matmul peak"),
        ))
    return rows


# ----------------------------------------------------------------------------------------------
# QA
# ----------------------------------------------------------------------------------------------
class StepClock:
    """Stamps the start of every forward call of a model: consecutive stamps bound one step."""

    def __init__(self, model: Any) -> None:
        self.times: list[float] = []
        self.handle = model.register_forward_pre_hook(lambda module, args: self.times.append(time.perf_counter()))

    def seconds_per_step(self, warmup: int, steps: int) -> float:
        return sum(self.step_times(warmup, steps)) / steps

    def step_times(self, warmup: int, steps: int) -> list[float]:
        """Durations of the `steps` steps after the first `warmup` ones."""
        if len(self.times) < warmup + steps + 1:
            raise RuntimeError(f"only {len(self.times)} forward calls, {warmup + steps + 1} needed")
        t = self.times[warmup:warmup + steps + 1]
        return [b - a for a, b in zip(t, t[1:])]


def qa_rows(quick: bool, tiny: bool, peak: float) -> list[dict[str, Any]]:
    import torch
    from torch.utils.data import DataLoader
    from transformers import default_data_collator

    from ._inputs import qa_tokenizer, qa_train_records

    features = require_module("course_utils.qa.features", "preprocess_training_examples")
    loop = require_module("course_utils.qa.loop", "build_qa_trainer", "qa_training_arguments",
                          "train_accelerate", "model_features")
    require_module("course_utils.qa.model", "load_qa_model")
    from course_utils.qa.data import records_to_dataset
    from course_utils.settings import QaSettings

    from ._inputs import qa_model_factory

    max_length, stride, batch = (64, 16, 2) if tiny else (QA_MAX_LENGTH, QA_STRIDE, QA_BATCH)
    steps, warmup = (2, 1) if tiny else (3, 1) if quick else (16, 2)
    total = warmup + steps + 1  # the last forward closes the last timed step
    records, source = qa_train_records(tiny)
    tokenizer = qa_tokenizer()
    examples = records_to_dataset(records)
    train = examples.map(features.preprocess_training_examples, batched=True, remove_columns=examples.column_names,
                         fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "stride": stride,
                                    "padding": "max_length"}, keep_in_memory=True, load_from_cache_file=False)
    train = train.select(range(min(len(train), batch * (total + 1))))
    lr = 1e-4

    fresh = qa_model_factory(tiny)

    def bare() -> list[float]:
        model = fresh()
        clock = StepClock(model)
        torch.manual_seed(0)
        dl = DataLoader(loop.model_features(train), batch_size=batch, shuffle=True, collate_fn=default_data_collator)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        model.train()
        done = 0
        while done < total:
            for b in dl:
                loss = model(**b).loss
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                done += 1
                if done >= total:
                    break
        return clock.step_times(warmup, steps)

    # fp32 like the bare loop: without the key, qa_training_arguments takes the profiles' "auto",
    # which is bf16 on an AMX CPU (a 1.85x "speed-up" that was only the precision).
    qa = QaSettings(batch_size=batch, learning_rate=lr, weight_decay=0.01, warmup_ratio=0.0, num_train_epochs=1,
                    max_steps=total, dynamic_padding=False, mixed_precision="no", seed=0)

    def trainer() -> list[float]:
        model = fresh()
        clock = StepClock(model)
        with tempfile.TemporaryDirectory() as tmp:
            args = loop.qa_training_arguments(qa, tmp, eval_strategy="no", save_strategy="no",
                                              logging_steps=10_000, disable_tqdm=True)
            if args.bf16 or args.fp16:
                raise AssertionError("the QA Trainer row must train in fp32, as the bare loop does")
            t = loop.build_qa_trainer(model, tokenizer, args, train, dynamic_padding=False)
            t.train()
        return clock.step_times(warmup, steps)

    def accelerate() -> list[float]:
        model = fresh()
        clock = StepClock(model)
        with tempfile.TemporaryDirectory() as tmp:
            loop.train_accelerate(model, tokenizer, train, train.select(range(batch)), None, tmp, qa,
                                  stop_after_steps=total, log=lambda *a: None)
        return clock.step_times(warmup, steps)

    # Rounds of (bare, Trainer, Accelerate); the best round of each counts (noise only slows).
    rounds = 1 if (quick or tiny) else 2
    runs: dict[str, list[list[float]]] = {"bare": [], "trainer": [], "accelerate": []}
    for _ in range(rounds):
        for key, fn in (("bare", bare), ("trainer", trainer), ("accelerate", accelerate)):
            runs[key].append(fn())
    best = {key: min(v, key=sum) for key, v in runs.items()}
    s_bare, s_trainer, s_acc = (sum(best[k]) / steps for k in ("bare", "trainer", "accelerate"))
    probe = fresh()
    flops_feature = encoder_flops_per_token(probe, max_length) * max_length
    settings = {"model": "tiny 1-layer BERT (tests)" if tiny else "bundled MiniLM-L6 + QA head", "params": sum(p.numel() for p in probe.parameters()),
                "source": source, "max_length": max_length, "padding": "max_length", "batch_size": batch,
                "timed_steps": steps, "warmup_steps": warmup, "rounds": rounds, "precision": "fp32", "dropout": 0.0,
                "flops_per_feature": flops_feature, "clock": "forward pre-hook"}
    rows = []
    for key, s in (("trainer", s_trainer), ("accelerate", s_acc)):
        fps, fps_bare = batch / s, batch / s_bare
        rows.append(result(
            f"train_qa_{key}", settings, s_bare, s, None,
            unit="seconds per step (reference = bare PyTorch loop)",
            features_per_s_bare=round(fps_bare, 2), features_per_s_ours=round(fps, 2),
            vs_bare=round(s_bare / s, 3),
            step_s_bare=[round(t, 3) for t in best["bare"]],
            step_s_ours=[round(t, 3) for t in best[key]],
            mfu_bare=round(fps_bare * flops_feature / 1e9 / peak, 3),
            mfu_ours=round(fps * flops_feature / 1e9 / peak, 3),
            matmul_peak_gflops=round(peak, 1),
            note=(f"{key}: {fps:.2f} features/s vs bare {fps_bare:.2f} ({s_bare / s:.0%}); MFU "
                  f"{fps * flops_feature / 1e9 / peak:.0%} vs {fps_bare * flops_feature / 1e9 / peak:.0%}"),
        ))
    return rows


def run(quick: bool = False, tiny: bool = False) -> list[dict[str, Any]]:
    from . import Skipped

    peak = matmul_peak_gflops(256 if tiny else 1024)
    rows: list[dict[str, Any]] = []
    for name, fn in (("train_clm", clm_rows), ("train_qa", qa_rows)):
        try:
            rows.extend(fn(quick, tiny, peak))
        except Skipped as exc:
            rows.append({"name": name, "skipped": str(exc)})
    return rows
