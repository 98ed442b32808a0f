"""The teacher pack: every asset a profile needs, saved once (online) into a folder learners load offline.

It sits on top of both wings (it loads the §6 corpus and tokenizer and the §7 data), so it is its
own module: ``assets`` (where a source comes from) stays below the wings, and imports run one way.

    python -m course_utils.prepare prepare --to /media/usb/course-assets   # online, once
    python -m course_utils.prepare show /media/usb/course-assets           # the notebook parameters

With ``--wheels PLATFORM...`` the folder becomes a workshop kit (:mod:`course_utils.kit`): also the
wheels every laptop installs from, the §6 galleries, and a checksum of every file, which
``python -m course_utils.prepare check DIR`` verifies. The ML libraries are imported only inside
:func:`prepare`, so ``check`` runs on a bare Python before anything is installed.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from . import kit
from .assets import MANIFEST, PREPARED_LAYOUT, Source, bundled_qa_encoder_path, prepared_sources, resolve_source

__all__ = ["main", "prepare", "copy_galleries", "PROJECT_ROOT"]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
GALLERIES_DIR = "galleries"


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


def copy_galleries(dest: Path, sets=("galleries",)) -> Path:
    """The §6 galleries (and notebooks) of the profile's ``gallery_sets``, with the held-out
    notebooks, into ``dest``: copied from this machine's cache where it holds them whole,
    fetched from PyPI (sha256-checked) otherwise."""
    import shutil

    from .clm.galleries import DONE, default_gallery_dir, fetch_galleries, source_version, sources_for

    dest.mkdir(parents=True, exist_ok=True)
    sources = sources_for(sets)
    for name, source in sources.items():
        cached = default_gallery_dir() / f"{name}-{source_version(source)}"
        if (cached / DONE).exists() and not (dest / cached.name).exists():
            shutil.copytree(cached, dest / cached.name)
    return fetch_galleries(dest, sources)


def prepare(to: str | os.PathLike, profile: str = "course", wheels: Sequence[str] = (),
            galleries: bool = False, pip_args: Sequence[str] = (), torch_index: str | None = None,
            requirements: str | os.PathLike | None = None, constraints: str | os.PathLike | None = None,
            runs: str | os.PathLike | None = None, build_requirements: Sequence[str] | None = None,
            log=print, **overrides) -> Path:
    """Save every asset `profile` needs into a new folder, with a manifest.

    Online with ``profile="course"`` this downloads the Hub assets; with an offline profile it
    packs the bundled ones (handy to test the loading half, or to ship a fixed corpus).
    `wheels`: platforms (:data:`course_utils.kit.PLATFORMS`) to write a wheelhouse for, at the exact
    versions of `constraints`; resolved first, so the size is said before the folder is written.
    `galleries`: also the §6 example galleries. The manifest holds every file's sha256 and size.
    `build_requirements` (default: pyproject's [build-system]) go into the wheelhouse too, so that
    ``pip install --no-index -e .`` can build the project.
    """
    import json
    import tempfile

    from . import profiles
    from .clm.corpus import load_raw_datasets
    from .clm.tokenize import load_or_train_tokenizer
    from .qa.data import load_qa_datasets

    dest = Path(to).expanduser().resolve()
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty: prepare into a new folder")
    requirements = Path(requirements or PROJECT_ROOT / "requirements.txt")
    constraints = Path(constraints or PROJECT_ROOT / "constraints.txt")
    plan = {}
    if wheels:
        build = _build_requirements() if build_requirements is None else list(build_requirements)
        for name in dict.fromkeys(wheels):
            log(f"resolving the wheels for {name} (pip reads their dependencies; into its cache) ...")
            plan[name] = kit.resolve_wheels(name, ["-r", str(requirements), "-c", str(constraints), *build],
                                            pip_args=pip_args, torch_index=torch_index)
        plan = kit.plan_sizes(plan)
        unique = {w.filename: w.size for ws in plan.values() for w in ws}
        per = ", ".join(f"{p} {kit.format_size(sum(w.size or 0 for w in ws))}" for p, ws in plan.items())
        unknown = sum(size is None for size in unique.values())
        log(f"the wheelhouse will hold {len(unique)} wheels, {kit.format_size(sum(s or 0 for s in unique.values()))}"
            f" in all ({per}){f'; {unknown} of unknown size' if unknown else ''}")
    if galleries:
        log("plus the §6 galleries and the held-out notebooks: 5 sdists or more, about 70 MB to fetch unless this "
            "machine has them cached")
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
    if galleries:
        copy_galleries(dest / GALLERIES_DIR, prof.clm.gallery_sets)
        manifest["assets"]["clm_galleries"] = {"path": GALLERIES_DIR, "origin": "the sdists on PyPI"}
    if plan:
        kit.download_wheels(plan, dest, pip_args=pip_args, torch_index=torch_index)
        manifest["wheels"] = kit.wheels_manifest(plan, kit.PYTHON, {"requirements": requirements,
                                                                    "constraints": constraints})
    manifest["made_on"] = kit.made_on(runs or PROJECT_ROOT / "runs")
    manifest["files"] = kit.file_checksums(dest)  # last: what is on the stick now
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return dest


def _build_requirements() -> list[str]:
    """What ``pip install -e .`` needs to build the project (its [build-system] requires)."""
    import tomllib

    pyproject = PROJECT_ROOT / "pyproject.toml"
    return list(tomllib.loads(pyproject.read_text())["build-system"]["requires"]) if pyproject.exists() else []


def main(argv: list[str] | None = None) -> int:
    """``python -m course_utils.prepare prepare --to DIR [--profile course]`` (also ``show DIR``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course_utils.prepare")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="save every asset a profile needs into DIR (run online)")
    prep.add_argument("--to", required=True)
    prep.add_argument("--profile", default="course")
    prep.add_argument("--wheels", nargs="+", default=[], metavar="PLATFORM", choices=list(kit.PLATFORMS),
                      help=f"also a wheelhouse for these platforms ({', '.join(kit.PLATFORMS)})")
    prep.add_argument("--no-galleries", action="store_true", help="leave the §6 example galleries out")
    prep.add_argument("--torch-index", default=None,
                      help=f"an index with CPU torch wheels, e.g. {kit.TORCH_CPU_INDEX} (needed where pip "
                           "would otherwise find only the CUDA build for Linux)")
    prep.add_argument("--pip-arg", action="append", default=[], help="passed to pip (e.g. --pip-arg=--no-index)")
    show = sub.add_parser("show", help="print the parameters that point the notebooks at DIR")
    show.add_argument("folder")
    check = sub.add_parser("check", help="verify every checksum of a kit and say what it covers")
    check.add_argument("folder")
    check.add_argument("--platform", default=None,
                       help="also require wheels for this platform ('this': this machine's)")
    check.add_argument("--constraints", default=None,
                       help="also require the kit to be made from this constraints.txt")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        dest = prepare(args.to, args.profile, wheels=args.wheels, galleries=not args.no_galleries,
                       pip_args=args.pip_arg, torch_index=args.torch_index)
        report = kit.check_kit(dest)
        print("\n".join(report.lines()))
        print(f"prepared {dest}; run offline with: python -m course_utils.run --assets {dest}")
    elif args.command == "check":
        try:
            report = kit.check_kit(args.folder, args.platform, args.constraints)
        except kit.KitError as exc:
            print(f"error: {exc}")
            return 1
        print("\n".join(report.lines()))
        return 0 if report.ok else 1
    else:
        for param, path in prepared_sources(args.folder).items():
            print(f"-p {param} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
