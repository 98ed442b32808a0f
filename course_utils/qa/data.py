"""SQuAD-format question answering data: where it comes from, and checking every record.

The course calls ``load_dataset("squad")``. Offline there is no Hub, so the same schema
(``id, title, context, question, answers{text[], answer_start[]}``) also comes from:

* ``"bundled"`` -- a SQuAD-format set this project writes itself (``tools/make_bundled_qa.py``),
  shipped as ``course_utils/data/qa/{train,validation}.jsonl``;
* a local file -- the official nested SQuAD v1.1 ``.json`` / ``.json.gz``, or a flat ``.jsonl`` /
  ``.json`` list of records in the Hugging Face ``squad`` schema;
* a local folder -- ``train.*`` and ``validation.*`` (or ``dev.*``) files as above, or a
  ``DatasetDict`` saved with ``save_to_disk`` (what ``python -m course_utils.prepare prepare`` writes);
* any other string -- a Hub id, loaded with the course's own ``load_dataset(source)``.

Why check records at all: a learner's own file with an answer that does not sit at
``answer_start`` would otherwise surface much later as a silently wrong label, or as an
``IndexError`` deep inside the label search. Here it is a ``ValueError`` naming the record.
"""
from __future__ import annotations

import gzip
import json
import logging
import os
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..assets import bundled_data_path, resolve_source
from ..settings import QaSettings, settings_from

__all__ = [
    "SPLITS",
    "REQUIRED_KEYS",
    "HELD_OUT_SHARE",
    "BadRecordError",
    "ValidationReport",
    "flatten_squad_v1",
    "read_squad_file",
    "check_record",
    "validate_records",
    "squad_features",
    "records_to_dataset",
    "load_qa_datasets",
    "answer_counts",
    "COURSE_PIPELINE_QUESTION",
    "worked_example",
    "reference_squad_file",
]

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation")
REQUIRED_KEYS = ("id", "title", "context", "question", "answers")
# A file given alone (no ``eval_source``) is split by article title: this share goes to validation.
HELD_OUT_SHARE = 0.1


class BadRecordError(ValueError):
    """A SQuAD record that cannot be used; the message names the record (id, split, position)."""


@dataclass
class ValidationReport:
    """What `validate_records` kept and what it skipped (only with ``on_bad="skip"``)."""

    split: str
    kept: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # record id -> reason

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def __str__(self) -> str:
        return f"{self.split}: kept {self.kept}, skipped {self.n_skipped}"


# --------------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------------
def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else open(path, encoding="utf-8")


def flatten_squad_v1(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The official nested format (``data[].paragraphs[].qas[]``) as flat `squad`-schema records."""
    if not isinstance(data, Mapping) or not isinstance(data.get("data"), list):
        raise ValueError("not a SQuAD v1.1 file: expected a JSON object with a 'data' list of articles")
    records = []
    for a, article in enumerate(data["data"]):
        title = article.get("title", "")
        for p, paragraph in enumerate(article.get("paragraphs", [])):
            context = paragraph.get("context")
            for qa in paragraph.get("qas", []):
                answers = qa.get("answers", [])
                if not isinstance(answers, list):
                    raise BadRecordError(f"record {qa.get('id')!r}: 'answers' must be a list in the nested format")
                records.append({
                    "id": qa.get("id"),
                    "title": title,
                    "context": context,
                    "question": qa.get("question"),
                    "answers": {
                        "text": [ans.get("text") for ans in answers],
                        "answer_start": [ans.get("answer_start") for ans in answers],
                    },
                })
    return records


def read_squad_file(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read one file: nested v1.1 ``.json``/``.json.gz`` or flat ``.jsonl``/``.json`` records."""
    path = Path(path)
    name = path.name.removesuffix(".gz")
    with _open_text(path) as f:
        if name.endswith(".jsonl"):
            records = []
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}: line {line_no} is not valid JSON ({err.msg})") from None
            return records
        if name.endswith(".json"):
            try:
                data = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
            if isinstance(data, list):
                return data
            return flatten_squad_v1(data)
    raise ValueError(f"{path}: unsupported file type; use .json, .json.gz, .jsonl or .jsonl.gz")


def _find_split_file(folder: Path, names: Iterable[str]) -> Path | None:
    for stem in names:
        for ext in (".jsonl", ".jsonl.gz", ".json", ".json.gz"):
            for candidate in (folder / f"{stem}{ext}", folder / f"{stem}-v1.1{ext}"):
                if candidate.exists():
                    return candidate
    return None


# --------------------------------------------------------------------------------------------
# Checking records
# --------------------------------------------------------------------------------------------
def _describe(record: Any, position: int, split: str) -> str:
    rid = record.get("id") if isinstance(record, Mapping) else None
    return f"{split} record {rid!r} (position {position})" if rid is not None else f"{split} record at position {position}"


def _check_text(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str):
        raise BadRecordError(f"{where}: {name} must be a string, got {type(value).__name__} {value!r:.60}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRecordError(f"{where}: {name} contains invalid unicode (a lone surrogate); "
                             "re-encode the file as UTF-8") from None
    return value


def _mismatch_hint(context: str, start: int, text: str) -> str:
    """Say *why* an answer is not at its position when the reason is a usual one."""
    for k in range(max(1, len(text) - 3), len(text) + 4):
        found = context[start:start + k]
        if unicodedata.normalize("NFC", found) == unicodedata.normalize("NFC", text):
            return " (they differ only in unicode normalisation: normalise context and answers the same way)"
        if " ".join(found.split()) == " ".join(text.split()):
            return " (they differ only in white space: keep the context's exact spaces in the answer)"
    if context.find(text) >= 0:
        return f" (the text occurs at {context.find(text)}: is answer_start off?)"
    return ""


def check_record(record: Any, position: int, split: str, one_answer: bool) -> None:
    """Raise `BadRecordError` (a ValueError) naming the record when it cannot be used.

    Checks: the five keys; id/title/context/question are strings of valid unicode; context and
    question not empty; answers are parallel lists of non-empty strings and integer starts; each
    answer text is exactly ``context[answer_start:answer_start + len(text)]``; and, in training
    data (``one_answer``), exactly one answer per question, as the course's label code assumes.
    """
    where = _describe(record, position, split)
    if not isinstance(record, Mapping):
        raise BadRecordError(f"{where}: expected a dict, got {type(record).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in record]
    if missing:
        raise BadRecordError(f"{where}: missing key(s) {', '.join(missing)}")
    _check_text(record["id"], "id", where)
    _check_text(record["title"], "title", where)
    context = _check_text(record["context"], "context", where)
    question = _check_text(record["question"], "question", where)
    if not context.strip():
        raise BadRecordError(f"{where}: empty context")
    if not question.strip():
        raise BadRecordError(f"{where}: empty question")
    answers = record["answers"]
    if not isinstance(answers, Mapping) or "text" not in answers or "answer_start" not in answers:
        raise BadRecordError(f"{where}: 'answers' must be a dict with lists 'text' and 'answer_start'")
    texts, starts = answers["text"], answers["answer_start"]
    if not isinstance(texts, (list, tuple)) or not isinstance(starts, (list, tuple)):
        raise BadRecordError(f"{where}: answers['text'] and answers['answer_start'] must be lists")
    if len(texts) != len(starts):
        raise BadRecordError(f"{where}: {len(texts)} answer texts but {len(starts)} answer_start values")
    if one_answer and len(texts) != 1:
        raise BadRecordError(f"{where}: a training example needs exactly one answer, found {len(texts)}")
    if not texts:
        raise BadRecordError(f"{where}: no answer (SQuAD v1.1 questions all have at least one)")
    for k, (text, start) in enumerate(zip(texts, starts)):
        _check_text(text, f"answer {k} text", where)
        if isinstance(start, bool) or not isinstance(start, int):
            raise BadRecordError(f"{where}: answer {k} answer_start must be an int, got {start!r:.30}")
        if not text.strip():
            raise BadRecordError(f"{where}: answer {k} is empty")
        if not 0 <= start <= len(context) - len(text):
            raise BadRecordError(
                f"{where}: answer {k} {text!r:.60} at answer_start={start} does not fit in the "
                f"context ({len(context)} characters)")
        found = context[start:start + len(text)]
        if found != text:
            raise BadRecordError(
                f"{where}: answer {k} text {text!r:.60} is not at answer_start={start}: the context "
                f"has {found!r:.60} there{_mismatch_hint(context, start, text)}")


def validate_records(records: Iterable[Any], split: str, on_bad: str = "raise") -> tuple[list[dict], ValidationReport]:
    """Check every record of a split. ``on_bad="raise"`` stops at the first bad record;
    ``on_bad="skip"`` drops bad records and counts them in the report (and a log warning).

    Training examples must have exactly one answer (``split == "train"``); validation examples
    may have several (SQuAD dev has up to six references per question).
    """
    if on_bad not in ("raise", "skip"):
        raise ValueError(f"on_bad must be 'raise' or 'skip', got {on_bad!r}")
    report = ValidationReport(split)
    kept = []
    seen: set[str] = set()
    for position, record in enumerate(records):
        try:
            check_record(record, position, split, one_answer=(split == "train"))
            if record["id"] in seen:
                raise BadRecordError(f"{_describe(record, position, split)}: duplicate id")
        except BadRecordError as err:
            if on_bad == "raise":
                raise
            key = str(record.get("id") if isinstance(record, Mapping) else position)
            report.skipped[key] = str(err)
            continue
        seen.add(record["id"])
        kept.append({k: record[k] for k in REQUIRED_KEYS})
    report.kept = len(kept)
    if report.n_skipped:
        logger.warning("skipped %d bad %s record(s); first: %s", report.n_skipped, split,
                       next(iter(report.skipped.values())))
    if not kept:
        raise ValueError(f"{split}: no usable records" + (f" ({report.n_skipped} skipped)" if report.n_skipped else ""))
    return kept, report


# --------------------------------------------------------------------------------------------
# Building datasets
# --------------------------------------------------------------------------------------------
def squad_features():
    """The `datasets.Features` of the Hub's `squad` dataset, so every source looks the same."""
    from datasets import Features, List, Value

    return Features({
        "id": Value("string"),
        "title": Value("string"),
        "context": Value("string"),
        "question": Value("string"),
        "answers": {"text": List(Value("string")), "answer_start": List(Value("int32"))},
    })


def records_to_dataset(records: list[dict[str, Any]]):
    """Flat records -> `datasets.Dataset` with the `squad` features."""
    from datasets import Dataset

    return Dataset.from_list(records, features=squad_features())


def _split_by_title(records: list[dict], seed: int) -> tuple[list[dict], list[dict]]:
    """Hold out whole articles (never the same paragraph on both sides), deterministically."""
    titles = sorted({r["title"] for r in records})
    if len(titles) < 2:
        raise ValueError("a single file can only be split into train/validation by article title, "
                         "and it has fewer than two titles: pass eval_source as well")
    rng = random.Random(seed)
    rng.shuffle(titles)
    n_held = max(1, round(HELD_OUT_SHARE * len(titles)))
    held = set(titles[:n_held])
    return [r for r in records if r["title"] not in held], [r for r in records if r["title"] in held]


def _local_splits(path: Path, seed: int) -> dict[str, list[dict]] | Any:
    if path.is_dir():
        if (path / "dataset_dict.json").exists():
            from datasets import load_from_disk

            return load_from_disk(str(path))
        train = _find_split_file(path, ("train",))
        valid = _find_split_file(path, ("validation", "valid", "dev"))
        if train is None or valid is None:
            raise FileNotFoundError(
                f"{path}: expected train.* and validation.* (or dev.*) SQuAD files "
                "(.jsonl, .json, .json.gz), or a DatasetDict saved with save_to_disk")
        return {"train": read_squad_file(train), "validation": read_squad_file(valid)}
    records = read_squad_file(path)
    train, valid = _split_by_title(records, seed)
    return {"train": train, "validation": valid}


def _raw_records(source: str, what: str, seed: int) -> dict[str, Any]:
    """Records (or Hub/disk datasets) per split for one source string."""
    src = resolve_source(source, what)
    if src.kind == "bundled":
        return {split: read_squad_file(bundled_data_path("qa", f"{split}.jsonl")) for split in SPLITS}
    if src.kind == "local":
        return _local_splits(Path(src.value), seed)
    from datasets import load_dataset

    return load_dataset(src.value)  # the course's own path, e.g. load_dataset("squad")


def _as_dataset(split: str, raw: Any, on_bad: str, validate: bool):
    """Records or a `Dataset` -> a checked `Dataset` with the `squad` features."""
    from datasets import Dataset

    if isinstance(raw, Dataset):
        if not validate:
            return raw, ValidationReport(split, kept=len(raw))
        records, report = validate_records(raw.to_list(), split, on_bad)
        if report.n_skipped == 0:
            return raw.cast(squad_features()) if raw.features != squad_features() else raw, report
        return records_to_dataset(records), report
    records, report = validate_records(raw, split, on_bad)
    return records_to_dataset(records), report


def load_qa_datasets(cfg: Any, *, on_bad: str = "raise", validate: bool | None = None):
    """The course's ``raw_datasets``: a ``DatasetDict`` with ``train`` and ``validation`` splits.

    ``cfg`` is a profile (``activate(...)``'s result) or a mapping with the ``qa`` keys:
    ``data_source`` (bundled | local file/folder | Hub id), optional ``eval_source`` (where the
    validation split comes from when it differs, e.g. the SQuAD dev file), ``max_train_examples``
    and ``max_eval_examples`` (first N, None = all).

    Every record is checked (see `check_record`); ``on_bad="skip"`` drops bad *training* records
    with a count instead of stopping (validation records always raise: a skipped reference would
    change the score). The reports are kept in ``datasets.validation_reports``. Hub datasets are
    trusted and not re-checked unless ``validate=True``.
    """
    from datasets import DatasetDict

    qa = settings_from(cfg, QaSettings)
    seed = int(getattr(cfg, "seed", 42))
    source = qa.data_source
    eval_source = qa.eval_source
    if eval_source not in (None, "", source):
        src = resolve_source(source, "qa_data_source")
        if src.kind == "local" and Path(src.value).is_file():
            raw = {"train": read_squad_file(src.value)}  # the whole file trains
        else:
            raw = dict(_raw_records(source, "qa_data_source", seed))
        raw["validation"] = _one_split(eval_source, "qa_eval_source", seed, "validation")
    else:
        raw = dict(_raw_records(source, "qa_data_source", seed))
    for split in SPLITS:
        if split not in raw:
            raise ValueError(f"{source}: no {split!r} split (found {', '.join(raw)})")
    limits = {"train": qa.max_train_examples, "validation": qa.max_eval_examples}
    out, reports = {}, {}
    for split in SPLITS:
        data = raw[split]
        limit = limits[split]
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"max_{'train' if split == 'train' else 'eval'}_examples must be a positive int or None, got {limit!r}")
        from_hub = hasattr(data, "select") and not isinstance(data, list) and resolve_source(
            eval_source if (split == "validation" and eval_source) else source, "qa_data_source").kind == "hub"
        if limit is not None:
            if from_hub and split == "train":  # SQuAD's train split is sorted by article: the course's
                data = data.shuffle(seed=seed)  # .shuffle().select() takes questions from all of them
            data = data.select(range(min(limit, len(data)))) if hasattr(data, "select") else data[:limit]
        check = validate if validate is not None else not from_hub
        out[split], reports[split] = _as_dataset(split, data, on_bad if split == "train" else "raise", check)
    extra = qa.extra_train_source
    if extra not in (None, ""):
        out["train"], reports["extra_train"] = _with_extra_train(out["train"], extra, source, seed, on_bad)
    result = DatasetDict(out)
    result.validation_reports = reports
    return result


def _with_extra_train(train, extra: str, source: str, seed: int, on_bad: str):
    """``train`` plus the train split of a second source, shuffled together.

    765 SQuAD questions are few; the bundled set's 600-odd questions of another style teach the
    same skill (find the span) and measurably raise SQuAD dev F1 (README). Validation is never
    taken from the extra source."""
    from datasets import concatenate_datasets

    if str(extra) == str(source):
        raise ValueError(f"qa_extra_train_source={extra!r} is the same as qa_data_source: it would train twice on it")
    records = _one_split(extra, "qa_extra_train_source", seed, "train")
    if len(records) == 0:
        raise ValueError(f"qa_extra_train_source={extra!r} has no training examples")
    hub = resolve_source(extra, "qa_extra_train_source").kind == "hub"
    added, report = _as_dataset("train", records, on_bad, validate=not hub)
    both = concatenate_datasets([train.cast(squad_features()), added.cast(squad_features())])
    return both.shuffle(seed=seed).flatten_indices(), report


def _one_split(source: str, what: str, seed: int, split: str) -> Any:
    """A single file is taken whole (e.g. SQuAD dev as ``eval_source``, a train sample as
    ``extra_train_source``); anything else contributes its own `split`."""
    src = resolve_source(source, what)
    if src.kind == "local" and Path(src.value).is_file():
        return read_squad_file(src.value)
    return _raw_records(source, what, seed)[split]


def answer_counts(dataset) -> dict[int, int]:
    """How many examples have 1, 2, 3... reference answers (train: all 1; SQuAD dev: 1 to 6)."""
    from collections import Counter

    counts = Counter(len(a["text"]) for a in dataset["answers"])
    return dict(sorted(counts.items()))


COURSE_PIPELINE_QUESTION = "Which deep learning libraries back 🤗 Transformers?"


def worked_example(question: str = COURSE_PIPELINE_QUESTION) -> dict[str, Any]:
    """The bundled training record the notebooks follow step by step: by default the one that
    mirrors the course's pipeline example (which libraries back 🤗 Transformers?). Read from the
    bundled file, so it is the same whatever source and subset the profile uses."""
    for record in read_squad_file(bundled_data_path("qa", "train.jsonl")):
        if record["question"] == question:
            return record
    raise KeyError(f"no bundled training question {question!r}")


def reference_squad_file(name: str = "dev-v1.1.json.gz") -> Path | None:
    """A file of real SQuAD kept *next to* the project (``../shared/data/squad``) for evaluation
    and tests, or None where it is absent (e.g. on Colab). Never copied into the project."""
    from ..profiles import PROJECT_ROOT

    path = PROJECT_ROOT.parent / "shared" / "data" / "squad" / name
    return path if path.exists() else None

