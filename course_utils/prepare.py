"""The teacher pack: every asset a profile needs, saved once (online) into a folder learners load offline.

It sits on top of both wings (it loads the §6 corpus and tokenizer and the §7 data), so it is its
own module: ``assets`` (where a source comes from) stays below the wings, and imports run one way.

    python -m course_utils.prepare prepare --to /media/usb/course-assets   # online, once
    python -m course_utils.prepare show /media/usb/course-assets           # the notebook parameters
"""
from __future__ import annotations

import os
from pathlib import Path

from . import profiles
from .assets import MANIFEST, PREPARED_LAYOUT, Source, bundled_qa_encoder_path, prepared_sources, resolve_source
from .clm.corpus import load_raw_datasets
from .clm.tokenize import load_or_train_tokenizer
from .qa.data import load_qa_datasets

__all__ = ["main", "prepare"]


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


    dest = Path(to).expanduser().resolve()
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty: prepare into a new folder")
    prof = profiles.get_profile(profile, **overrides)
    profiles.configure_environment(prof.offline)
    dest.mkdir(parents=True, exist_ok=True)
    origins = {}
    raw = load_raw_datasets(prof)
    raw.save_to_disk(str(dest / PREPARED_LAYOUT["clm_corpus_source"]))
    origins["clm_corpus_source"] = prof.clm.corpus_source
    with tempfile.TemporaryDirectory() as scratch:
        tokenizer = load_or_train_tokenizer(prof, raw, Path(scratch))
        tokenizer.save_pretrained(str(dest / PREPARED_LAYOUT["clm_tokenizer_source"]))
    origins["clm_tokenizer_source"] = prof.clm.tokenizer_source
    qa = load_qa_datasets(prof)
    qa.save_to_disk(str(dest / PREPARED_LAYOUT["qa_data_source"]))
    origins["qa_data_source"] = prof.qa.data_source
    encoder = resolve_source(prof.qa.encoder_source, "qa_encoder_source")
    _copy_model_files(encoder, dest / PREPARED_LAYOUT["qa_encoder_source"])
    origins["qa_encoder_source"] = prof.qa.encoder_source
    manifest = {
        "profile": prof.name,
        "assets": {p: {"path": sub, "origin": str(origins[p])} for p, sub in PREPARED_LAYOUT.items()},
        "sizes": {"clm_train_files": len(raw["train"]), "clm_valid_files": len(raw["valid"]),
                  "qa_train_examples": len(qa["train"]), "qa_validation_examples": len(qa["validation"])},
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return dest


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.prepare prepare --to DIR [--profile course]`` (also ``show DIR``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_utils.prepare")
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
