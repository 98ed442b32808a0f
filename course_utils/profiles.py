"""Named parameter sets: one place that sizes every notebook.

Four profiles, picked with the notebooks' ``profile`` parameter:

* ``ci``        seconds per notebook on 2 CPU cores: tiny models, a few dozen examples.
* ``workshop``  the offline default on a laptop CPU: models that visibly learn, the whole
                course in about half an hour on 2 cores.
* ``course``    the original course sizes and Hub assets, for a big GPU (hours; only when asked).
* ``colab``     the course's Hub assets on subsets, for one free T4 on Colab or Kaggle: each
                training notebook about 30 minutes or less (estimated from FLOPs, see the comments).

``activate(profile)`` must run before any Hugging Face library is imported: it sets the
offline switches and a project-local ``HF_HOME`` so nothing waits on a network time-out and
nothing is written outside the project.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import platforms
from .settings import ClmSettings, QaSettings

__all__ = [
    "PROJECT_ROOT",
    "PROFILES",
    "PROFILE_NAMES",
    "Profile",
    "in_colab",
    "has_gpu",
    "default_profile_name",
    "get_profile",
    "configure_environment",
    "UNACTIONABLE_MESSAGES",
    "filter_library_noise",
    "BATCH_ENV",
    "quiet",
    "set_seed",
    "BATCH_OVERRIDES_ENV",
    "profile_knobs",
    "batch_overrides",
    "activate",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Each profile: `offline` decides the env switches; `clm` and `qa` list only the knobs that differ
# from the course's own values, the defaults of ClmSettings / QaSettings (course_utils.settings, where
# every knob is documented). Values that name an asset (`*_source`) are resolved by `course_utils.assets`.
PROFILES: dict[str, dict[str, Any]] = {
    "ci": {  # seconds per notebook; fp32, so CI gives the same numbers on every machine (tests cover bf16)
        "offline": True,
        "clm": {
            "corpus_source": "bundled", "tokenizer_source": "bundled", "max_scan_files": 600,
            "max_train_files": 100, "max_valid_files": 20, "vocab_size": 1000, "num_proc": 1,
            "context_length": 64, "n_layer": 1, "n_embd": 32, "n_head": 2, "dropout": 0.0,
            "batch_size": 8, "gradient_accumulation_steps": 2, "warmup_steps": 2, "max_steps": 6,
            "eval_steps": 3, "logging_steps": 1, "mixed_precision": "no",
        },
        "qa": {
            "data_source": "bundled", "encoder_source": "bundled", "max_train_examples": 48, "max_eval_examples": 24,
            "max_length": 128, "stride": 32, "num_proc": 1, "dropout": 0.0,
            "learning_rate": 1e-4, "warmup_ratio": 0.1, "num_train_epochs": 1, "max_steps": 4, "dynamic_padding": True,
            "mixed_precision": "no",
            "soup_size": 2,  # notebook 08's soup cell runs in CI too
            "squad_dev_questions": 8,  # the real SQuAD dev slice of 08/09: seconds
        },
    },
    "workshop": {  # the offline default on a laptop CPU: models that visibly learn
        "offline": True,
        "clm": {
            "corpus_source": "bundled", "tokenizer_source": "bundled", "max_valid_files": 500, "num_proc": 2,
            "exclude_tests": True,  # the libraries' test suites are ~44% of the text and nothing like a data-science script
            "galleries": "auto",  # the sdists' example galleries, fetched from PyPI once (without them, with a warning, if unreachable)
            "library_modules": False,  # only scripts that use the libraries: held-out scripts ppl 39, pd.DataFrame found (README)
            "examples_repeat": 4,  # docstring-example scripts x4 in training (they are short; README compares x1)
            "vocab_size": 8000, "tokenizer_train_chars": 15_000_000,
            "n_layer": 4, "n_embd": 256, "n_head": 4, "dropout": 0.0,
            "attn_implementation": "auto",  # "eager" for bf16 on a CPU (measured faster), else the default (sdpa)
            # Batches of 8 chunks (the course: 32 x 8 accumulated). In a fixed time a CPU trains more
            # small steps: on a 2-core AVX2 EPYC in 420 s, batch 32 gave 241 steps, ppl 126; batch 8
            # 803 steps, ppl 93 and the best held-out scores; batch 4 990 steps, ppl 116 (docs/experiments.md).
            "batch_size": 8, "gradient_accumulation_steps": 1,
            "learning_rate": 1e-3,  # measured: validation ppl 35 after 658 steps (a 5M model learns faster than at 5e-4)
            "warmup_steps": 200,  # 5% of max_steps; the budget keeps the fraction for the steps it fits
            "max_steps": 4000,  # the most (as many chunks as 1,000 steps of 32): only a fast machine gets there in ...
            "time_budget_s": 420,  # ... 7 minutes, to which the steps are fitted (course_utils.budget); -p clm_max_steps N: N steps
            "eval_steps": 125, "logging_steps": 25,
            "periodic_eval_chunks": 512,  # evaluations during training on a fixed sample; the final one on all
            "accelerate_max_steps": 1600,  # notebook 05 stays short; 03 shows the quality
            "accelerate_time_budget_s": 180,  # and within 3 minutes
        },
        "qa": {
            "data_source": "bundled", "encoder_source": "bundled", "max_length": 256, "stride": 64, "num_proc": 1,
            "dropout": 0.1,  # hidden layers only (attention_dropout 0): regularises at a seventh of the mask cost
            "attention_dropout": 0.0, "freeze_embeddings": True, "attn_implementation": "auto",
            "learning_rate": 1.5e-4,  # small encoder, ~900 steps: see notebook 08
            "warmup_ratio": 0.1,
            "num_train_epochs": 8,  # the most: ~8-9 min on 2 CPU cores with dynamic padding ...
            "time_budget_s": 360,  # ... fitted to 6 minutes (course_utils.budget); -p qa_num_train_epochs N: N epochs
            "accelerate_time_budget_s": 180,  # notebook 09: 3 minutes
            "dynamic_padding": True,
        },
    },
    "course": {  # the course's own sizes and Hub assets, for a big GPU (hours; only when asked)
        "offline": False,
        "clm": {},
        "qa": {},
    },
    "colab": {
        "offline": False,
        # The course's assets on the course's own subset (.shuffle(seed).select(range(n))), sized for one free
        # T4 (16 GB, fp16 tensor cores: 65 TFLOP/s peak, ~12 GB RAM), each training notebook ~30 min or less.
        # Estimate (no T4 measured): 10% of peak = 6.5 TFLOP/s, the efficiency the course's own QA figure
        # implies (3 epochs of bert-base on SQuAD, "a little over an hour on a Titan RTX": ~11% of its 130).
        "clm": {
            # GPT-2 124M, context 128: 6 N = 7.5e8 FLOP per token (+2% attention) -> ~8,500 tokens/s.
            "max_train_files": 3_000,  # x ~27.5 full 128-token chunks per file (course: 16.7M / 606,720) = ~82k chunks, 10.5M tokens: ~21 min (03 and 05)
            "max_valid_files": 500,  # the course's own .select(range(500)): ~14k chunks, a full evaluation ~70 s (forward only)
            "gradient_accumulation_steps": 2,  # 8,192 tokens per update: ~1,280 updates (the course's 256 x 128 would give only 320)
            "warmup_steps": 100,  # ~8% of the updates (the course: 1,000 of ~65k)
            "eval_steps": 250, "logging_steps": 50,
            "periodic_eval_chunks": 1_000,  # evaluations during training: ~5 s each; the final one uses all ~14k chunks
            "num_proc": 2,  # Colab's free machine has 2 CPU cores (Kaggle 4)
        },
        "qa": {
            "max_train_examples": 12_000,  # ~12,150 features x 3 epochs x 384 tokens = 14M tokens; bert-base-cased 6 N = 5.1e8 + attention 0.4e8 FLOP per token -> ~11,600 tokens/s, 30 features/s: ~20 min (less: dynamic padding)
            # max_eval_examples None: all 10,570 dev questions (10,822 features, forward only): ~2 min per evaluation;
            # notebook 09 evaluates after each epoch: ~20 + 3 x 2 min
            "dynamic_padding": True,  # batches padded to their longest feature, not 384: the estimate above is the upper bound
            "num_proc": 2,
        },
    },
}

PROFILE_NAMES = tuple(PROFILES)


@dataclass(frozen=True)
class Profile:
    """The resolved settings one notebook runs with (a profile plus the learner's overrides)."""

    name: str
    offline: bool
    clm: ClmSettings = field(default_factory=ClmSettings)
    qa: QaSettings = field(default_factory=QaSettings)

    @property
    def seed(self) -> int:
        """The run's seed (both tracks carry it: ``clm.seed == qa.seed``)."""
        return self.clm.seed

    def __getitem__(self, dotted: str) -> Any:
        track, _, key = dotted.partition(".")
        return getattr(getattr(self, track), key)


def in_colab() -> bool:
    """Colab is detected by its module, as Colab's own docs recommend (kept here for old callers)."""
    return platforms.in_colab()


def has_gpu() -> bool:
    """A CUDA GPU (what Colab and Kaggle lend). Asked lazily so that importing this module never
    imports torch. Apple's MPS is not counted: a Mac keeps the offline workshop sizes, and
    ``precision.device_type()`` puts the training on MPS there."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    return bool(torch.cuda.is_available())


def default_profile_name() -> str:
    """`auto`: the T4-sized `colab` profile on Colab or Kaggle with a GPU, the offline workshop
    everywhere else. The full `course` sizes take hours on a T4, so they run only when asked."""
    return "colab" if platforms.hosted() and has_gpu() else "workshop"


def get_profile(name: str = "auto", **overrides: Any) -> Profile:
    """Return profile `name` with `overrides` applied.

    Overrides are given as ``clm_<key>=`` / ``qa_<key>=`` (the names papermill passes), or as
    plain keys when unambiguous. ``None`` means "keep the profile's value", so a notebook's
    parameters cell can list every knob with ``None`` and only what the learner sets counts.
    A step or epoch count given here turns the profile's time budget for that track off (unless a
    budget is given too): what the learner asked for runs, step-based and deterministic.
    """
    if name in (None, "", "auto"):
        name = default_profile_name()
    if name not in PROFILES:
        raise ValueError(
            f"unknown profile {name!r}: choose one of {', '.join(PROFILE_NAMES)} (or 'auto')"
        )
    raw = copy.deepcopy(PROFILES[name])
    seed = overrides.pop("seed", None)
    offline = overrides.pop("offline", None)
    fields_of = {"clm": _field_names(ClmSettings), "qa": _field_names(QaSettings)}
    given: dict[str, set[str]] = {track: set() for track in fields_of}
    for key, value in overrides.items():
        if value is None:
            continue
        track, sep, rest = key.partition("_")
        if sep and track in fields_of and rest in fields_of[track]:
            raw[track][rest] = value
            given[track].add(rest)
            continue
        owners = [t for t in fields_of if key in fields_of[t]]
        if len(owners) == 1:
            raw[owners[0]][key] = value
            given[owners[0]].add(key)
        elif len(owners) > 1:
            raise ValueError(f"parameter {key!r} is ambiguous: write clm_{key} or qa_{key}")
        else:
            known = sorted(profile_knobs())
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown parameter {key!r}{hint}; known parameters: {', '.join(known)}")
    for track in fields_of:
        _explicit_steps_win(raw[track], given[track])
    seed = 42 if seed is None else int(seed)
    return Profile(
        name=name,
        offline=raw["offline"] if offline is None else bool(offline),
        clm=ClmSettings(**{"seed": seed, **raw["clm"]}),
        qa=QaSettings(**{"seed": seed, **raw["qa"]}),
    )


# Which budget a learner's own step count replaces: notebook 03/08's, and notebook 05/09's.
_STEP_KNOBS = {"time_budget_s": ("max_steps", "num_train_epochs"),
               "accelerate_time_budget_s": ("max_steps", "num_train_epochs", "accelerate_max_steps",
                                            "accelerate_num_train_epochs")}


def _explicit_steps_win(knobs: dict[str, Any], given: set[str]) -> None:
    """Drop a profile's time budget where the learner set a step/epoch count and no budget."""
    for budget, counts in _STEP_KNOBS.items():
        if budget not in given and given.intersection(counts):
            knobs[budget] = None


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def configure_environment(offline: bool, hf_home: str | os.PathLike | None = None) -> None:
    """Set the Hugging Face switches. Must run before `transformers`/`datasets` are imported,
    because both read these variables once, at import time."""
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HOME", str(hf_home or PROJECT_ROOT / ".cache" / "huggingface"))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if quiet():
        # ci and batch runs: nobody watches the bars, and a saved notebook keeps each widget bar as it
        # was first drawn (0%). A learner in JupyterLab or Colab keeps them.
        os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # also transformers' "Loading weights" bars
        os.environ["TQDM_DISABLE"] = "1"


# Library messages a learner cannot act on (each checked to be harmless here); the rest stay.
UNACTIONABLE_MESSAGES = (
    "loss_type=None",                 # transformers picks the default causal-LM loss: as intended
    "The attention mask is not set",  # generation on one unpadded prompt: no mask is needed
    "Setting `pad_token_id` to `eos_token_id`",  # GPT-2 has no pad token: the course does the same
    "Removed shared tensor",          # Accelerate's save drops GPT-2's tied lm_head; loading ties it again
    "mtime may not be reliable",      # Trainer orders its checkpoints by step number instead: the same order
)


class _DropUnactionable:
    """A logging filter: keeps every record except the ones listed above."""

    def filter(self, record) -> bool:  # logging.Filter protocol
        text = record.getMessage()
        return not any(snippet in text for snippet in UNACTIONABLE_MESSAGES)


def filter_library_noise() -> None:
    """Drop the messages listed in UNACTIONABLE_MESSAGES, from Python warnings and from logging.

    Logging filters must sit on the *handlers* that print: a logger's own filter sees only the
    records logged to it by name, not those of its children (``transformers.modeling_utils``,
    ``accelerate.utils.other``). So the filter goes on transformers' stderr handler (created when
    transformers is first imported, which this does: activate has set the environment by then),
    on the root logger's handlers and on ``logging.lastResort``, which prints Accelerate's records.
    """
    import logging
    import re
    import warnings

    import transformers.utils.logging  # noqa: F401 - installs the "transformers" handler we filter

    for snippet in UNACTIONABLE_MESSAGES:
        warnings.filterwarnings("ignore", message=f".*{re.escape(snippet)}")
    targets = [logging.lastResort, *logging.getLogger().handlers]
    for name in ("transformers", "accelerate"):
        logger = logging.getLogger(name)
        targets += [logger, *logger.handlers]
    for target in targets:
        if target is not None and not any(isinstance(f, _DropUnactionable) for f in target.filters):
            target.addFilter(_DropUnactionable())


# Set by the batch runner (python -m course_utils.run) for the kernels it starts: nobody watches them.
BATCH_ENV = "COURSE_BATCH"


def quiet() -> bool:
    """True where progress bars should stay off: the ci profile, and every notebook the batch
    runner executes (whatever the profile), where nobody watches and a saved bar stays at 0%."""
    return os.environ.get("COURSE_QUIET") == "1" or os.environ.get(BATCH_ENV) == "1"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch together (transformers' own `set_seed` does the same)."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover
        pass


# Profile knobs a batch run sets for *every* notebook (JSON), whether or not a notebook's
# parameters cell lists them: `python -m course_utils.run -p clm_exclude_tests False` must give
# notebooks 01-05 the same corpus, though only some of them declare that knob.
BATCH_OVERRIDES_ENV = "COURSE_PROFILE_OVERRIDES"


def profile_knobs() -> set[str]:
    """Every ``clm_<key>`` / ``qa_<key>`` name a profile accepts (the settings' fields, but the seed,
    which is one knob for both tracks: ``seed``)."""
    return {f"{track}_{key}" for track, cls in (("clm", ClmSettings), ("qa", QaSettings))
            for key in _field_names(cls) if key != "seed"}


def batch_overrides() -> dict[str, Any]:
    """The knobs the batch runner set for the whole run (empty outside a batch run)."""
    import json

    text = os.environ.get(BATCH_OVERRIDES_ENV)
    if not text:
        return {}
    values = json.loads(text)
    if not isinstance(values, dict):
        raise ValueError(f"{BATCH_OVERRIDES_ENV} must hold a JSON object, got {text[:80]!r}")
    return values


def activate(name: str = "auto", **overrides: Any) -> Profile:
    """Resolve a profile, configure the environment for it and seed everything.

    Call it in the first code cell after the parameters cell, before importing any Hugging Face
    library. The ci profile and batch runs also switch progress bars off (see :func:`quiet`). A
    knob the batch runner set for the whole run applies unless the notebook's own parameter sets it.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    prof = get_profile(name, **{**batch_overrides(), **given})
    if prof.name == "ci":
        os.environ["COURSE_QUIET"] = "1"
    configure_environment(prof.offline)
    filter_library_noise()
    set_seed(prof.seed)
    return prof
