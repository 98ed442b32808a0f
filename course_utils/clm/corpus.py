"""§6 step 1, "Gathering the data": a code corpus in the codeparrot schema, filtered by keyword.

The course streams ``transformersbook/codeparrot-train`` (about 50 GB of Python files), keeps the
files that mention one of the data-science libraries, and then loads the pre-filtered result
``huggingface-course/codeparrot-ds``. Offline we do the same thing on code that is already on the
disk: the ``.py`` files of the installed pandas / scikit-learn / matplotlib / seaborn / NumPy /
SciPy, streamed with the same six columns (``repo_name, path, copies, size, content, license``) so
that the course's filter runs on them unchanged.

Library internals are not what a data-science script looks like, so each module that has usage
examples in its docstrings (the ``>>>`` doctest lines, e.g. ``df.groupby("a").mean()``) also
yields a small script made of them: imports at the top (``import pandas as pd`` ...), then for each
documented object a comment with its one-line summary followed by its example code. That
"comment, then code" shape is exactly what the course's generation prompts look like.
"""
from __future__ import annotations

import ast
import doctest
import hashlib
import importlib.metadata
import importlib.util
import re
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

# The course's keyword list (the libraries whose users we want the model to help): one definition,
# the default of ClmSettings.filter_keywords.
from ..settings import COURSE_FILTERS, ClmSettings, settings_from

__all__ = [
    "CODEPARROT_COLUMNS",
    "DEFAULT_BUNDLED_PACKAGES",
    "EXAMPLES_PREFIX",
    "CorpusError",
    "any_keyword_in_string",
    "filter_streaming_dataset",
    "package_dir",
    "bundled_files",
    "examples_script",
    "codeparrot_features",
    "is_test_file",
    "bundled_stream",
    "split_key",
    "is_valid_path",
    "split_by_path",
    "take_subset",
    "bundled_stream_for",
    "CORPUS_ARTEFACT",
    "load_raw_datasets",
    "build_raw_datasets",
    "repeat_examples",
    "raw_stream",
    "corpus_summary",
    "corpus_by_source",
]

# The codeparrot columns, all strings (as on the Hub).
CODEPARROT_COLUMNS: tuple[str, ...] = ("repo_name", "path", "copies", "size", "content", "license")

# Installed packages scanned by the bundled source; the keyword filter then keeps what mentions
# the four libraries (NumPy and SciPy docstrings plot with matplotlib, for instance).
DEFAULT_BUNDLED_PACKAGES: tuple[str, ...] = ("pandas", "sklearn", "matplotlib", "seaborn", "numpy", "scipy")

# GitHub repository and license of the packages we know, so rows look like codeparrot's.
_KNOWN_REPOS = {
    "pandas": ("pandas-dev/pandas", "bsd-3-clause"),
    "sklearn": ("scikit-learn/scikit-learn", "bsd-3-clause"),
    "matplotlib": ("matplotlib/matplotlib", "other"),
    "mpl_toolkits": ("matplotlib/matplotlib", "other"),
    "seaborn": ("mwaskom/seaborn", "bsd-3-clause"),
    "numpy": ("numpy/numpy", "bsd-3-clause"),
    "scipy": ("scipy/scipy", "bsd-3-clause"),
    "statsmodels": ("statsmodels/statsmodels", "bsd-3-clause"),
}

# Where the doctest scripts live in `path`; the split groups them with their module (see split_key).
EXAMPLES_PREFIX = "doc_examples/"

# Aliases the docstrings use without importing them (the doctest namespace provides them).
_ALIASES = {
    "pd": "import pandas as pd",
    "np": "import numpy as np",
    "plt": "import matplotlib.pyplot as plt",
    "sns": "import seaborn as sns",
    "mpl": "import matplotlib as mpl",
}


class CorpusError(ValueError):
    """The corpus cannot be used: empty after filtering, a missing column, a bad row ..."""


# --------------------------------------------------------------------------------------------
# The course's filter
# --------------------------------------------------------------------------------------------
def any_keyword_in_string(string: str, keywords: Sequence[str]) -> bool:
    """True when one of `keywords` occurs in `string` (plain substring test, as in the course).

    Substring, not word, matching is the course's choice: ``"import pandas as pd"`` matches
    ``"pandas"``, and so does a comment that merely mentions it.
    """
    if isinstance(keywords, str):
        raise TypeError(f"keywords must be a list of strings, not the single string {keywords!r}")
    if not keywords:
        raise ValueError("keywords is empty: with no keyword every file would be dropped")
    if not isinstance(string, str):
        raise TypeError(f"string must be a str, got {type(string).__name__}")
    for keyword in keywords:
        if keyword in string:
            return True
    return False


def filter_streaming_dataset(
    dataset: Iterable[Mapping[str, Any]],
    filters: Sequence[str],
    content_key: str = "content",
    desc: str = "filtering",
):
    """Keep the rows of a *streaming* dataset whose `content` mentions one of `filters`.

    The course's loop: one pass over the stream, rows read one at a time, so memory grows with
    what is kept, never with the size of the stream (the unfiltered corpus is never held).
    Prints the kept percentage and returns an in-memory ``datasets.Dataset``.
    """
    from datasets import Dataset
    from tqdm.auto import tqdm

    from ..profiles import quiet

    if isinstance(filters, str) or not filters:
        raise ValueError(f"filters must be a non-empty list of keywords, got {filters!r}")
    filtered: dict[str, list] = defaultdict(list)
    total = 0
    for sample in tqdm(iter(dataset), desc=desc, disable=quiet()):
        if content_key not in sample:
            raise CorpusError(
                f"row {total} has no {content_key!r} column (columns: {sorted(sample)}); "
                "the corpus needs the codeparrot schema"
            )
        content = sample[content_key]
        if not isinstance(content, str):
            raise CorpusError(
                f"row {total} (path={sample.get('path')!r}): {content_key!r} must be a str, "
                f"got {type(content).__name__}"
            )
        total += 1
        if any_keyword_in_string(content, filters):
            for key, value in sample.items():
                filtered[key].append(value)
    if total == 0:
        raise CorpusError("the stream is empty: there is nothing to filter")
    kept = len(filtered[content_key])
    print(f"{kept / total:.2%} of data after filtering.")
    if kept == 0:
        raise CorpusError(
            f"empty corpus after filtering: none of the {total} files mentions any of {list(filters)}"
        )
    return Dataset.from_dict(dict(filtered))


# --------------------------------------------------------------------------------------------
# The bundled source: installed packages, plus their docstring examples as scripts
# --------------------------------------------------------------------------------------------
def package_dir(name: str) -> Path | None:
    """Folder of an installed top-level package, or None when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _repo_and_license(package: str) -> tuple[str, str]:
    if package in _KNOWN_REPOS:
        return _KNOWN_REPOS[package]
    try:
        dists = importlib.metadata.packages_distributions().get(package, [package])
        meta = importlib.metadata.metadata(dists[0])
        lic = (meta.get("License-Expression") or "unknown").lower()
    except importlib.metadata.PackageNotFoundError:
        lic = "unknown"
    return f"site-packages/{package}", lic


def bundled_files(packages: Sequence[str] = DEFAULT_BUNDLED_PACKAGES) -> list[tuple[str, str]]:
    """``(package, file path)`` of every ``.py`` file of the installed `packages`, sorted.

    Packages that are not installed are skipped (with a note), so the corpus adapts to what the
    environment holds; none at all is an error.
    """
    files: list[tuple[str, str]] = []
    missing = []
    for name in packages:
        root = package_dir(name)
        if root is None:
            missing.append(name)
            continue
        files.extend((name, str(p)) for p in sorted(root.rglob("*.py")))
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}")
    if not files:
        raise CorpusError(f"no .py file found in the packages {list(packages)}")
    return files


_DIRECTIVE = re.compile(r"\s*#\s*doctest:.*$")
# Template slots of pandas' shared docstrings (``%(klass)s``, ``{klass}``); f-strings are fine.
_PLACEHOLDER = re.compile(r"%\(\w+\)s|(?<![\w{])\{[a-z_]+\}(?!\})")


def _docstring_blocks(tree: ast.Module) -> list[tuple[str, str]]:
    """``(qualified name, text)`` of each docstring or string template holding ``>>>`` examples.

    pandas keeps many of its docstrings in templates (``_shared_docs[...] = \"\"\"...\"\"\"``), so
    string constants assigned at any level count too, named after their target.
    """
    found: list[tuple[str, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                doc = ast.get_docstring(child, clean=True)
                if doc and ">>>" in doc:
                    found.append((name, doc))
                visit(child, name + ".")
            elif isinstance(child, (ast.Assign, ast.AnnAssign)):
                value = child.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and ">>>" in value.value:
                    target = child.targets[0] if isinstance(child, ast.Assign) else child.target
                    found.append((prefix + ast.unparse(target), _clean(value.value)))

    doc = ast.get_docstring(tree, clean=True)
    if doc and ">>>" in doc:
        found.append(("module", doc))
    visit(tree, "")
    return found


def _clean(text: str) -> str:
    import inspect

    return inspect.cleandoc(text)


def _summary(text: str) -> str:
    """First meaningful line of a docstring, as a one-line comment."""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith((">>>", "%(", "{")) and not set(line) <= set("-=~"):
            return line[:100]
    return ""


_SECTION = re.compile(r"^(examples?|notes?|see also|returns?|parameters|references)$", re.IGNORECASE)


def _prose_comment(text: str, max_lines: int = 3) -> list[str]:
    """The last paragraph of docstring prose before an example (``Group by column 'a' and take
    the mean:``), as comment lines; nothing when that paragraph is a section header or markup."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    if not paragraphs:
        return []
    lines = [line.strip() for line in paragraphs[-1].splitlines()]
    lines = [l for l in lines if l and not set(l) <= set("-=~^*") and not _SECTION.match(l.rstrip(":"))]
    if not lines or len(lines) > max_lines or any(
        l.startswith(("..", ":", "|")) or _PLACEHOLDER.search(l) for l in lines
    ):
        return []
    return ["# " + l.replace("``", "`")[:100] for l in lines]


def examples_script(source: str) -> str | None:
    """A data-science-looking script made of a module's docstring examples, or None if it has none.

    Imports are hoisted to the top (plus ``import pandas as pd`` etc. for aliases the doctests use
    without importing); each documented object becomes ``# Name: summary`` followed by its code,
    and the sentence that introduces an example in the docstring becomes a comment above it --
    the "comment, then code" shape of the prompts the model will be given. Doctest directives and
    expected outputs are dropped; examples that do not parse are skipped.
    """
    if ">>>" not in source:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    parser = doctest.DocTestParser()
    imports: dict[str, None] = {}
    blocks: list[str] = []
    for name, text in _docstring_blocks(tree):
        try:
            parts = parser.parse(text)
        except ValueError:  # malformed doctest (bad indentation ...)
            continue
        code: list[str] = []
        comment: list[str] = []
        summary = _summary(text)
        for part in parts:
            if isinstance(part, str):
                comment = _prose_comment(part)
                if comment == [f"# {summary}"]:  # the summary is already the block's header
                    comment = []
                continue
            src = "\n".join(_DIRECTIVE.sub("", line) for line in part.source.rstrip("\n").splitlines())
            if not src.strip() or any(
                _PLACEHOLDER.search(line) and not re.search(r"\bf[\"']", line) for line in src.splitlines()
            ):
                continue
            try:
                parsed = ast.parse(src)
            except SyntaxError:
                continue
            if parsed.body and all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in parsed.body):
                # one line per statement: an import wrapped over several lines stays whole
                for stmt in parsed.body:
                    imports.setdefault(ast.unparse(stmt), None)
                continue
            if comment:  # the sentence that introduces this example, as a comment above it
                code.append("\n".join(comment))
                comment = []
            code.append(src)
        if code:
            header = f"# {name}: {summary}" if summary else f"# {name}"
            blocks.append(header + "\n" + "\n".join(code))
    return _with_imports(imports, blocks) if blocks else None


def _with_imports(imports: dict[str, None], blocks: list[str]) -> str:
    """The blocks under their hoisted imports, plus ``import pandas as pd`` & co. for the aliases
    the examples use without importing them."""
    body = "\n\n".join(blocks)
    for alias, statement in _ALIASES.items():
        if re.search(rf"(?<![\w.]){alias}\.", body) and statement not in imports:
            imports[statement] = None
    ordered = sorted(imports, key=lambda s: (not s.startswith("import "), s))
    return "\n".join(ordered) + "\n\n\n" + body + "\n"


def _row(repo: str, path: str, content: str, lic: str) -> dict[str, str]:
    """One file in the codeparrot schema (every column a string, as on the Hub)."""
    return {"repo_name": repo, "path": path, "copies": "1", "size": str(len(content.encode())),
            "content": content, "license": lic}


def _rows_for_file(package: str, file: str, rel: str, doc_examples: bool,
                   modules: bool = True) -> Iterator[dict[str, str]]:
    repo, lic = _repo_and_license(package)
    content = Path(file).read_text(encoding="utf-8", errors="replace")
    if modules:
        yield _row(repo, rel, content, lic)
    if doc_examples:
        script = examples_script(content)
        if script:
            yield _row(repo, EXAMPLES_PREFIX + rel, script, lic)


def _gallery_row(package: str, file: str, rel: str) -> dict[str, str]:
    """A gallery script or notebook script, with its source's repository and licence."""
    from .galleries import GALLERY_REPOS, SOURCES

    source = SOURCES.get(package)
    repo, lic = (source.repo, source.licence) if source else GALLERY_REPOS.get(package, (package, "unknown"))
    return _row(repo, rel, Path(file).read_text(encoding="utf-8", errors="replace"), lic)


def _generate_bundled(files: list[tuple[str, str, str, bool]], doc_examples: bool,
                      modules: bool = True) -> Iterator[dict[str, str]]:
    for package, file, rel, gallery in files:
        if gallery:
            yield _gallery_row(package, file, rel)
        else:
            yield from _rows_for_file(package, file, rel, doc_examples, modules)


def codeparrot_features():
    from datasets import Features, Value

    return Features({c: Value("string") for c in CODEPARROT_COLUMNS})


def _path_hash(path: str) -> int:
    return int.from_bytes(hashlib.md5(path.encode("utf-8")).digest()[:8], "big")


def is_test_file(relative_path: str) -> bool:
    """A library's own test suite (``*/tests/*``, ``test_*.py``, ``conftest.py``): thousands of
    ``assert`` lines that look nothing like a data-science script."""
    parts = relative_path.split("/")
    name = parts[-1]
    return (any(p in {"tests", "testing"} for p in parts[:-1])
            or name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py")


def bundled_stream(
    packages: Sequence[str] = DEFAULT_BUNDLED_PACKAGES,
    doc_examples: bool = True,
    max_files: int | None = None,
    exclude_tests: bool = False,
    galleries: str | Path | None = None,
    modules: bool = True,
    gallery_sources: Mapping[str, Any] | None = None,
):
    """The installed packages as a streaming ``IterableDataset`` with the codeparrot columns.

    Like ``load_dataset(..., streaming=True)``: nothing is read until it is iterated, one file at
    a time. Files come in a fixed pseudo-random order (by path hash, like the shuffled Hub dump),
    so ``max_files`` (the ci profile's small scan) samples every package. ``exclude_tests``
    leaves the libraries' test suites out (see :func:`is_test_file`). ``galleries`` is a folder
    of fetched example galleries (see :mod:`course_utils.clm.galleries`) streamed with the rest;
    ``gallery_sources`` says which of its sources (default: the three galleries).
    ``modules=False`` keeps only scripts (docstring examples and galleries), not the libraries'
    own modules: code that *uses* the libraries, which is what codeparrot-ds is.
    """
    if not modules and not doc_examples and galleries is None:
        raise CorpusError("library_modules=False keeps only scripts, but doc_examples is False and there "
                          "are no galleries: the corpus would be empty")
    from datasets import IterableDataset

    # hash the package-relative path, never the absolute one: the order (and so every subset a
    # profile takes) must not depend on where the environment is installed. The "order:" salt
    # keeps this hash independent of the train/valid split's, or a small scan (the first files
    # in this order) would land in one split only.
    roots = {name: package_dir(name) for name in packages}
    entries = [(package, file, Path(file).relative_to(roots[package].parent).as_posix(), False)
               for package, file in bundled_files(packages)]
    if exclude_tests:
        entries = [e for e in entries if not is_test_file(e[2])]
    if galleries is not None:
        from .galleries import GALLERIES, gallery_files

        entries += [(package, str(file), rel, True)
                    for package, rel, file in gallery_files(galleries, gallery_sources or GALLERIES)]
    entries.sort(key=lambda e: _path_hash("order:" + e[2]))
    if max_files is not None:
        if isinstance(max_files, bool) or not isinstance(max_files, int) or max_files <= 0:
            raise ValueError(f"max_scan_files must be a positive int or None, got {max_files!r}")
        entries = entries[:max_files]
    return IterableDataset.from_generator(
        _generate_bundled, features=codeparrot_features(),
        gen_kwargs={"files": entries, "doc_examples": doc_examples, "modules": modules},
    )


# --------------------------------------------------------------------------------------------
# Split and subsets
# --------------------------------------------------------------------------------------------
def split_key(path: str) -> str:
    """What the split hashes: a module and its docstring-examples script share one key, so the
    examples of a validation module never leak into training."""
    return path[len(EXAMPLES_PREFIX):] if path.startswith(EXAMPLES_PREFIX) else path


def is_valid_path(path: str, valid_fraction: float) -> bool:
    """Deterministic, order-free split: a file is in validation when its path hashes low, or when
    it is a notebook of a package held out whole (:data:`galleries.HELD_OUT`: scored, never trained on)."""
    from .galleries import is_held_out

    return is_held_out(path) or _path_hash(split_key(path)) / 2**64 < valid_fraction


def split_by_path(dataset, valid_fraction: float = 0.1, key: str = "path"):
    """``DatasetDict(train, valid)`` by path hash (the same file always lands on the same side)."""
    from datasets import DatasetDict

    if not 0 < valid_fraction < 1:
        raise ValueError(f"valid_fraction must be between 0 and 1 (exclusive), got {valid_fraction!r}")
    if key not in dataset.column_names:
        raise CorpusError(f"cannot split by {key!r}: the corpus has columns {dataset.column_names}")
    valid = [i for i, p in enumerate(dataset[key]) if is_valid_path(str(p), valid_fraction)]
    valid_set = set(valid)
    train = [i for i in range(len(dataset)) if i not in valid_set]
    if not train or not valid:
        raise CorpusError(
            f"split of {len(dataset)} files gave {len(train)} train / {len(valid)} valid: "
            "the corpus is too small for a validation split"
        )
    return DatasetDict({"train": dataset.select(train), "valid": dataset.select(valid)})


def take_subset(dataset, n: int | None, seed: int, name: str = "split"):
    """The course's ``.shuffle(seed).select(range(n))``; ``None`` keeps everything (shuffled)."""
    if n is None:
        return dataset.shuffle(seed=seed)
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"{name}: the number of files to keep must be a positive int or None, got {n!r}")
    if n > len(dataset):
        print(f"{name}: asked for {n} files, only {len(dataset)} available; using all of them")
        n = len(dataset)
    return dataset.shuffle(seed=seed).select(range(n))


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------
def bundled_stream_for(clm: ClmSettings, max_files: int | None):
    """The bundled stream as the profile's ``clm`` knobs describe it (one place for both callers)."""
    from .galleries import resolve_gallery_sources

    root, sources = resolve_gallery_sources(clm.galleries, clm.gallery_sets)
    return bundled_stream(clm.bundled_packages or DEFAULT_BUNDLED_PACKAGES,
                          doc_examples=clm.doc_examples, max_files=max_files,
                          exclude_tests=bool(clm.exclude_tests),
                          galleries=root, gallery_sources=sources,
                          modules=bool(clm.library_modules))


def _check_columns(dataset, what: str) -> None:
    names = dataset.column_names
    if names is not None and "content" not in names:
        raise CorpusError(f"{what}: no 'content' column (columns: {names}); the corpus needs the codeparrot schema")


def _local_stream(path: Path):
    from datasets import load_dataset

    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".jsonl", ".json", ".parquet"))
    else:
        files = [path]
    if not files:
        raise CorpusError(f"{path}: no .jsonl/.json/.parquet file in this folder")
    kinds = {"parquet" if f.suffix == ".parquet" else "json" for f in files}
    if len(kinds) > 1:
        raise CorpusError(f"{path}: mixes parquet and json files; keep one format")
    return load_dataset(kinds.pop(), data_files=[str(f) for f in files], split="train", streaming=True)


CORPUS_ARTEFACT = "clm-corpus"
_CORPUS_META = "corpus.json"
# The knobs the corpus depends on (with the seed and, for local and bundled sources, what is on the disk).
_CORPUS_KNOBS = ("corpus_source", "filter_keywords", "bundled_packages", "max_scan_files", "doc_examples",
                 "exclude_tests", "galleries", "gallery_sets", "library_modules", "valid_fraction", "max_train_files",
                 "max_valid_files", "examples_repeat")


def load_raw_datasets(cfg: Any, work: str | Path | None = None):
    """The course's ``raw_datasets``: ``DatasetDict({"train", "valid"})`` with the codeparrot columns.

    ``clm.corpus_source`` picks where the files come from:

    * ``"bundled"``: installed packages (``clm.bundled_packages``) + their docstring examples,
      streamed and keyword-filtered, then split by path hash;
    * ``"huggingface-course/codeparrot-ds"``: the course's pre-filtered ``-train``/``-valid`` sets;
    * another Hub id (e.g. ``"transformersbook/codeparrot-train"``): streamed and filtered, as the
      course's first step does (``clm.max_scan_files`` caps the scan);
    * a local path: a ``save_to_disk`` folder with train/valid, or jsonl/parquet files (filtered).

    Then ``.shuffle(seed).select(...)`` keeps ``max_train_files`` / ``max_valid_files``.

    With `work` (the workspace) the corpus is built once: saved there (artefact ``clm-corpus``)
    with its report printed, and loaded back without a word by every later call with the same
    knobs, so notebooks 02-05 neither rebuild it nor repeat what notebook 01 said.
    """
    clm = settings_from(cfg, ClmSettings)
    seed = int(getattr(cfg, "seed", 42))
    if work is None:
        return build_raw_datasets(clm, seed)
    key = _corpus_cache_key(clm, seed)
    saved = _saved_corpus(Path(work), key)
    if saved is not None:
        return saved
    return _save_corpus(build_raw_datasets(clm, seed), Path(work), key)


def _corpus_cache_key(clm: ClmSettings, seed: int) -> Any:
    """Everything the corpus depends on, as JSON: the knobs, the seed, and what the source is now
    (the installed packages' versions and the galleries fetched; a local source's files)."""
    import json

    from ..assets import resolve_source

    source = resolve_source(clm.corpus_source, "clm_corpus_source")
    key: dict[str, Any] = {"seed": seed, "source": [source.kind, source.value],
                           "knobs": {name: getattr(clm, name) for name in _CORPUS_KNOBS}}
    if source.kind == "bundled":
        dists = importlib.metadata.packages_distributions()
        key["versions"] = {name: [importlib.metadata.version(d) for d in dists.get(name, [])]
                           for name in clm.bundled_packages or DEFAULT_BUNDLED_PACKAGES}
        key["galleries"] = _galleries_state(clm.galleries, clm.gallery_sets)
    elif source.kind == "local":
        root = Path(source.value)
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        key["files"] = [[f.relative_to(root).as_posix() if root.is_dir() else f.name, f.stat().st_size,
                         f.stat().st_mtime_ns] for f in files if f.is_file()]
    return json.loads(json.dumps(key, default=str))  # tuples -> lists, paths -> str: as read back


def _galleries_state(setting: Any, sets: Any = ("galleries",)) -> Any:
    """Which gallery folders are fetched (no network: a fetch needs the build, which does it)."""
    from .galleries import DONE, GalleryError, default_gallery_dir, source_version, sources_for

    if setting is None or setting is False:
        return None
    root = default_gallery_dir() if setting is True or setting == "auto" else Path(setting).expanduser()
    state = {}
    for name, source in sources_for(sets).items():
        try:
            folder = root / f"{name}-{source_version(source)}"
        except GalleryError:
            continue
        state[folder.name] = (folder / DONE).exists()
    return [str(root), state]


def _saved_corpus(work: Path, key: Any):
    """The newest complete ``clm-corpus`` run of `work` built with `key`, loaded; else None."""
    import json

    from datasets import load_from_disk

    from ..workspace import COMPLETE_MARKER

    parent = work / CORPUS_ARTEFACT
    runs = sorted((p for p in parent.iterdir() if (p / COMPLETE_MARKER).exists()), reverse=True) if parent.is_dir() else []
    for run in runs:
        try:
            if json.loads((run / _CORPUS_META).read_text()).get("key") == key:
                return load_from_disk(str(run / "data"))
        except (OSError, ValueError):
            continue
    return None


def _save_corpus(raw, work: Path, key: Any):
    """Save a freshly built corpus into a new ``clm-corpus`` run of `work` and say so (once)."""
    import json

    from datasets import load_from_disk

    from ..workspace import mark_complete, new_run_dir, shown_path

    run = new_run_dir(work, CORPUS_ARTEFACT)
    raw.save_to_disk(str(run / "data"))
    (run / _CORPUS_META).write_text(json.dumps({"key": key}, indent=1))
    mark_complete(run)
    print(f"corpus: {len(raw['train'])} train / {len(raw['valid'])} valid files, saved in {shown_path(run)} "
          "(the next notebooks reuse it)")
    return load_from_disk(str(run / "data"))


def build_raw_datasets(clm: ClmSettings, seed: int = 42):
    """:func:`load_raw_datasets` without the workspace: read, filter, split and subset the source
    (and print what the filter and the subsets did)."""
    from datasets import DatasetDict, load_dataset, load_from_disk

    from ..assets import resolve_source

    filters = clm.filter_keywords
    valid_fraction = clm.valid_fraction
    source = resolve_source(clm.corpus_source, "clm_corpus_source")

    def filtered(stream):
        if filters is None:  # explicitly "no filter": materialise as is
            from datasets import Dataset

            return Dataset.from_list(list(stream))
        return filter_streaming_dataset(stream, filters)

    if source.kind == "bundled":
        stream = bundled_stream_for(clm, clm.max_scan_files)
        raw = split_by_path(filtered(stream), valid_fraction)
    elif source.kind == "hub":
        base = source.value
        for suffix in ("-train", "-valid"):
            base = base.removesuffix(suffix)
        if base.endswith("codeparrot-ds"):
            raw = DatasetDict({
                "train": load_dataset(f"{base}-train", split="train"),
                "valid": load_dataset(f"{base}-valid", split="validation"),
            })
        else:
            stream = load_dataset(source.value, split="train", streaming=True)
            if clm.max_scan_files:
                stream = stream.take(int(clm.max_scan_files))
            raw = split_by_path(filtered(stream), valid_fraction)
    else:
        path = Path(source.value)
        if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
            loaded = load_from_disk(str(path))
            if isinstance(loaded, DatasetDict):
                if "valid" not in loaded and "validation" in loaded:
                    loaded["valid"] = loaded.pop("validation")
                if not {"train", "valid"} <= set(loaded):
                    raise CorpusError(f"{path}: expected splits 'train' and 'valid', found {list(loaded)}")
                raw = DatasetDict({"train": loaded["train"], "valid": loaded["valid"]})
            else:
                _check_columns(loaded, str(path))
                raw = split_by_path(loaded, valid_fraction)
        else:
            stream = _local_stream(path)
            raw = split_by_path(filtered(stream), valid_fraction)
    for split in ("train", "valid"):
        _check_columns(raw[split], f"{source.value} [{split}]")
    train = take_subset(raw["train"], clm.max_train_files, seed, "train")
    repeat = clm.examples_repeat
    if repeat != 1:
        train = repeat_examples(train, repeat, seed)
    return DatasetDict({
        "train": train,
        "valid": take_subset(raw["valid"], clm.max_valid_files, seed, "valid"),
    })


def repeat_examples(train, repeat: int, seed: int):
    """Give the docstring-example scripts `repeat` times their weight in the training split
    (validation is left alone). They are the one part of the bundled corpus shaped like the
    prompts (comment, then a call), and only ~2 % of its text."""
    from datasets import concatenate_datasets

    if isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        raise ValueError(f"examples_repeat must be an int >= 1, got {repeat!r}")
    if "path" not in train.column_names:
        return train
    idx = [i for i, p in enumerate(train["path"]) if str(p).startswith(EXAMPLES_PREFIX)]
    if not idx or repeat == 1:
        return train
    extra = train.select(idx * (repeat - 1))
    return concatenate_datasets([train, extra]).shuffle(seed=seed).flatten_indices()


def raw_stream(cfg: Any, max_files: int | None = None):
    """The *unfiltered* stream the course's first step filters: the bundled packages offline, or
    ``transformersbook/codeparrot-train`` (any Hub id / local jsonl) cut to `max_files` files --
    the full Hub dump is ~50 GB, which the course filters for hours."""
    from datasets import load_dataset

    from ..assets import resolve_source

    clm = settings_from(cfg, ClmSettings)
    max_files = max_files if max_files is not None else clm.max_scan_files
    source = resolve_source(clm.corpus_source, "clm_corpus_source")
    if source.kind == "bundled":
        return bundled_stream_for(clm, max_files)
    if source.kind == "hub":
        hub_id = source.value
        if hub_id.removesuffix("-train").removesuffix("-valid").endswith("codeparrot-ds"):
            hub_id = "transformersbook/codeparrot-train"  # the pre-filtered set's unfiltered origin
        stream = load_dataset(hub_id, split="train", streaming=True)
    else:
        path = Path(source.value)
        if (path / "dataset_dict.json").exists() or (path / "state.json").exists():
            from datasets import load_from_disk

            loaded = load_from_disk(str(path))
            stream = (loaded["train"] if "train" in loaded else loaded).to_iterable_dataset()
        else:
            stream = _local_stream(path)
    return stream.take(int(max_files or 2000)) if source.kind == "hub" or max_files else stream


def corpus_summary(raw) -> dict[str, dict[str, int]]:
    """Files and characters per split, and how much of it is library tests, docstring-example
    scripts and example-gallery scripts: the mix decides what the model learns to write (see
    notebook 04)."""
    from .galleries import GALLERY_PREFIX, NOTEBOOK_PREFIX

    out = {}
    for split, ds in raw.items():
        paths = [str(p) for p in ds["path"]] if "path" in ds.column_names else [""] * len(ds)
        sizes = [len(c) for c in ds["content"]]
        examples = [p.startswith(EXAMPLES_PREFIX) for p in paths]
        gallery = [p.startswith(GALLERY_PREFIX) for p in paths]
        notebook = [p.startswith(NOTEBOOK_PREFIX) for p in paths]
        tests = [not e and not g and not b and is_test_file(p) for p, e, g, b in zip(paths, examples, gallery, notebook)]
        out[split] = {
            "files": len(ds),
            "characters": sum(sizes),
            "test_files": sum(tests),
            "test_characters": sum(n for n, t in zip(sizes, tests) if t),
            "example_scripts": sum(examples),
            "example_characters": sum(n for n, e in zip(sizes, examples) if e),
            "gallery_scripts": sum(gallery),
            "gallery_characters": sum(n for n, g in zip(sizes, gallery) if g),
            "notebook_scripts": sum(notebook),
            "notebook_characters": sum(n for n, b in zip(sizes, notebook) if b),
        }
    return out


# words, names, numbers and single symbols: a count that needs no tokenizer (notebook 02 trains one)
_CODE_TOKEN = re.compile(r"\w+|[^\w\s]")


def corpus_by_source(raw) -> list[dict[str, Any]]:
    """Size of each part of the corpus per split: files, MB and code tokens (words, names, numbers
    and symbols, counted by a regular expression: the BPE of notebook 02 does not exist yet), and
    the licence, for notebook 01's table of where the text comes from."""
    from .galleries import source_of

    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for split, ds in raw.items():
        paths = [str(p) for p in ds["path"]] if "path" in ds.column_names else [""] * len(ds)
        licences = ds["license"] if "license" in ds.column_names else [""] * len(ds)
        for path, text, lic in zip(paths, ds["content"], licences):
            row = rows.setdefault((source_of(path), split), {"source": source_of(path), "split": split, "files": 0,
                                                           "MB": 0.0, "tokens": 0, "licence": set()})
            row["files"] += 1
            row["MB"] += len(text.encode()) / 1e6
            row["tokens"] += len(_CODE_TOKEN.findall(text))
            row["licence"].add(lic)
    out = sorted(rows.values(), key=lambda r: (r["split"] != "train", r["source"]))
    licences: dict[str, set[str]] = defaultdict(set)  # per source, over both splits
    for row in out:
        licences[row["source"]] |= row["licence"]
    for row in out:
        row["MB"] = round(row["MB"], 2)
        row["licence"] = ", ".join(sorted(licences[row["source"]]))
    return out
