"""§6 step 2, "Preparing the dataset": a code tokenizer, and files cut into fixed-length chunks.

The course loads ``huggingface-course/code-search-net-tokenizer`` (GPT-2's byte-level BPE retrained
on Python in chapter 6). Offline we train the same kind of tokenizer with 🤗 ``tokenizers`` on the
training split, with ``<|endoftext|>`` as its end-of-text token, save it in the workspace and load
it back with ``AutoTokenizer`` (a fast tokenizer: chunking needs ``return_overflowing_tokens``).

Chunking, two ways:

* the course's: each file is cut into ``context_length`` pieces and only full pieces are kept, so
  every file loses its tail and files shorter than one chunk vanish;
* concatenate-then-chunk (``run_clm.py``'s ``group_texts``): files are joined with the EOS token
  and the stream is cut, so only the remainder of each mapped batch is lost.

``chunking_waste`` counts what each way throws away.
"""
from __future__ import annotations

import hashlib
import json
import time
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..settings import ClmSettings, settings_from

__all__ = [
    "CorpusRecordError",
    "check_texts",
    "EOS_TOKEN",
    "TOKENIZER_ARTEFACT",
    "TokenizerError",
    "ContextLengthError",
    "check_context_length",
    "check_tokenizer",
    "train_bpe_tokenizer",
    "training_texts",
    "load_or_train_tokenizer",
    "make_tokenize",
    "make_concat_chunk",
    "token_lengths",
    "chunking_waste",
    "tokenize_datasets",
    "DATASET_ARTEFACT",
    "prepare_lm_datasets",
    "plot_chunking",
]

EOS_TOKEN = "<|endoftext|>"
TOKENIZER_ARTEFACT = "clm-tokenizer"
_META = "corpus.json"


class CorpusRecordError(ValueError):
    """A row that cannot be tokenized: no text column, or a text that is not a string."""


class TokenizerError(ValueError):
    """The tokenizer cannot drive a causal LM here (no EOS token, a slow tokenizer ...)."""


class ContextLengthError(ValueError):
    """``context_length`` is not a positive int, or longer than the model's position table."""


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------
def check_context_length(context_length: Any, n_positions: int | None = None) -> int:
    """A positive int, no longer than the model's ``n_positions`` when that is given."""
    if isinstance(context_length, bool) or not isinstance(context_length, int):
        raise ContextLengthError(f"context_length must be an int, got {context_length!r}")
    if context_length < 2:
        raise ContextLengthError(
            f"context_length must be at least 2 (a token and the one to predict), got {context_length}"
        )
    if n_positions is not None and context_length > n_positions:
        raise ContextLengthError(
            f"context_length={context_length} is larger than the model's n_positions={n_positions}: "
            "the position table has no row for the later tokens"
        )
    return context_length


def check_tokenizer(tokenizer: Any) -> None:
    """Chunking needs a *fast* tokenizer (overflowing tokens) and an EOS token (to join files,
    and as the pad token of the collator later)."""
    if not getattr(tokenizer, "is_fast", False):
        raise TokenizerError(
            f"{type(tokenizer).__name__} is not a fast tokenizer: return_overflowing_tokens chunking "
            "needs one (load it with AutoTokenizer.from_pretrained(..., use_fast=True))"
        )
    if getattr(tokenizer, "eos_token", None) is None or getattr(tokenizer, "eos_token_id", None) is None:
        raise TokenizerError(
            f"the tokenizer has no EOS token: set one (tokenizer.eos_token = {EOS_TOKEN!r}, after adding "
            "it to the vocabulary) -- files are joined and padded with it"
        )


# --------------------------------------------------------------------------------------------
# Training a byte-level BPE offline
# --------------------------------------------------------------------------------------------
def _batches(texts: Iterable[str], size: int = 1000) -> Iterable[list[str]]:
    batch: list[str] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text {i} must be a str, got {type(text).__name__}")
        batch.append(text)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int = 2):
    """A GPT-2-style byte-level BPE trained on `texts`, wrapped as a ``PreTrainedTokenizerFast``.

    Byte-level: every byte is in the base alphabet, so nothing is ever unknown. The only special
    token is ``<|endoftext|>`` (BOS, EOS and UNK, as in GPT-2).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from ..profiles import quiet

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= len(alphabet) + 1:
        raise ValueError(
            f"vocab_size must be an int above {len(alphabet) + 1} (the 256 bytes plus {EOS_TOKEN}), "
            f"got {vocab_size!r}"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[EOS_TOKEN],
        initial_alphabet=alphabet, show_progress=not quiet(),
    )
    tok.train_from_iterator(_batches(texts), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOS_TOKEN, eos_token=EOS_TOKEN, unk_token=EOS_TOKEN
    )


def training_texts(texts: Sequence[str], max_chars: int | None) -> list[str]:
    """The first files of the (shuffled) training split up to `max_chars` characters: an 8k BPE
    learns the same merges from 15 MB as from 50 MB of code, in a third of the time."""
    if max_chars is None:
        return list(texts)
    out, total = [], 0
    for text in texts:
        if total >= max_chars:
            break
        out.append(text)
        total += len(text)
    return out


def _corpus_key(cfg: Any, raw) -> dict[str, Any]:
    """What the bundled tokenizer depends on: reuse a saved one only when all of it matches."""
    train = raw["train"]
    digest = hashlib.md5()
    # path and size of every file (content changes show up in the size; order does not matter)
    paths = train["path"] if "path" in train.column_names else [""] * len(train)
    sizes = [str(len(c)) for c in train["content"]]
    for item in sorted(f"{p}\0{n}" for p, n in zip(map(str, paths), sizes)):
        digest.update(item.encode("utf-8") + b"\n")
    clm = settings_from(cfg, ClmSettings)
    return {"vocab_size": clm.vocab_size, "train_chars": clm.tokenizer_train_chars,
            "train_files": len(train), "train_paths_md5": digest.hexdigest()}


def _saved_tokenizers(work: Path) -> list[Path]:
    from ..workspace import COMPLETE_MARKER

    parent = Path(work) / TOKENIZER_ARTEFACT
    if not parent.is_dir():
        return []
    return sorted((p for p in parent.iterdir() if (p / COMPLETE_MARKER).exists()), reverse=True)


def load_or_train_tokenizer(cfg: Any, raw, work: str | Path):
    """The tokenizer of ``clm.tokenizer_source``: a Hub id or a local folder is loaded; ``bundled``
    reuses the newest complete ``clm-tokenizer`` run of the workspace trained on the same files
    with the same vocabulary size, else trains one (seconds) into a new run folder."""
    from transformers import AutoTokenizer

    from ..assets import resolve_source
    from ..workspace import mark_complete, new_run_dir, shown_path

    clm = settings_from(cfg, ClmSettings)
    source = resolve_source(clm.tokenizer_source, "clm_tokenizer_source")
    if source.kind != "bundled":
        tokenizer = AutoTokenizer.from_pretrained(source.value)
        check_tokenizer(tokenizer)
        return tokenizer
    key = _corpus_key(cfg, raw)
    for run in _saved_tokenizers(Path(work)):
        try:
            meta = json.loads((run / _META).read_text())
        except (OSError, ValueError):
            continue
        if meta.get("key") == key:  # reused without a word: the notebook that trained it said so
            tokenizer = AutoTokenizer.from_pretrained(str(run))
            check_tokenizer(tokenizer)
            return tokenizer
    if clm.vocab_size is None:
        raise ValueError("clm_vocab_size is None: the bundled tokenizer needs a vocabulary size to train")
    start = time.perf_counter()
    texts = training_texts(raw["train"]["content"], clm.tokenizer_train_chars)
    trained = train_bpe_tokenizer(texts, int(clm.vocab_size))
    seconds = time.perf_counter() - start
    run = new_run_dir(work, TOKENIZER_ARTEFACT)
    trained.save_pretrained(str(run))
    (run / _META).write_text(json.dumps({"key": key, "train_seconds": round(seconds, 2)}, indent=1))
    mark_complete(run)
    print(f"trained a {len(trained)}-token byte-level BPE on {len(raw['train'])} files "
          f"in {seconds:.1f} s -> {shown_path(run)}")
    tokenizer = AutoTokenizer.from_pretrained(str(run))  # what later notebooks will load
    check_tokenizer(tokenizer)
    return tokenizer


# --------------------------------------------------------------------------------------------
# Chunking
# --------------------------------------------------------------------------------------------
def check_texts(element: Mapping[str, Any], content_key: str = "content") -> list[str]:
    """The batch's texts, checked the way the loaders check a corpus: the column exists and every
    row is a string. A bad row is named by its ``path`` (or position), not a tokenizer traceback."""
    if content_key not in element:
        raise CorpusRecordError(f"the batch has no {content_key!r} column (columns: {', '.join(element) or 'none'}): "
                                f"pass content_key= the name of the column that holds the code")
    texts = element[content_key]
    paths = element.get("path")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            where = f"path {paths[position]!r}" if paths is not None else f"position {position}"
            raise CorpusRecordError(f"record at {where}: {content_key!r} must be a string, got {type(text).__name__} "
                                    f"{text!r:.40}")
    return texts


def make_tokenize(tokenizer, context_length: int, content_key: str = "content") -> Callable[[Mapping], dict]:
    """The course's ``tokenize(element)``: cut each file into ``context_length`` chunks
    (``return_overflowing_tokens``) and keep only the full ones. For ``Dataset.map(batched=True)``."""
    check_tokenizer(tokenizer)
    check_context_length(context_length)

    def tokenize(element: Mapping[str, Any]) -> dict[str, list[list[int]]]:
        outputs = tokenizer(
            check_texts(element, content_key),
            truncation=True,
            max_length=context_length,
            return_overflowing_tokens=True,
            return_length=True,
        )
        input_batch = []
        for length, input_ids in zip(outputs["length"], outputs["input_ids"]):
            if length == context_length:
                input_batch.append(input_ids)
        return {"input_ids": input_batch}

    return tokenize


def make_concat_chunk(tokenizer, context_length: int, content_key: str = "content") -> Callable[[Mapping], dict]:
    """Concatenate-then-chunk: files joined with EOS, the stream cut into full chunks; only the
    remainder of each mapped batch is dropped (``run_clm.py``'s ``group_texts``)."""
    check_tokenizer(tokenizer)
    check_context_length(context_length)
    eos = tokenizer.eos_token_id

    def concat_chunk(element: Mapping[str, Any]) -> dict[str, list[list[int]]]:
        ids = tokenizer(check_texts(element, content_key))["input_ids"]
        stream = list(chain.from_iterable(seq + [eos] for seq in ids))
        usable = len(stream) // context_length * context_length
        return {"input_ids": [stream[i:i + context_length] for i in range(0, usable, context_length)]}

    return concat_chunk


def token_lengths(tokenizer, texts: Sequence[str], batch_size: int = 1000) -> list[int]:
    """Number of tokens of each text (no truncation): the histogram and the waste use it."""
    lengths: list[int] = []
    for batch in _batches(texts, batch_size):
        lengths.extend(len(ids) for ids in tokenizer(batch)["input_ids"])
    return lengths


def chunking_waste(lengths: Sequence[int], context_length: int, batch_size: int = 1000) -> dict[str, dict[str, float]]:
    """Tokens each chunking keeps and drops, from the files' token lengths.

    ``course``: a file of L tokens keeps ``L // c * c``. ``concat``: each batch of `batch_size`
    files (as ``map(batched=True)`` sees them) becomes ``sum(L + 1)`` tokens with the EOS
    separators, of which the last ``% c`` are dropped.
    """
    check_context_length(context_length)
    c = context_length
    total = int(sum(lengths))
    course_kept = sum(n // c * c for n in lengths)
    concat_kept = concat_dropped = 0
    for i in range(0, len(lengths), batch_size):
        joined = sum(n + 1 for n in lengths[i:i + batch_size])
        concat_kept += joined // c * c
        concat_dropped += joined % c
    return {
        "course": {"chunks": course_kept // c, "kept_tokens": course_kept, "dropped_tokens": total - course_kept,
                   "dropped_pct": 100 * (total - course_kept) / max(total, 1),
                   "files_dropped": sum(n < c for n in lengths)},
        "concat": {"chunks": concat_kept // c, "kept_tokens": concat_kept, "dropped_tokens": concat_dropped,
                   "dropped_pct": 100 * concat_dropped / max(total + len(lengths), 1),
                   "files_dropped": 0},
        "total_tokens": {"files": len(lengths), "tokens": total},
    }


def tokenize_datasets(raw, tokenizer, context_length: int, method: str = "course", num_proc: int | None = None,
                      batch_size: int = 1000):
    """Map either chunking over every split; each row of the result is one ``input_ids`` chunk of
    exactly `context_length` tokens. ``num_proc`` only where a split is big enough to repay the
    worker start-up."""
    from datasets import DatasetDict

    makers = {"course": make_tokenize, "concat": make_concat_chunk}
    if method not in makers:
        raise ValueError(f"method must be one of {sorted(makers)}, got {method!r}")
    from datasets import Features, Sequence as ArrowSequence, Value

    fn = makers[method](tokenizer, context_length)
    features = Features({"input_ids": ArrowSequence(Value("int32"))})  # half of int64's disk
    out = {}
    for split, ds in raw.items():
        # a worker costs ~1 s to start: only worth it for splits of many files
        procs = min(num_proc, len(ds) // 500) if num_proc and num_proc > 1 else 0
        out[split] = ds.map(fn, batched=True, batch_size=batch_size, remove_columns=ds.column_names,
                            num_proc=procs if procs > 1 else None, features=features,
                            desc=f"tokenizing {split}")
        if len(out[split]) == 0:
            raise ValueError(
                f"{split}: no chunk of {context_length} tokens: every file is shorter than context_length "
                "(use a smaller context_length, more files, or method='concat')"
            )
    return DatasetDict(out)


DATASET_ARTEFACT = "clm-dataset"


def _dataset_key(raw, tokenizer, context_length: int, method: str) -> dict[str, Any]:
    """Everything the chunked dataset depends on: the exact files (in order), the tokenizer and
    the chunking."""
    key: dict[str, Any] = {"tokenizer": str(tokenizer.name_or_path), "vocab": len(tokenizer),
                           "context_length": context_length, "method": method}
    for split, ds in raw.items():
        digest = hashlib.md5()
        cols = [c for c in ("path", "size") if c in ds.column_names]
        if cols:
            for row in zip(*(ds[c] for c in cols)):
                digest.update("\0".join(map(str, row)).encode("utf-8") + b"\n")
        else:
            for text in ds["content"]:
                digest.update(hashlib.md5(text.encode("utf-8")).digest())
        key[split] = [len(ds), digest.hexdigest()]
    return key


def prepare_lm_datasets(cfg: Any, work: str | Path, raw=None, method: str = "course", cache: bool = True):
    """Everything steps 1-2 hand to the model notebooks: ``(tokenizer, tokenized DatasetDict)``.

    ``tokenized["train"|"valid"]`` has one column, ``input_ids``, every row ``context_length``
    tokens long. The corpus (``clm-corpus``), the tokenizer (``clm-tokenizer``) and the chunked
    dataset (``clm-dataset``, reused only when files, tokenizer and chunking all match) are cached
    in the workspace and reused quietly, so notebooks 03-05 start in seconds.
    """
    from datasets import load_from_disk

    from ..workspace import COMPLETE_MARKER, mark_complete, new_run_dir
    from .corpus import load_raw_datasets

    clm = settings_from(cfg, ClmSettings)
    context_length = check_context_length(clm.context_length)
    if raw is None:
        raw = load_raw_datasets(cfg, work)
    tokenizer = load_or_train_tokenizer(cfg, raw, work)
    if not cache:
        return tokenizer, tokenize_datasets(raw, tokenizer, context_length, method=method,
                                            num_proc=clm.num_proc)
    key = _dataset_key(raw, tokenizer, context_length, method)
    parent = Path(work) / DATASET_ARTEFACT
    if parent.is_dir():
        for run in sorted((p for p in parent.iterdir() if (p / COMPLETE_MARKER).exists()), reverse=True):
            try:
                if json.loads((run / _META).read_text()).get("key") == key:  # reused quietly
                    return tokenizer, load_from_disk(str(run / "data"))
            except (OSError, ValueError):
                continue
    tokenized = tokenize_datasets(raw, tokenizer, context_length, method=method, num_proc=clm.num_proc)
    run = new_run_dir(work, DATASET_ARTEFACT)
    tokenized.save_to_disk(str(run / "data"))
    (run / _META).write_text(json.dumps({"key": key}, indent=1))
    mark_complete(run)
    return tokenizer, load_from_disk(str(run / "data"))


def plot_chunking(lengths: Sequence[int], context_length: int, batch_size: int = 1000):
    """Two panels: the files' token lengths (log scale) against `context_length`, and the tokens
    each chunking keeps and drops. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    waste = chunking_waste(lengths, context_length, batch_size)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    bins = np.logspace(0, np.log10(max(max(lengths), context_length) + 1), 40)
    left.hist(np.asarray(lengths) + 1, bins=bins, color="#4c72b0")
    left.axvline(context_length, color="#c44e52", linestyle="--", label=f"context_length = {context_length}")
    left.set_xscale("log")
    left.set_xlabel("tokens per file")
    left.set_ylabel("files")
    left.set_title(f"{len(lengths)} files, {waste['total_tokens']['tokens']:,} tokens")
    left.legend()
    names = ["course: full chunks per file", "concatenate with EOS, then chunk"]
    kept = [waste["course"]["kept_tokens"], waste["concat"]["kept_tokens"]]
    dropped = [waste["course"]["dropped_tokens"], waste["concat"]["dropped_tokens"]]
    right.barh(names, kept, color="#55a868", label="in chunks")
    right.barh(names, dropped, left=kept, color="#c44e52", label="dropped")
    for i, key in enumerate(("course", "concat")):
        right.text(kept[i], i, f" {waste[key]['dropped_pct']:.2f}% dropped", va="center")
    right.set_xlabel("tokens")
    right.legend(loc="lower right")
    right.set_title("what each chunking keeps")
    fig.tight_layout()
    return fig
