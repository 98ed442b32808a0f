"""The knobs of each track, typed, with their defaults written once: the course's own values.

``ClmSettings`` (§6) and ``QaSettings`` (§7) are frozen dataclasses: every field has a type, a
default taken from the course and a one-line ``help`` (the same ``field(metadata={"help": ...})``
convention as the transformers examples' argument dataclasses). A profile
(:mod:`course_utils.profiles`) only lists what it changes, a notebook parameter ``clm_<name>`` /
``qa_<name>`` changes one field, and a name that is not a field is an error, as is a value of the
wrong type. Code reads ``settings.batch_size``, so no code can read a knob that is not declared
here. To change a value in code: ``dataclasses.replace(settings, max_steps=100)``.

Plain Python only: importing this module imports neither torch nor transformers.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, get_type_hints

__all__ = ["ClmSettings", "QaSettings", "COURSE_FILTERS", "settings_from"]

COURSE_FILTERS = ("pandas", "sklearn", "matplotlib", "seaborn")  # the course's keyword filter (§6)


def knob(default: Any, help: str) -> Any:  # noqa: A002 - the transformers examples' name
    """A field with its default and its one-line help."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults: use a tuple")
    return field(default=default, metadata={"help": help})


class _Checked:
    """Type checks and range checks shared by both tracks' settings."""

    _POSITIVE: tuple[str, ...] = ()  # int fields that must be >= 1
    _track = ""

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            fixed = _coerce(value, hints[f.name], f"{self._track}_{f.name}")
            if fixed is not value:
                object.__setattr__(self, f.name, fixed)
        for name in self._POSITIVE:
            if getattr(self, name) < 1:
                raise ValueError(f"{self._track}_{name}={getattr(self, name)} must be >= 1")
        if self.max_steps == 0 or self.max_steps < -1:  # type: ignore[attr-defined]
            raise ValueError(f"{self._track}_max_steps={self.max_steps}: use a positive number of optimizer steps, "  # type: ignore[attr-defined]
                             "or -1 for whole epochs")
        if self.learning_rate <= 0:  # type: ignore[attr-defined]
            raise ValueError(f"{self._track}_learning_rate={self.learning_rate} must be > 0")  # type: ignore[attr-defined]
        if self.save_total_limit is not None and self.save_total_limit < 1:  # type: ignore[attr-defined]
            raise ValueError(f"{self._track}_save_total_limit={self.save_total_limit} must be >= 1 "  # type: ignore[attr-defined]
                             "(or None to keep every checkpoint)")
        for name in ("time_budget_s", "accelerate_time_budget_s"):
            budget = getattr(self, name)
            if budget is not None and not budget > 0:
                raise ValueError(f"{self._track}_{name}={budget} must be a number of seconds > 0 (or None: step-based)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


def _tuple_from_text(value: str, name: str) -> tuple[str, ...]:
    """A tuple knob given as text, as papermill's ``-p`` gives it: ``"('a', 'b')"`` or ``"[...]"``
    (a Python literal), else comma-separated names (``"a,b"``; one name is a tuple of one)."""
    import ast

    text = value.strip()
    if text[:1] in "([":
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{name}={value!r} is not a Python list or tuple of strings") from None
        if not isinstance(parsed, (list, tuple)) or not all(isinstance(v, str) for v in parsed):
            raise ValueError(f"{name}={value!r} must be a list or tuple of strings")
        return tuple(parsed)
    parts = tuple(part.strip() for part in text.split(","))
    if not all(parts):
        raise ValueError(f"{name}={value!r}: an empty name (write names separated by commas)")
    return parts


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """`value` if it fits `hint` (an int where a float is wanted becomes a float), else a ValueError."""
    text = hint.__name__ if isinstance(hint, type) else str(hint)
    allowed: list[type] = []
    for typ, word in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (tuple, "tuple")):
        if word in text.replace("Literal", ""):
            allowed.append(typ)
    if value is None:
        if "None" in text:
            return value
        raise ValueError(f"{name} cannot be None (expected {text})")
    if isinstance(value, list) and tuple in allowed:
        return tuple(value)
    if isinstance(value, str) and text.startswith("tuple["):
        return _tuple_from_text(value, name)
    if isinstance(value, bool):
        if bool in allowed or (str in allowed and "bool" in text):
            return value
        raise ValueError(f"{name} must be {text}, got the bool {value!r}")
    if isinstance(value, int) and int not in allowed and float in allowed:
        return float(value)
    if any(isinstance(value, t) for t in allowed if t is not bool):
        return value
    raise ValueError(f"{name} must be {text}, got {value!r} ({type(value).__name__})")


@dataclass(frozen=True)
class ClmSettings(_Checked):
    """§6, training a causal language model from scratch. Defaults: the course's codeparrot-ds run."""

    _track = "clm"
    _POSITIVE = ("context_length", "n_layer", "n_embd", "n_head", "batch_size", "gradient_accumulation_steps",
                 "num_train_epochs", "eval_steps")

    # step 1: the data
    corpus_source: str = knob("huggingface-course/codeparrot-ds", "the corpus: a Hub dataset, 'bundled' (offline) or a folder (course_utils.assets)")
    filter_keywords: tuple[str, ...] = knob(COURSE_FILTERS, "the course's keyword filter: a file is kept if it mentions one of these")
    max_scan_files: int | None = knob(None, "stop the scan after this many files (None: all)")
    max_train_files: int | None = knob(None, "training files kept after the filter (the course's .shuffle().select(); None: all)")
    max_valid_files: int | None = knob(None, "validation files kept (None: all)")
    valid_fraction: float = knob(0.1, "share of the bundled corpus (by path hash) held out for validation")
    bundled_packages: tuple[str, ...] | None = knob(None, "installed packages the bundled corpus scans (None: corpus.DEFAULT_BUNDLED_PACKAGES)")
    doc_examples: bool = knob(True, "bundled corpus: the docstring examples, written out as scripts")
    exclude_tests: bool = knob(False, "bundled corpus: leave the libraries' own test suites out")
    galleries: bool | str = knob(False, "the example galleries of the libraries' sdists: True/'auto' (fetched from PyPI once) or a folder")
    # the default won at the workshop budget (420 s, 2-core AVX2 EPYC) over + notebooks and + more galleries: docs/experiments.md
    gallery_sets: tuple[str, ...] = knob(("galleries",), "which sdist sources with galleries on: 'galleries', 'notebooks', 'more_galleries' (clm.galleries.SOURCE_SETS)")
    library_modules: bool = knob(True, "bundled corpus: the libraries' own modules too (False: only scripts that use them)")
    examples_repeat: int = knob(1, "weight the docstring-example scripts up this many times (training split only)")
    # step 2: the tokenizer and the chunks
    tokenizer_source: str = knob("huggingface-course/code-search-net-tokenizer", "the tokenizer: a Hub name, 'bundled' (trained here) or a folder")
    vocab_size: int | None = knob(None, "size of a tokenizer trained here (None: the tokenizer's own)")
    tokenizer_train_chars: int | None = knob(None, "characters of the training split the tokenizer is trained on (None: all)")
    context_length: int = knob(128, "tokens per training chunk (the course's context_length)")
    num_proc: int | None = knob(4, "processes for Dataset.map")
    # step 3: the model
    n_layer: int = knob(12, "GPT-2 layers")
    n_embd: int = knob(768, "GPT-2 width")
    n_head: int = knob(12, "attention heads")
    dropout: float = knob(0.1, "GPT-2's residual, embedding and attention dropout")
    attn_implementation: str | None = knob(None, "None: the transformers default (sdpa); 'auto': 'eager' for bf16 on a CPU (measured faster)")
    # step 4: training (Trainer), and step 6 (the Accelerate loop) unless said otherwise
    batch_size: int = knob(32, "chunks per batch and per device (per_device_train_batch_size)")
    gradient_accumulation_steps: int = knob(8, "micro-batches per optimizer step")
    learning_rate: float = knob(5e-4, "peak learning rate")
    weight_decay: float = knob(0.1, "AdamW weight decay (biases and norm weights get none)")
    warmup_steps: int = knob(1_000, "optimizer steps of linear warm-up")
    lr_scheduler_type: str = knob("cosine", "the schedule after warm-up (the course's Trainer: cosine)")
    num_train_epochs: int = knob(1, "passes over the training chunks when max_steps is -1")
    max_steps: int = knob(-1, "optimizer steps to train (-1: num_train_epochs whole epochs)")
    max_grad_norm: float = knob(1.0, "gradients clipped to this norm")
    eval_steps: int = knob(5_000, "evaluate every this many optimizer steps")
    save_steps: int | None = knob(None, "checkpoint every this many optimizer steps (None: at every evaluation)")
    save_total_limit: int | None = knob(2, "checkpoints kept per run (the newest; None keeps all)")
    logging_steps: int = knob(500, "log the training loss every this many optimizer steps")
    periodic_eval_chunks: int | None = knob(None, "evaluations during training use a fixed sample of this many chunks (None: all); the final one uses all")
    mixed_precision: str = knob("auto", "'auto' | 'no' | 'bf16' | 'fp16' (the course's fp16=True where the hardware has it: course_utils.precision)")
    seed: int = knob(42, "the seed of everything random (data order, initial weights)")
    # step 5 (notebook 05): the key-token weighted loss
    keytoken_alpha: float = knob(1.0, "weight of the key-token count in the course's loss")
    accelerate_max_steps: int | None = knob(None, "notebook 05's max_steps (None: max_steps)")
    time_budget_s: float | None = knob(None, "notebook 03's training in seconds of wall clock: max_steps is set from a few timed steps (None: step-based)")
    accelerate_time_budget_s: float | None = knob(None, "notebook 05's time budget in seconds (None: step-based)")

    def loop_settings(self) -> "ClmSettings":
        """These settings as notebook 05's Accelerate loop runs them (its own step count and time
        budget, if any)."""
        return dataclasses.replace(self, max_steps=_either(self.accelerate_max_steps, self.max_steps),
                                   time_budget_s=self.accelerate_time_budget_s)

    @property
    def checkpoint_steps(self) -> int:
        """Optimizer steps between checkpoints: ``save_steps``, else ``eval_steps``."""
        return self.save_steps or self.eval_steps


@dataclass(frozen=True)
class QaSettings(_Checked):
    """§7, extractive question answering. Defaults: the course's bert-base-cased on SQuAD."""

    _track = "qa"
    _POSITIVE = ("max_length", "stride", "batch_size", "gradient_accumulation_steps", "num_train_epochs", "squad_dev_questions")

    # the data
    data_source: str = knob("squad", "the question set: 'squad' (Hub), 'bundled' (offline) or a folder")
    eval_source: str | None = knob(None, "where the validation questions come from (None: data_source's validation split)")
    extra_train_source: str | None = knob(None, "a second source whose training split is added")
    max_train_examples: int | None = knob(None, "training questions used (None: all)")
    max_eval_examples: int | None = knob(None, "validation questions used (None: all)")
    squad_dev_questions: int = knob(200, "questions of the seeded real SQuAD dev slice that notebooks 08 and 09 also score (../shared/data; never trained on)")
    max_length: int = knob(384, "tokens per window (question + context)")
    stride: int = knob(128, "tokens two windows of one context share")
    num_proc: int | None = knob(4, "processes for Dataset.map")
    # the model
    encoder_source: str = knob("bert-base-cased", "the pretrained encoder: a Hub name, 'bundled' or a folder")
    dropout: float | None = knob(None, "hidden dropout (None: the checkpoint's own)")
    attention_dropout: float | None = knob(None, "attention dropout (None: same as dropout)")
    freeze_embeddings: bool = knob(False, "keep the word-embedding matrix as pretrained (cheaper steps)")
    attn_implementation: str | None = knob(None, "None: the transformers default (sdpa); 'auto': 'eager' for bf16 on a CPU")
    # training (notebook 08's Trainer and notebook 09's loop)
    batch_size: int = knob(8, "windows per batch and per device")
    gradient_accumulation_steps: int = knob(1, "micro-batches per optimizer step")
    learning_rate: float = knob(2e-5, "peak learning rate")
    weight_decay: float = knob(0.01, "AdamW weight decay (biases and norm weights get none)")
    warmup_ratio: float = knob(0.0, "share of the optimizer steps spent warming up (linear schedule)")
    num_train_epochs: int = knob(3, "passes over the training windows")
    max_steps: int = knob(-1, "optimizer steps to train (-1: num_train_epochs whole epochs)")
    dynamic_padding: bool = knob(False, "pad each batch to its longest window, batches grouped by length (False: the course's max_length padding)")
    mixed_precision: str = knob("auto", "'auto' | 'no' | 'bf16' | 'fp16' (course_utils.precision)")
    save_steps: int | None = knob(None, "also checkpoint every this many optimizer steps (always at each epoch's end)")
    save_total_limit: int | None = knob(2, "checkpoints kept per run (the newest; None keeps all)")
    seed: int = knob(42, "the seed of everything random")
    soup_size: int = knob(1, ">1: notebook 08 trains that many runs from one start and averages them (qa/soup.py)")
    accelerate_num_train_epochs: int | None = knob(None, "notebook 09's num_train_epochs (None: num_train_epochs)")
    time_budget_s: float | None = knob(None, "notebook 08's training in seconds of wall clock: max_steps is set from a few timed steps (None: step-based)")
    accelerate_time_budget_s: float | None = knob(None, "notebook 09's time budget in seconds (None: step-based)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(f"qa_warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.stride >= self.max_length:
            raise ValueError(f"qa_stride={self.stride} must be smaller than qa_max_length={self.max_length}")

    def loop_settings(self) -> "QaSettings":
        """These settings as notebook 09's Accelerate loop runs them (its own epoch count and time
        budget, if any)."""
        return dataclasses.replace(self, num_train_epochs=_either(self.accelerate_num_train_epochs, self.num_train_epochs),
                                   time_budget_s=self.accelerate_time_budget_s)


def _either(own: Any, shared: Any) -> Any:
    """A notebook's own value of a knob, else the shared one."""
    return shared if own is None else own


def settings_from(cfg: Any, cls: type) -> Any:
    """The `cls` settings of `cfg`: a :class:`~course_utils.profiles.Profile` (its ``clm``/``qa``), a
    `cls` instance, or a dict of knobs (the rest keep the course's defaults). Anything else, or a
    dict with a key that is no knob, is refused with what was expected."""
    if isinstance(cfg, cls):
        return cfg
    track = getattr(cfg, cls._track, None)
    if isinstance(track, cls):
        return track
    if isinstance(cfg, Mapping):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ValueError(f"unknown {cls._track} knob(s) {unknown}; known: {sorted(known)}")
        return cls(**cfg)
    raise TypeError(f"expected a profiles.Profile, {cls.__name__} or a dict of {cls._track} knobs, "
                    f"got {type(cfg).__name__}")
