"""2b. QA training throughput: dynamic padding + length grouping against the course's pad-to-max_length.

Same model (the bundled MiniLM with a fresh QA head, same seed, dropout as the workshop profile),
same training windows (real SQuAD train questions at the course's max_length 384 / stride 128),
same batch size, same plain training step (forward, backward, AdamW); only the batches differ:

* reference (the course): every window padded to max_length, ``default_data_collator``, random
  order;
* ours: unpadded windows, ``course_utils.qa.loop.padding_collator(tokenizer, True)``
  (``DataCollatorWithPadding``, multiple of 8) and the ``LengthGroupedSampler`` order that
  ``Trainer``'s ``group_by_length`` uses.

A few dozen steps cannot cover an epoch, and the length-grouped order starts with its longest
batch, so the timed steps are spread evenly over each epoch order (every k-th batch). Figures:
features/s both ways, tokens per step, the epoch-wide token ratio that ``padding_stats``
predicts, and MFU against the CPU's measured matmul peak.

Identical: both ways give the same start/end labels for every window, and the same loss on the
same batch (to float tolerance: padding is masked, it only changes summation order).
"""
from __future__ import annotations

from typing import Any

from . import require_module, result
from ._inputs import columns, matmul_peak_gflops, qa_model_factory, qa_tokenizer, qa_train_records

NAME = "qa_padding"
MAX_LENGTH, STRIDE, BATCH = 384, 128, 8
MODEL_COLUMNS = ("input_ids", "token_type_ids", "attention_mask", "start_positions", "end_positions")


def encoder_flops_per_token(model: Any, seq_len: float) -> float:
    """Training FLOPs per token: 6 x (matmul parameters) + 12 x layers x seq_len x hidden
    (attention scores and weighted sum, forward + backward). Embedding lookups are not matmuls."""
    cfg = model.config
    n = sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)
    return 6 * n + 12 * cfg.num_hidden_layers * seq_len * cfg.hidden_size


def _rows(encoding: Any) -> list[dict[str, list[int]]]:
    keys = [k for k in MODEL_COLUMNS if k in encoding]
    return [dict(zip(keys, values)) for values in zip(*(encoding[k] for k in keys))]


def spread(order: list[int], n_batches: int, batch_size: int) -> list[list[int]]:
    """`n_batches` batches taken evenly across the epoch `order` (every k-th batch)."""
    batches = [order[i:i + batch_size] for i in range(0, len(order) - batch_size + 1, batch_size)]
    if not batches:
        raise ValueError(f"need at least {batch_size} windows for one batch, got {len(order)}")
    step = max(1, len(batches) // n_batches)
    return batches[::step][:n_batches]


def time_steps(model: Any, batches: list[dict[str, Any]], lr: float = 1e-5) -> tuple[list[float], list[int]]:
    """Seconds of each training step (the first batch is an untimed warm-up), and token counts."""
    import time

    import torch

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    times, tokens = [], []
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i > 0:
            times.append(time.perf_counter() - start)
            tokens.append(int(batch["input_ids"].numel()))
    return times, tokens


def run(quick: bool = False, tiny: bool = False) -> dict[str, Any]:
    import numpy as np
    import torch
    from transformers import default_data_collator
    from transformers.trainer_pt_utils import LengthGroupedSampler

    features = require_module("course_utils.qa.features", "preprocess_training_examples")
    loop = require_module("course_utils.qa.loop", "padding_collator", "padding_stats")
    require_module("course_utils.qa.model", "load_qa_model")
    max_length, stride, batch_size = (64, 16, 2) if tiny else (MAX_LENGTH, STRIDE, BATCH)
    n_steps = 2 if tiny else 4 if quick else 24
    records, source = qa_train_records(tiny)
    examples = columns(records)
    tokenizer = qa_tokenizer()
    padded = features.preprocess_training_examples(examples, tokenizer, max_length=max_length, stride=stride)
    dynamic = features.preprocess_training_examples(examples, tokenizer, max_length=max_length, stride=stride,
                                                    padding=False)
    same_labels = (list(padded["start_positions"]) == list(dynamic["start_positions"])
                   and list(padded["end_positions"]) == list(dynamic["end_positions"]))
    rows_padded, rows_dynamic = _rows(padded), _rows(dynamic)
    n = len(rows_padded)
    lengths = [len(r["input_ids"]) for r in rows_dynamic]

    # The two epoch orders: random (course) and length-grouped (ours, as Trainer builds it).
    rng = np.random.default_rng(0)
    random_order = rng.permutation(n).tolist()
    torch.manual_seed(0)
    grouped_order = list(LengthGroupedSampler(batch_size, lengths=lengths))
    collate = loop.padding_collator(tokenizer, True)
    ref_batches = [default_data_collator([rows_padded[i] for i in b])
                   for b in spread(random_order, n_steps + 1, batch_size)]
    our_batches = [collate([rows_dynamic[i] for i in b]) for b in spread(grouped_order, n_steps + 1, batch_size)]

    fresh_model = qa_model_factory(tiny)

    # Same batch of windows both ways: the loss must not depend on the padding.
    model = fresh_model().eval()
    probe = spread(grouped_order, 1, batch_size)[0]
    with torch.no_grad():
        loss_padded = float(model(**default_data_collator([rows_padded[i] for i in probe])).loss)
        loss_dynamic = float(model(**collate([rows_dynamic[i] for i in probe])).loss)
    same_loss = abs(loss_padded - loss_dynamic) <= 1e-4 * max(1.0, abs(loss_padded))

    # Alternate the two runs twice in the full run (best of 2), once otherwise.
    rounds = 1 if (quick or tiny) else 2
    best = {"reference": None, "ours": None}
    for _ in range(rounds):
        for key, batches in (("reference", ref_batches), ("ours", our_batches)):
            times, tokens = time_steps(fresh_model(), batches)
            if best[key] is None or sum(times) < sum(best[key][0]):
                best[key] = (times, tokens)
    (ref_times, ref_tokens), (our_times, our_tokens) = best["reference"], best["ours"]
    features_timed = batch_size * n_steps
    ref_fps = features_timed / sum(ref_times)
    our_fps = features_timed / sum(our_times)

    peak = matmul_peak_gflops(256 if tiny else 1024)
    probe_model = fresh_model()

    def mfu(times: list[float], tokens: list[int], batches: list[dict]) -> float:
        flops = sum(t * encoder_flops_per_token(probe_model, b["input_ids"].shape[1])
                    for t, b in zip(tokens, batches[1:]))
        return flops / sum(times) / 1e9 / peak

    stats = loop.padding_stats({"input_ids": dynamic["input_ids"]}, batch_size, max_length, group_by_length=True)
    return result(
        NAME,
        {"source": source, "examples": len(records), "windows": n, "max_length": max_length, "stride": stride,
         "batch_size": batch_size, "timed_steps": n_steps, "rounds": rounds,
         "model": "tiny 1-layer BERT (tests)" if tiny else "bundled MiniLM-L6 + QA head",
         "dropout": 0.0, "optimizer": "AdamW lr 1e-5", "collator_ours": "DataCollatorWithPadding(pad_to_multiple_of=8)",
         "order_ours": "LengthGroupedSampler", "order_reference": "random"},
        # Seconds for the same number of windows (timed_steps x batch_size) each way.
        sum(ref_times), sum(our_times), same_labels and same_loss,
        features_per_s_reference=round(ref_fps, 2),
        features_per_s_ours=round(our_fps, 2),
        tokens_per_step_reference=round(float(np.mean(ref_tokens)), 1),
        tokens_per_step_ours=round(float(np.mean(our_tokens)), 1),
        mean_window_length=round(float(np.mean(lengths)), 1),
        epoch_token_ratio_predicted=round(stats["token_ratio"], 3),
        identical_labels=same_labels,
        loss_padded=loss_padded,
        loss_dynamic=loss_dynamic,
        mfu_reference=round(mfu(ref_times, ref_tokens, ref_batches), 3),
        mfu_ours=round(mfu(our_times, our_tokens, our_batches), 3),
        matmul_peak_gflops=round(peak, 1),
        reference_step_s=[round(t, 3) for t in ref_times],
        ours_step_s=[round(t, 3) for t in our_times],
        note=(f"{our_fps:.1f} vs {ref_fps:.1f} features/s; tokens/step {np.mean(our_tokens):.0f} vs "
              f"{np.mean(ref_tokens):.0f} (epoch ratio {stats['token_ratio']:.2f}); "
              f"MFU {mfu(our_times, our_tokens, our_batches):.0%} vs {mfu(ref_times, ref_tokens, ref_batches):.0%}"),
    )
