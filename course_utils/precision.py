"""Mixed precision: which number format trains fastest on the machine at hand.

The course hard-codes ``fp16=True``, which only works on a CUDA GPU. Both tracks here take one
setting instead, ``mixed_precision`` (a profile knob and a notebook parameter):

* ``"auto"``: bf16 on a GPU that has it, else fp16; on a CPU, whichever of fp32 and bf16 autocast
  a short measurement on this machine finds fastest (see below);
* ``"no"``, ``"bf16"``, ``"fp16"``: exactly that (fp16 needs a CUDA GPU).

On an Apple-silicon Mac the device is MPS (``device_type()``; ``Trainer`` and ``Accelerator`` pick
it themselves) and ``"auto"`` keeps fp32 there: no faster mixed mode is known to train correctly on
MPS with these libraries, so none is switched on by default.

Why measure on a CPU: whether bf16 pays depends on the chip, not on a flag. On the 2-core Xeon
(Sapphire Rapids, AMX) this project was first measured on, bf16 matrices multiplied about 8x
faster than fp32 (3.3 vs 0.42 TFLOP/s); a 2-core AMD EPYC (Zen 4) without AMX but with AVX-512 BF16
multiplies them about 2x faster (~400 vs ~190 GFLOP/s); a CPU with neither emulates bf16 and an
earlier machine measured it *slower* (189 vs 357 GFLOP/s). A rule on AMX alone left the EPYC in
fp32, twice as slow as it could be. So ``"auto"`` on a CPU runs :func:`probe_cpu_precision`: it
times the forward and backward products of the model's own matrix shapes (``Linear`` layers, at
:data:`PROBE_TOKENS` rows) in fp32 and under bf16 autocast, interleaved, best of
:data:`PROBE_REPEATS` (about 0.5 s on the 2-core EPYC, plus the one-off start-up of torch's
thread pool and autograd that the training would pay anyway), checks that bf16 *trains correctly* (see
:func:`trains_correctly`), and takes bf16 only when it is at least :data:`MIN_SPEEDUP` times faster
(a near tie goes to the exact format). fp16 is not a CPU candidate: Accelerate and ``Trainer`` run
it only on accelerators (it needs a gradient scaler), and CPUs have no fast fp16 products outside AMX-FP16.

The decision is cached per machine (CPU model, torch version, threads and the probed shapes) in
``~/.cache/nlp-course-companion/precision.json`` (``COURSE_PRECISION_CACHE`` names another file;
delete it to measure again), so every later run and notebook on the machine agrees, and it is
printed once per process with the speeds it was based on (in a batch run only when measured:
nobody reads the same cached line in every notebook). Weights stay fp32 either way
(autocast): only the matrix products run in bf16, which is why training quality holds (README).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

MIXED_PRECISION_CHOICES = ("auto", "no", "bf16", "fp16")
CPU_CANDIDATES = ("no", "bf16")  # what Accelerate and Trainer can train with on a CPU
PROBE_TOKENS = 256  # rows of every probed product (a batch's tokens, capped: measured the same GFLOP/s at 128, 256, 512)
PROBE_REPEATS = 3  # timed rounds per mode, after one untimed warm-up; the best counts (noise only slows)
MAX_SPREAD = 1.5  # slowest / fastest round of a mode above this: the machine was busy, the decision is not cached
MIN_SPEEDUP = 1.10  # bf16 must beat fp32 by 10% to be chosen: closer than that is within noise
# (in, out) of the workshop's two models when no model is given: GPT-2 256 wide, 4x MLP, 8k
# vocabulary head; MiniLM 384 wide, 1536 MLP (profiles.PROFILES["workshop"]).
DEFAULT_SHAPES: tuple[tuple[int, int], ...] = ((256, 768), (256, 256), (256, 1024), (1024, 256), (256, 8000),
                                               (384, 384), (384, 1536), (1536, 384))
CACHE_ENV = "COURSE_PRECISION_CACHE"

__all__ = ["CACHE_ENV", "CPU_CANDIDATES", "DEFAULT_SHAPES", "MIXED_PRECISION_CHOICES", "MIN_SPEEDUP", "ProbeResult",
           "attention_implementation", "autocast", "choose", "cpu_flags", "cpu_has_amx", "cpu_model",
           "cpu_precision_choice", "device_type", "machine_key", "matmul_shapes", "precision_cache_path",
           "probe_cpu_precision", "product_flops", "product_round", "resolve_mixed_precision",
           "trainer_precision_kwargs", "trains_correctly"]


def device_type() -> str:
    """Where training runs: ``"cuda"``, else ``"mps"`` (Apple silicon), else ``"cpu"``."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def cpu_has_amx() -> bool:
    """True where this CPU has AMX tiles (the unit that makes bf16 matmuls fast), as PyTorch sees it."""
    import torch

    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    try:
        return bool(probe()) if probe is not None else False
    except Exception:  # a PyTorch build without the probe, or a CPU it cannot query
        return False


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``'s ``model name``; elsewhere what Python knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_flags() -> dict[str, bool | None]:
    """The instruction-set features that decide bf16 speed: AMX (tiles, Intel), AVX-512 BF16
    (``vdpbf16ps``), AVX2; from ``/proc/cpuinfo`` (None where it cannot be read, e.g. macOS)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    if not flags:
        return {"amx": cpu_has_amx(), "avx512_bf16": None, "avx2": None}
    return {"amx": "amx_tile" in flags or cpu_has_amx(), "avx512_bf16": "avx512_bf16" in flags, "avx2": "avx2" in flags}


# ----------------------------------------------------------------------------------------------
# The probe
# ----------------------------------------------------------------------------------------------
def matmul_shapes(model: Any) -> tuple[tuple[int, int], ...]:
    """The distinct ``(in, out)`` sizes of `model`'s matrix products: every ``nn.Linear`` and
    GPT-2's ``Conv1D`` (whose weight is stored ``(in, out)``), the tied output head included."""
    import torch

    shapes: list[tuple[int, int]] = []
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if isinstance(module, torch.nn.Linear):
            shape = (module.in_features, module.out_features)
        elif type(module).__name__ == "Conv1D" and weight is not None and weight.ndim == 2:
            shape = (int(weight.shape[0]), int(weight.shape[1]))
        else:
            continue
        if shape not in shapes:
            shapes.append(shape)
    if not shapes:
        raise ValueError(f"{type(model).__name__} has no Linear/Conv1D layers whose products could be timed")
    return tuple(shapes)


def _check_shapes(shapes: Iterable[Sequence[int]]) -> tuple[tuple[int, int], ...]:
    out = []
    for shape in shapes:
        if len(shape) != 2 or not all(isinstance(n, int) and n > 0 for n in shape):
            raise ValueError(f"probe shapes are (in, out) pairs of positive ints, got {shape!r}")
        out.append((int(shape[0]), int(shape[1])))
    if not out:
        raise ValueError("probe shapes must not be empty")
    return tuple(out)


def product_round(mode: str, shapes: Sequence[tuple[int, int]], tokens: int = PROBE_TOKENS) -> Callable[[], None]:
    """One round of forward + backward through ``Linear`` layers of `shapes` on `tokens` rows, under
    bf16 autocast for ``"bf16"`` (weights fp32, cast per call as in training), ready to time.

    Only the products are timed: they are where bf16 can win (or lose) on a CPU; the rest of a
    step (norms, softmax, the optimizer) stays fp32 under autocast either way."""
    import torch

    if mode not in CPU_CANDIDATES:
        raise ValueError(f"a CPU probe times {CPU_CANDIDATES}, got {mode!r}")
    torch.manual_seed(0)
    layers = [torch.nn.Linear(i, o) for i, o in shapes]
    xs = [torch.randn(tokens, i, requires_grad=True) for i, _ in shapes]
    grads = [torch.randn(tokens, o) for _, o in shapes]
    use_bf16 = mode == "bf16"

    def one_round() -> None:
        for layer, x, g in zip(layers, xs, grads):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                y = layer(x)
            y.backward(g.to(y.dtype))

    one_round()  # warm-up: oneDNN picks and caches its kernels on the first call
    return one_round


def product_flops(shapes: Sequence[tuple[int, int]], tokens: int = PROBE_TOKENS) -> float:
    """Floating-point operations of one round: 3 products (forward, input and weight gradient) of
    2 x tokens x in x out each."""
    return float(sum(6 * tokens * i * o for i, o in shapes))


def trains_correctly(mode: str, steps: int = 20) -> bool:
    """Does a small model train as it should under `mode`? The documented check: a seeded two-layer
    MLP fitting a fixed random regression with Adam must (1) bring its loss under half of the
    starting loss in `steps` steps, and (2) end within 10% (relative) of the loss the same run
    reaches in fp32. A format whose products are broken or too coarse fails one of the two."""
    import torch

    def run(use_bf16: bool) -> tuple[float, float]:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(128, 64, generator=gen)
        y = torch.tanh(x @ torch.randn(64, 1, generator=gen))
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
        opt = torch.optim.Adam(net.parameters(), lr=1e-2)
        losses = []
        for _ in range(steps):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
                out = net(x)
            loss = torch.nn.functional.mse_loss(out.float(), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses[0], losses[-1]

    if mode not in CPU_CANDIDATES:
        raise ValueError(f"the CPU training check knows {CPU_CANDIDATES}, got {mode!r}")
    first, last = run(mode == "bf16")
    ok = last == last and last < 0.5 * first  # `last == last`: not NaN
    if mode != "no":
        _, reference = run(False)
        ok = ok and abs(last - reference) <= 0.10 * reference + 1e-4
    return bool(ok)


@dataclass(frozen=True)
class ProbeResult:
    """What the probe measured and chose on one machine."""

    choice: str  # "no" or "bf16"
    gflops: dict[str, float]  # measured GFLOP/s of the probed products per mode
    trains: dict[str, bool]  # per mode: passed `trains_correctly`
    seconds: float  # the probe's own wall time
    spread: dict[str, float] = field(default_factory=dict)  # per mode: slowest / fastest timed round
    key: str = ""  # machine_key(...) it was cached under
    measured_at: str = ""
    shapes: list[list[int]] = field(default_factory=list)

    def summary(self) -> str:
        speeds = ", ".join(f"{'fp32' if m == 'no' else m} {g:,.0f} GFLOP/s{'' if self.trains.get(m, True) else ' (failed the training check)'}"
                           for m, g in self.gflops.items())
        ratio = self.gflops.get("bf16", 0.0) / self.gflops["no"] if self.gflops.get("no") else float("nan")
        chosen = "bf16 autocast" if self.choice == "bf16" else "fp32"
        return (f"mixed_precision='auto' on this CPU -> {chosen}: probe of the model's matrix products {speeds} "
                f"(bf16/fp32 {ratio:.2f}x; bf16 needs >= {MIN_SPEEDUP:.2f}x and to pass the training check)")

    @property
    def steady(self) -> bool:
        """True when each mode's rounds agree within :data:`MAX_SPREAD` (a quiet machine)."""
        return all(v <= MAX_SPREAD for v in self.spread.values())


def choose(gflops: dict[str, float], trains: dict[str, bool], min_speedup: float = MIN_SPEEDUP) -> str:
    """The rule: the fastest mode that trains correctly, where a mode other than fp32 must beat
    fp32 by `min_speedup`. fp32 is the fallback (it is the reference the check compares with)."""
    if "no" not in gflops or gflops["no"] <= 0:
        raise ValueError(f"the probe needs a positive fp32 ('no') rate, got {gflops!r}")
    best, best_rate = "no", gflops["no"]
    for mode, rate in gflops.items():
        if mode != "no" and trains.get(mode, False) and rate >= min_speedup * gflops["no"] and rate > best_rate:
            best, best_rate = mode, rate
    return best


def probe_cpu_precision(shapes: Iterable[Sequence[int]] | None = None, *,
                        timer: Callable[[str, Sequence[tuple[int, int]]], float] | None = None,
                        check: Callable[[str], bool] | None = None) -> ProbeResult:
    """Time fp32 and bf16 autocast on `shapes` (default: :data:`DEFAULT_SHAPES`) and choose.

    `timer(mode, shapes)` returns the seconds of one timed round and `check(mode)` says whether
    the mode trains correctly; both default to the real measurements and are injected by the tests.
    Rounds of the two modes alternate, so a burst of load from another process hurts both alike.
    """
    shapes = _check_shapes(DEFAULT_SHAPES if shapes is None else shapes)
    start = time.perf_counter()
    if timer is None:
        rounds = {m: product_round(m, shapes) for m in CPU_CANDIDATES}

        def timer(mode: str, _shapes: Sequence[tuple[int, int]]) -> float:
            t0 = time.perf_counter()
            rounds[mode]()
            return time.perf_counter() - t0
    check = check or trains_correctly
    times: dict[str, list[float]] = {m: [] for m in CPU_CANDIDATES}
    for _ in range(PROBE_REPEATS):
        for mode in CPU_CANDIDATES:
            times[mode].append(float(timer(mode, shapes)))
    if any(min(t) <= 0 for t in times.values()):
        raise ValueError(f"the probe's timer must return positive seconds, got {times!r}")
    flops = product_flops(shapes)
    rates = {m: flops / min(t) / 1e9 for m, t in times.items()}
    spread = {m: round(max(t) / min(t), 2) for m, t in times.items()}
    trains = {m: check(m) for m in CPU_CANDIDATES}
    return ProbeResult(choice=choose(rates, trains), gflops={m: round(r, 3) for m, r in rates.items()}, trains=trains, spread=spread,
                       seconds=round(time.perf_counter() - start, 3), shapes=[list(s) for s in shapes])


# ----------------------------------------------------------------------------------------------
# The per-machine cache
# ----------------------------------------------------------------------------------------------
def precision_cache_path() -> Path:
    """``$COURSE_PRECISION_CACHE``, else the project's cache folder shared by every run on the machine."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "nlp-course-companion" / "precision.json"


def machine_key(shapes: Iterable[Sequence[int]] | None = None) -> str:
    """What a decision holds for: CPU model, torch version, torch threads, and the probed shapes."""
    import torch

    shapes = _check_shapes(DEFAULT_SHAPES if shapes is None else shapes)
    digest = hashlib.sha1(json.dumps([list(s) for s in shapes]).encode()).hexdigest()[:10]
    return f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads | shapes {digest}"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):  # absent or half-written: measure again
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def _locked(path: Path):
    """One process probes at a time (two ranks of `accelerate launch` must not time each other
    and then disagree); the others wait and read its decision. No lock where fcntl is absent."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_DECIDED: dict[str, ProbeResult] = {}  # this process's decisions, so the cache file is read once


def _cached_cpu_choice(shapes: Iterable[Sequence[int]] | None) -> ProbeResult:
    key = machine_key(shapes)
    if key in _DECIDED:
        return _DECIDED[key]
    path = precision_cache_path()
    with _locked(path):
        entry = _read_cache(path).get(key)
        source = "cached"
        try:
            result = ProbeResult(**entry) if isinstance(entry, dict) else None
        except TypeError:  # an entry from another version of this module
            result = None
        if result is None or result.choice not in CPU_CANDIDATES:
            result = probe_cpu_precision(shapes)
            result = ProbeResult(**{**asdict(result), "key": key,
                                    "measured_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds")})
            source = f"measured in {result.seconds:.2f} s"
            if result.steady:
                data = _read_cache(path)
                data[key] = asdict(result)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                tmp.write_text(json.dumps(data, indent=1))
                os.replace(tmp, path)  # atomic: a reader never sees half a file
            else:  # another job loaded the CPU: good for this process, measured again next time
                source += f" on a busy machine (rounds differed up to {max(result.spread.values()):.1f}x), not cached,"
    _DECIDED[key] = result
    from .profiles import quiet
    from .workspace import shown_path

    if source == "cached" and quiet():  # a batch run: the notebook that measured it said so
        return result
    where = f"in {shown_path(path)} (delete it to measure again)" if result.steady else "this process only"
    print(f"{result.summary()}; {source} {result.measured_at} for {key.split(' | shapes')[0]}, {where}", flush=True)
    return result


def cpu_precision_choice(shapes: Iterable[Sequence[int]] | None = None) -> str:
    """What ``"auto"`` means on this CPU: ``"bf16"`` or ``"no"``, from the per-machine cache, or
    measured now by :func:`probe_cpu_precision` (and printed, once per process). Tests replace this
    function to pretend a CPU of either kind."""
    return _cached_cpu_choice(shapes).choice


def resolve_mixed_precision(setting: str | None = "auto", *, shapes: Iterable[Sequence[int]] | None = None) -> str:
    """``"auto"`` (or None) turned into ``"bf16"``, ``"fp16"`` or ``"no"`` for this machine.

    On a GPU: bf16 where supported, else fp16. On a CPU: the probe's cached decision for `shapes`
    (``(in, out)`` of the model's products, :func:`matmul_shapes`; default the workshop models').
    An explicit choice is checked, so a typo or fp16 on a CPU fails here with the reason instead of
    deep inside ``TrainingArguments`` or ``Accelerator``.
    """
    import torch

    choice = "auto" if setting is None else str(setting).strip().lower()
    if choice not in MIXED_PRECISION_CHOICES:
        raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION_CHOICES}, got {setting!r}")
    device = device_type()
    gpu = device == "cuda"
    if choice == "auto":
        if gpu:  # without emulation: a T4 (sm75) "supports" bf16 only emulated, far slower than fp16
            return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
        if device == "mps":
            return "no"
        return cpu_precision_choice(shapes)
    if choice == "fp16" and not gpu:
        raise ValueError("mixed_precision='fp16' needs a CUDA GPU; on a CPU use 'bf16' or 'no' (or 'auto')")
    return choice


def trainer_precision_kwargs(precision: str) -> dict[str, Any]:
    """The ``TrainingArguments`` flags for a resolved precision.

    ``TrainingArguments(bf16=True)`` without a GPU is refused unless ``use_cpu=True`` says the CPU
    is meant, so that flag comes along on a CPU.
    """
    precision = resolve_mixed_precision(precision)
    kwargs: dict[str, Any] = {"fp16": precision == "fp16", "bf16": precision == "bf16"}
    if precision == "bf16" and device_type() == "cpu":
        kwargs["use_cpu"] = True
    return kwargs


def autocast(precision: str, model: Any) -> Any:
    """``torch.autocast`` for `model`'s device at a resolved precision (a no-op context for ``"no"``):
    what ``Trainer`` and ``Accelerator`` wrap the forward pass in, for hand-written timing loops."""
    import torch

    precision = resolve_mixed_precision(precision)
    on = next(model.parameters()).device.type
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(on, dtype=dtype, enabled=precision != "no")


def attention_implementation(setting: str | None, precision: str | None = "auto") -> str | None:
    """The ``attn_implementation`` to build a model with; ``"auto"`` decides by the precision.

    Measured here per training step (QA batch 8 x 200 / GPT-2 batch 32 x 128): in bf16 on the CPU
    ``"eager"`` beat PyTorch's fused ``"sdpa"`` (0.30 vs 0.33 s / 0.39 vs 0.45 s); in fp32 ``"sdpa"``
    won (0.49 vs 0.54 s / 0.67 vs 0.69 s). On a GPU ``"sdpa"`` is the fast one. So ``"auto"`` gives
    ``"eager"`` only for bf16 on a CPU, and None (the transformers default) otherwise.
    """
    import torch

    if setting not in (None, "auto", "eager", "sdpa"):
        raise ValueError(f"attn_implementation must be None, 'auto', 'eager' or 'sdpa', got {setting!r}")
    if setting != "auto":
        return setting
    cpu_bf16 = resolve_mixed_precision(precision) == "bf16" and not torch.cuda.is_available()
    return "eager" if cpu_bf16 else None
