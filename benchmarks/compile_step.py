"""7. ``torch.compile`` on a CPU: does compiling the training step pay back inside a workshop run?

For the workshop GPT-2 (``profiles`` workshop clm sizes: 4 layers, 256 wide, 4 heads, context
128, 8k vocabulary, batch 32) and the bundled MiniLM QA model (workshop qa sizes: batch 8 x 256
tokens, hidden dropout 0.1, embeddings frozen), in fp32 and under bf16 autocast, one training step
(forward, loss, backward, AdamW step) is timed

* eagerly (reference): median of the timed steps after warm-up, with the spread;
* compiled with ``torch.compile(model)`` (inductor, default mode): the first steps pay for
  compilation (forward and backward graphs), then the same median.

``compile_s`` = wall time of the compiled run's warm-up steps less as many eager steps: what
compilation costs on top. ``break_even_steps`` = ``compile_s`` / (eager - compiled seconds per
step): after that many steps compilation has paid for itself; compared with the steps a 10-minute
(``BUDGET_S``) notebook run does at the eager speed. Inputs are random token ids of the right
shapes: step speed does not depend on which tokens. ``identical`` is the first step's loss of both
(same seed, same batch) within 1e-3 relative (compilation reorders float sums).
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from . import require_module, result

NAME = "compile_step"
BUDGET_S = 600.0  # the workshop's time per training notebook


def _knob(section: Any, key: str) -> Any:
    """A profile knob, whether the section is a dict or a settings object."""
    return section[key] if isinstance(section, dict) or hasattr(section, "__getitem__") else getattr(section, key)


def gpt2_factory(tiny: bool) -> tuple[Callable[[], Any], Callable[[Any], dict[str, Any]], dict[str, Any]]:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from course_utils.profiles import get_profile

    clm = get_profile("workshop").clm
    sizes = {k: _knob(clm, k) for k in ("n_layer", "n_embd", "n_head", "context_length", "vocab_size", "batch_size", "dropout")}
    if tiny:
        sizes.update(n_layer=1, n_embd=32, n_head=2, context_length=16, vocab_size=100, batch_size=2)

    def make(attn: str | None) -> Any:
        torch.manual_seed(0)
        cfg = GPT2Config(vocab_size=sizes["vocab_size"], n_positions=sizes["context_length"], n_layer=sizes["n_layer"],
                         n_embd=sizes["n_embd"], n_head=sizes["n_head"], resid_pdrop=sizes["dropout"],
                         embd_pdrop=sizes["dropout"], attn_pdrop=sizes["dropout"],
                         activation_function="gelu_pytorch_tanh", attn_implementation=attn)
        return GPT2LMHeadModel(cfg)

    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, sizes["vocab_size"], (sizes["batch_size"], sizes["context_length"]), generator=gen)

    def batch(_model: Any) -> dict[str, Any]:
        return {"input_ids": ids, "labels": ids}

    return make, batch, {"model": "GPT-2 (workshop)", **sizes}


def qa_factory(tiny: bool) -> tuple[Callable[[], Any], Callable[[Any], dict[str, Any]], dict[str, Any]]:
    import torch

    from course_utils.profiles import get_profile

    qa = get_profile("workshop").qa
    sizes = {"batch_size": _knob(qa, "batch_size"), "max_length": _knob(qa, "max_length"),
             "dropout": _knob(qa, "dropout"), "attention_dropout": _knob(qa, "attention_dropout"),
             "freeze_embeddings": _knob(qa, "freeze_embeddings")}
    if tiny:
        from ._inputs import qa_model_factory

        fresh = qa_model_factory(tiny=True)
        sizes.update(batch_size=2, max_length=16)

        def make(attn: str | None) -> Any:
            return fresh()
    else:
        model_mod = require_module("course_utils.qa.model", "load_qa_model")

        def make(attn: str | None) -> Any:
            return model_mod.load_qa_model("bundled", dropout=sizes["dropout"], seed=0,
                                           attention_dropout=sizes["attention_dropout"],
                                           freeze_embeddings=sizes["freeze_embeddings"], attn_implementation=attn)

    gen = torch.Generator().manual_seed(0)
    b, n = sizes["batch_size"], sizes["max_length"]

    def batch(model: Any) -> dict[str, Any]:
        vocab = model.config.vocab_size
        return {"input_ids": torch.randint(1000 if vocab > 2000 else 0, vocab, (b, n), generator=gen),
                "attention_mask": torch.ones(b, n, dtype=torch.long),
                "start_positions": torch.randint(0, n, (b,), generator=gen),
                "end_positions": torch.randint(0, n, (b,), generator=gen)}

    return make, batch, {"model": "MiniLM-L6 QA (workshop)" if not tiny else "tiny BERT (tests)", **sizes}


def time_steps(model: Any, batch: dict[str, Any], precision: str, warmup: int, steps: int) -> tuple[list[float], list[float], float]:
    """(warm-up step seconds, timed step seconds, first loss) of plain training steps."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    times, first_loss = [], None
    torch.manual_seed(1)  # the same dropout masks in both runs' first step
    for _ in range(warmup + steps):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        if first_loss is None:
            first_loss = float(loss.detach())
    return times[:warmup], times[warmup:], first_loss


def payback(eager_s: float, compiled_s: float, compiled_warmup_s: list[float],
            budget_s: float = BUDGET_S) -> tuple[float, float | None, int, float]:
    """(compile seconds, break-even steps or None, steps an eager run does in `budget_s`, seconds
    a budget-long run saves by compiling: negative when compiling loses time).

    Compile seconds: the compiled run's warm-up steps less as many eager steps."""
    compile_s = sum(compiled_warmup_s) - len(compiled_warmup_s) * eager_s
    saving = eager_s - compiled_s
    budget_steps = int(budget_s / eager_s)
    break_even = compile_s / saving if saving > 0 else None
    return compile_s, break_even, budget_steps, saving * budget_steps - compile_s


def measure(name: str, factory: Callable, precision: str, tiny: bool, quick: bool) -> dict[str, Any]:
    import torch

    make, batch_of, settings = factory(tiny)
    warmup, steps = (1, 2) if tiny else (2, 5) if quick else (3, 10)
    attn = "eager" if precision == "bf16" else "sdpa"  # precision.attention_implementation's CPU rule
    eager_model = make(attn)
    batch = batch_of(eager_model)
    eager_warm, eager_steps, eager_loss = time_steps(eager_model, batch, precision, warmup, steps)
    del eager_model
    torch._dynamo.reset()
    compiled = torch.compile(make(attn))
    t0 = time.perf_counter()
    comp_warm, comp_steps, comp_loss = time_steps(compiled, batch, precision, warmup, steps)
    wall = time.perf_counter() - t0
    eager_s, comp_s = statistics.median(eager_steps), statistics.median(comp_steps)
    compile_s, break_even, budget_steps, net_s = payback(eager_s, comp_s, comp_warm)
    pays = break_even is not None and break_even < budget_steps
    label = "fp32" if precision == "no" else "bf16 autocast"
    return result(
        f"compile_{name}_{'fp32' if precision == 'no' else precision}",
        {**settings, "precision": label, "attn_implementation": attn, "warmup_steps": warmup, "timed_steps": steps,
         "compile": "torch.compile(model), inductor default mode", "budget_s": BUDGET_S},
        eager_s, comp_s, abs(eager_loss - comp_loss) <= 1e-3 * abs(eager_loss) + 1e-4 if precision == "no"
        else abs(eager_loss - comp_loss) <= 2e-2 * abs(eager_loss),
        unit="seconds per training step, median (reference = eager)",
        eager_step_s=[round(t, 4) for t in eager_steps], compiled_step_s=[round(t, 4) for t in comp_steps],
        eager_spread=round(max(eager_steps) / min(eager_steps), 2), compiled_spread=round(max(comp_steps) / min(comp_steps), 2),
        compile_s=round(compile_s, 1), compiled_warmup_s=[round(t, 2) for t in comp_warm], compiled_run_wall_s=round(wall, 1),
        break_even_steps=None if break_even is None else round(break_even),
        steps_in_budget=budget_steps, pays_back_in_budget=pays, net_saving_in_budget_s=round(net_s, 1),
        first_loss={"eager": round(eager_loss, 4), "compiled": round(comp_loss, 4)},
        note=(f"{label}: eager {eager_s:.3f} s/step, compiled {comp_s:.3f} ({eager_s / comp_s:.2f}x) after "
              f"{compile_s:.0f} s of compiling; " + (f"pays back after {break_even:.0f} steps of {budget_steps} in {BUDGET_S:.0f} s "
                                                     f"(net {net_s:+.0f} s)" if break_even is not None else "never pays back")),
    )


def run(quick: bool = False, tiny: bool = False, only: tuple[str, ...] = ("gpt2", "qa"),
        precisions: tuple[str, ...] = ("no", "bf16")) -> list[dict[str, Any]]:
    require_module("torch._dynamo", "reset")
    rows = []
    for name, factory in (("gpt2", gpt2_factory), ("qa", qa_factory)):
        if name not in only:
            continue
        for precision in precisions:
            rows.append(measure(name, factory, precision, tiny, quick))
    return rows


if __name__ == "__main__":  # one model/precision at a time keeps each locked run short
    import argparse
    import json

    from course_utils.profiles import configure_environment

    configure_environment(offline=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("gpt2", "qa"), action="append")
    parser.add_argument("--precision", choices=("no", "bf16"), action="append")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for model in args.model or ("gpt2", "qa"):
        for mixed in args.precision or ("no", "bf16"):  # each row printed as soon as it is measured
            print(json.dumps(run(args.quick, only=(model,), precisions=(mixed,))[0], default=str), flush=True)
