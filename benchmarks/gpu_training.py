"""GPU throughput at the course profile's sizes (only where a CUDA device is present).

The course trains GPT-2 small (124M parameters, context 128, batch 32) and fine-tunes
bert-base-cased for QA (max_length 384, batch 8) on a GPU. On a machine with one, this runs a
plain training loop (AdamW, bf16 autocast where the card supports it, else fp16) for a few hundred
steps of each and reports samples/s, tokens/s and MFU against the card's measured bf16 matmul
peak. The weights are freshly initialised from the configurations and the batches are seeded
random token ids: throughput does not depend on either, and the GPU machines cannot reach the Hub.
Skipped (with the reason) where there is no CUDA device. ``tiny`` runs a miniature on the CPU for
the unit tests.
"""
from __future__ import annotations

import time
from typing import Any

from . import Skipped, result

NAME = "gpu_training"


def _peak_tflops(device: str, dtype: Any, n: int) -> float:
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(5):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(10):
            a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - start) / 10)
    return 2 * n**3 / best / 1e12


def _train(model: Any, make_batch, steps: int, warmup: int, device: str, dtype: Any) -> float:
    """Seconds per step over `steps` steps after `warmup` untimed ones."""
    import torch

    model.to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=(device == "cuda"))
    autocast = torch.autocast(device_type=device, dtype=dtype, enabled=dtype is not None)
    start = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        batch = make_batch(i)
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    if device == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def _matmul_params(model: Any, skip: tuple[str, ...]) -> int:
    return sum(p.numel() for name, p in model.named_parameters() if p.ndim >= 2 and not any(s in name for s in skip))


def run(quick: bool = False, tiny: bool = False) -> list[dict[str, Any]]:
    import torch
    from transformers import BertConfig, BertForQuestionAnswering, GPT2Config, GPT2LMHeadModel

    if tiny:
        device, dtype = "cpu", None
    elif not torch.cuda.is_available():
        raise Skipped("no CUDA device here (GPT-2 124M / bert-base QA throughput needs a GPU machine)")
    else:
        device = "cuda"
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    card = torch.cuda.get_device_name(0) if device == "cuda" else "cpu (tiny test)"
    steps, warmup = (2, 1) if tiny else (30, 5) if quick else (300, 20)
    peak = _peak_tflops(device, dtype or torch.float32, 256 if tiny else 8192)
    gen = torch.Generator(device="cpu").manual_seed(0)
    rows = []

    # GPT-2 small, the course's sizes: context 128, batch 32, the code tokenizer's ~50k vocabulary.
    ctx, batch, vocab = (32, 2, 500) if tiny else (128, 32, 50_000)
    torch.manual_seed(0)
    gpt = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=ctx,
                                     **({"n_embd": 32, "n_layer": 1, "n_head": 2} if tiny else {})))
    ids = torch.randint(vocab, (8, batch, ctx), generator=gen)

    def gpt_batch(i: int) -> dict[str, Any]:
        x = ids[i % len(ids)].to(device)
        return {"input_ids": x, "labels": x}

    s = _train(gpt, gpt_batch, steps, warmup, device, dtype)
    cfg = gpt.config
    flops_tok = 6 * _matmul_params(gpt, ("wpe",)) + 12 * cfg.n_layer * ctx * cfg.n_embd
    tok_s = batch * ctx / s
    rows.append(result(
        "gpu_gpt2_124m" if not tiny else "gpu_gpt2_tiny",
        {"device": card, "dtype": str(dtype), "params": sum(p.numel() for p in gpt.parameters()),
         "context": ctx, "batch_size": batch, "timed_steps": steps, "warmup_steps": warmup,
         "data": "seeded random token ids", "optimizer": "AdamW (fused on GPU), clip 1.0"},
        None, s, None,
        samples_per_s=round(batch / s, 1), tokens_per_s=round(tok_s), step_s=round(s, 5),
        mfu=round(tok_s * flops_tok / 1e12 / peak, 3), matmul_peak_tflops=round(peak, 1),
        note=f"{card}: {batch / s:.0f} samples/s, {tok_s:,.0f} tok/s, MFU {tok_s * flops_tok / 1e12 / peak:.0%} of {peak:.0f} TFLOP/s",
    ))
    del gpt

    # bert-base QA, the course's sizes: max_length 384, batch 8, cased vocabulary (28,996).
    seq, batch, vocab = (64, 2, 500) if tiny else (384, 8, 28_996)
    torch.manual_seed(0)
    bert = BertForQuestionAnswering(BertConfig(vocab_size=vocab, **(
        {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64} if tiny else {})))
    qa_ids = torch.randint(vocab, (8, batch, seq), generator=gen)
    spans = torch.randint(seq, (8, batch, 2), generator=gen).sort(dim=-1).values

    def qa_batch(i: int) -> dict[str, Any]:
        k = i % len(qa_ids)
        return {"input_ids": qa_ids[k].to(device), "attention_mask": torch.ones(batch, seq, dtype=torch.long, device=device),
                "start_positions": spans[k, :, 0].to(device), "end_positions": spans[k, :, 1].to(device)}

    s = _train(bert, qa_batch, steps, warmup, device, dtype)
    cfg = bert.config
    flops_tok = 6 * _matmul_params(bert, ("embeddings",)) + 12 * cfg.num_hidden_layers * seq * cfg.hidden_size
    tok_s = batch * seq / s
    rows.append(result(
        "gpu_bert_base_qa" if not tiny else "gpu_bert_tiny_qa",
        {"device": card, "dtype": str(dtype), "params": sum(p.numel() for p in bert.parameters()),
         "max_length": seq, "batch_size": batch, "timed_steps": steps, "warmup_steps": warmup,
         "data": "seeded random token ids", "optimizer": "AdamW (fused on GPU), clip 1.0"},
        None, s, None,
        samples_per_s=round(batch / s, 1), tokens_per_s=round(tok_s), step_s=round(s, 5),
        mfu=round(tok_s * flops_tok / 1e12 / peak, 3), matmul_peak_tflops=round(peak, 1),
        note=f"{card}: {batch / s:.0f} features/s, MFU {tok_s * flops_tok / 1e12 / peak:.0%} of {peak:.0f} TFLOP/s",
    ))
    return rows
