"""Inputs shared by several benchmarks: SQuAD records (real when ../shared/data is present, else
the bundled set), the bundled QA tokenizer, and the CPU's measured matmul peak."""
from __future__ import annotations

import functools
import time
from typing import Any

from . import SQUAD_DIR, Skipped

COLUMNS = ("id", "title", "context", "question", "answers")


def columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Records as the dict of columns that ``Dataset.map(batched=True)`` hands a function."""
    return {key: [r[key] for r in records] for key in COLUMNS}


def repeat_records(records: list[dict[str, Any]], times: int) -> list[dict[str, Any]]:
    """The same records `times` over, with fresh ids (post-processing groups windows by id)."""
    out = []
    for k in range(times):
        for r in records:
            out.append({**r, "id": f"{r['id']}#{k}" if k else r["id"]})
    return out


def _bundled(split: str) -> list[dict[str, Any]]:
    from course_utils.assets import bundled_data_path
    from course_utils.qa.data import read_squad_file

    try:
        path = bundled_data_path("qa", f"{split}.jsonl")
    except FileNotFoundError as exc:
        raise Skipped(f"no SQuAD data: ../shared/data/squad absent and {exc}") from None
    return read_squad_file(path)


def qa_train_records(tiny: bool = False) -> tuple[list[dict[str, Any]], str]:
    """Real SQuAD train questions (765) when present, else the bundled train split."""
    from course_utils.qa.data import read_squad_file

    path = SQUAD_DIR / "train-sample-v1.1.jsonl"
    if path.exists():
        records, source = read_squad_file(path), "shared squad train-sample-v1.1.jsonl"
    else:
        records, source = _bundled("train"), "bundled qa train.jsonl"
    return (records[:12] if tiny else records), source


def qa_dev_records(tiny: bool = False) -> tuple[list[dict[str, Any]], str]:
    """SQuAD v1.1 dev (10,570 questions) when present, else the bundled validation split."""
    from course_utils.qa.data import read_squad_file

    path = SQUAD_DIR / "dev-v1.1.json.gz"
    if path.exists():
        records, source = read_squad_file(path), "shared squad dev-v1.1.json.gz"
    else:
        records, source = _bundled("validation"), "bundled qa validation.jsonl"
    return (records[:16] if tiny else records), source


@functools.lru_cache(maxsize=None)
def qa_tokenizer():
    """The bundled MiniLM's fast WordPiece tokenizer (the course's bert-base-cased needs the Hub)."""
    try:
        from course_utils.qa.model import load_qa_tokenizer
    except ImportError as exc:  # pragma: no cover - qa.model is part of the package
        raise Skipped(f"course_utils.qa.model unavailable: {exc}") from None
    try:
        return load_qa_tokenizer("bundled")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise Skipped(f"bundled QA encoder unavailable: {exc}") from None


@functools.lru_cache(maxsize=None)
def matmul_peak_gflops(n: int = 1024, repeat: int = 5, dtype: str = "float32") -> float:
    """Best matmul rate of this CPU with torch's current threads, in `dtype`: the physical ceiling
    that model FLOPs utilisation (MFU) is measured against. bf16 needs its own ceiling: on a CPU
    with AMX it is ~8x the fp32 one."""
    import torch

    a = torch.randn(n, n, dtype=getattr(torch, dtype))
    b = torch.randn(n, n, dtype=getattr(torch, dtype))
    torch.mm(a, b)  # warm-up
    best = float("inf")
    inner = 8
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - start) / inner)
    return 2 * n**3 / best / 1e9


def matmul_peaks(n: int = 1024, rounds: int = 5) -> dict[str, dict[str, float]]:
    """The fp32 and bf16 matmul ceilings of this CPU, each measured `rounds` times (interleaved, so
    a burst of load from another job hits both): ``{"fp32"|"bf16": {"best", "median", "min",
    "spread"}}`` in GFLOP/s, ``spread`` = best / slowest round. MFU is taken against ``best`` of the
    precision a row trained in (bf16 is 8x fp32 with AMX, ~2x with AVX-512 BF16, slower without)."""
    import statistics

    got: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(rounds):
        got["fp32"].append(matmul_peak_gflops(n, repeat=1, dtype="float32"))
        got["bf16"].append(matmul_peak_gflops(n, repeat=1, dtype="bfloat16"))
    return {k: {"best": round(max(v), 1), "median": round(statistics.median(v), 1), "min": round(min(v), 1),
                "spread": round(max(v) / min(v), 2)} for k, v in got.items()}


@functools.lru_cache(maxsize=None)
def clm_corpus_and_tokenizer(quick: bool = False, tiny: bool = False):
    """The bundled code corpus (``DatasetDict(train, valid)``) and a byte-level BPE trained on its
    train split: every file in the full run, the first 300 scanned files with ``quick``, 40 when
    ``tiny``. Returns ``(raw, tokenizer, description)``; cached for the process."""
    try:
        from course_utils.clm.corpus import load_raw_datasets
        from course_utils.clm.tokenize import train_bpe_tokenizer
    except ImportError as exc:
        raise Skipped(f"course_utils.clm corpus/tokenize not available: {exc}") from None
    scan = 20 if tiny else 300 if quick else None
    vocab = 400 if tiny else 8000
    cfg = {"corpus_source": "bundled", "max_train_files": None, "max_valid_files": None,
           "max_scan_files": scan}
    raw = load_raw_datasets(cfg)
    tokenizer = train_bpe_tokenizer(raw["train"]["content"], vocab)
    what = (f"bundled corpus, {'first ' + str(scan) + ' scanned files' if scan else 'all files'}, "
            f"filtered: {len(raw['train'])} train / {len(raw['valid'])} valid; BPE {len(tokenizer)} trained here")
    return raw, tokenizer, what


def qa_model_factory(tiny: bool = False):
    """A function returning a fresh, seeded QA model: the bundled MiniLM (dropout 0, as the
    workshop profile) or, for the unit tests (``tiny``), a one-layer BERT of width 32 on the same
    vocabulary, so that the harness is exercised in a fraction of a second."""
    if not tiny:
        from course_utils.qa.model import load_qa_model

        return lambda: load_qa_model("bundled", dropout=0.0, seed=0)

    def tiny_model():
        import torch
        from transformers import BertConfig, BertForQuestionAnswering

        torch.manual_seed(0)
        cfg = BertConfig(vocab_size=len(qa_tokenizer()), hidden_size=32, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                         hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        return BertForQuestionAnswering(cfg)

    return tiny_model
