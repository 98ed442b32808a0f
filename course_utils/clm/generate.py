"""§6 step 5, "Code generation with a pipeline": completing the course's four prompts, and a check
against a trivial baseline on prompts taken from held-out files.

Greedy decoding of a small model easily falls into a loop (the same line again and again). Two
things stop that here: generation ends at the end of the first non-empty line when the lesson
wants one line, and a mild repetition penalty discourages re-emitting the same tokens.

transformers' ``repetition_penalty`` penalises every token of the *prompt* as well, and code
completion must reuse the prompt's names (``x, y``, ``df``, the class just imported): on the 816
held-out data-science prompts of the workshop corpus the model's similarity to the true line was
0.337 with it and 0.411 without (repeat-the-last-line baseline: 0.326). So ``complete`` applies
the penalty to the tokens it generated only (transformers' ``RepetitionPenaltyLogitsProcessor``
with ``prompt_ignore_length``, which ``generate``'s own ``repetition_penalty`` argument does not
set); ``penalize_prompt=True`` gives the library's default behaviour.
``no_repeat_ngram_size`` is offered but off by default, for the same reason: it bans every n-gram
of the prompt too.
"""
from __future__ import annotations

import difflib
import random
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

__all__ = [
    "CoursePrompt",
    "COURSE_PROMPTS",
    "load_generator",
    "complete",
    "first_line",
    "run_course_prompts",
    "comment_prompts",
    "held_out_prompt_sets",
    "repeat_last_line",
    "compare_with_repeat_baseline",
    "line_logprob",
    "answer_logprobs",
    "comment_sensitivity",
    "trainer_run_steps",
    "model_at_step",
    "keytoken_count",
    "completions_side_by_side",
    "side_by_side_totals",
]


@dataclass(frozen=True)
class CoursePrompt:
    name: str
    prompt: str
    expected: str  # regular expression of the API call the completion should make
    api: str  # the same, for people
    answer: str = ""  # the line the course's own model (codeparrot-ds) wrote


# The course's four prompts, verbatim (the last one starts with an empty line, as in the course).
COURSE_PROMPTS: tuple[CoursePrompt, ...] = (
    CoursePrompt(
        "scatter",
        "# create some data\nx = np.random.randn(100)\ny = np.random.randn(100)\n\n# create scatter plot with x, y\n",
        r"plt\.scatter\(", "plt.scatter(...)", "plt.scatter(x, y)",
    ),
    CoursePrompt(
        "dataframe",
        "# create some data\nx = np.random.randn(100)\ny = np.random.randn(100)\n\n# create dataframe from x and y\n",
        r"pd\.DataFrame\(", "pd.DataFrame(...)", "df = pd.DataFrame({'x': x, 'y': y})",
    ),
    CoursePrompt(
        "groupby",
        "# dataframe with profession, income and name\ndf = pd.DataFrame({'profession': x, 'income':y, 'name': z})\n\n"
        "# calculate the mean income per profession\n",
        r"groupby\(.*\)(\[.*\])?\.mean\(", "df.groupby(...).mean()",
        "profession = df.groupby(['profession']).mean()",
    ),
    CoursePrompt(
        "random_forest",
        "\n# import random forest regressor from scikit-learn\nfrom sklearn.ensemble import RandomForestRegressor\n\n"
        "# fit random forest model with 300 estimators on X, y:\n",
        r"RandomForestRegressor\(\s*n_estimators\s*=\s*300", "RandomForestRegressor(n_estimators=300 ...)",
        "rf = RandomForestRegressor(n_estimators=300, random_state=random_state, max_depth=3)",
    ),
)


def load_generator(model: Any, tokenizer: Any = None, device: Any = None):
    """``pipeline("text-generation", model=...)`` from a folder, a model object or a Hub id.

    The device is the GPU when there is one (the course passes ``device=0``).
    """
    import torch
    from transformers import pipeline

    if device is None:
        device = 0 if torch.cuda.is_available() else -1
    if tokenizer is None and not isinstance(model, str):
        raise ValueError("a model object needs its tokenizer: load_generator(model, tokenizer)")
    pipe = pipeline("text-generation", model=str(model) if not hasattr(model, "generate") else model,
                    tokenizer=tokenizer, device=device)
    if pipe.tokenizer.pad_token_id is None:
        pipe.tokenizer.pad_token = pipe.tokenizer.eos_token
    return pipe


def _newline_stopper(tokenizer: Any, prompt_len: int):
    """Stop once the generated text holds a complete non-empty line."""
    from transformers import StoppingCriteria

    class StopAtLineEnd(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            import torch

            done = []
            for row in input_ids:
                text = tokenizer.decode(row[prompt_len:], skip_special_tokens=True)
                done.append(bool(re.search(r"\S[^\n]*\n", text)))
            return torch.tensor(done, device=input_ids.device)

    return StopAtLineEnd()


def _code_line_processor(tokenizer: Any, prompt_len: int):
    """Ask for a line of *code*: while the completion is still blank, tokens that would start a
    comment or end the line are forbidden.

    After a ``# do this`` comment, library code (our offline corpus) most often continues with
    another comment line; the lesson wants the code that the comment asks for.
    """
    import torch
    from transformers import LogitsProcessor

    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    texts = [tokenizer.convert_tokens_to_string([t]) if t is not None else "" for t in vocab]
    banned = torch.tensor([t.lstrip(" \t").startswith("#") or "\n" in t or t.strip() == "" and "\n" in t for t in texts])
    if tokenizer.eos_token_id is not None:
        banned[tokenizer.eos_token_id] = True

    class CodeFirst(LogitsProcessor):
        def __call__(self, input_ids, scores):
            for row in range(input_ids.shape[0]):
                if tokenizer.decode(input_ids[row, prompt_len:]).strip() == "":
                    scores[row, : banned.shape[0]] = scores[row, : banned.shape[0]].masked_fill(banned.to(scores.device), float("-inf"))
            return scores

    return CodeFirst()


def first_line(text: str) -> str:
    """The first non-empty line of a completion, without its indentation's trailing spaces."""
    for line in text.splitlines():
        if line.strip():
            return line.rstrip()
    return ""


def _fit_prompt(tok: Any, prompt: str, max_new_tokens: int, n_positions: int | None) -> tuple[str, int]:
    """The prompt and its length in tokens, cut from the front when prompt + new tokens would not
    fit: a GPT-2 has no position beyond ``n_positions``; the end of the prompt is nearest the answer."""
    prompt_ids = tok(prompt)["input_ids"]
    if n_positions is None or len(prompt_ids) + max_new_tokens <= n_positions:
        return prompt, len(prompt_ids)
    keep = n_positions - max_new_tokens
    if keep < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens} leaves no room for the prompt in n_positions={n_positions}")
    return tok.decode(prompt_ids[-keep:]), keep


def complete(
    pipe: Any,
    prompt: str,
    *,
    max_new_tokens: int = 32,
    one_line: bool = True,
    temperature: float = 0.0,
    top_k: int = 50,
    repetition_penalty: float = 1.1,
    penalize_prompt: bool = False,
    no_repeat_ngram_size: int = 0,
    code_only: bool = True,
    seed: int = 0,
) -> str:
    """The text the model adds after `prompt` (greedy when ``temperature`` is 0).

    With ``one_line`` generation stops at the end of the first non-empty line and only that
    line is returned; with ``code_only`` (and ``one_line``) that line must be code, not another
    comment. ``repetition_penalty`` applies to the generated tokens only, unless
    ``penalize_prompt`` (transformers' own behaviour: the prompt's tokens are penalised too).
    """
    import torch
    from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor, StoppingCriteriaList

    if not isinstance(prompt, str) or not prompt:
        raise ValueError("prompt must be a non-empty string")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens={max_new_tokens} must be >= 1")
    if isinstance(repetition_penalty, bool) or not isinstance(repetition_penalty, (int, float)) or not repetition_penalty > 0:
        raise ValueError(f"repetition_penalty must be a number > 0 (1.0 = none), got {repetition_penalty!r}")
    tok = pipe.tokenizer
    kwargs: dict[str, Any] = dict(
        max_new_tokens=int(max_new_tokens),
        return_full_text=False,
        repetition_penalty=float(repetition_penalty) if penalize_prompt else 1.0,
        pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
    )
    if no_repeat_ngram_size:
        kwargs["no_repeat_ngram_size"] = int(no_repeat_ngram_size)
    if temperature and temperature > 0:
        torch.manual_seed(seed)
        kwargs.update(do_sample=True, temperature=float(temperature), top_k=int(top_k))
    else:
        kwargs.update(do_sample=False)
    prompt, prompt_len = _fit_prompt(tok, prompt, int(max_new_tokens), getattr(pipe.model.config, "n_positions", None))
    processors = LogitsProcessorList()
    if not penalize_prompt and repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(float(repetition_penalty), prompt_ignore_length=prompt_len))
    if one_line:
        kwargs["stopping_criteria"] = StoppingCriteriaList([_newline_stopper(tok, prompt_len)])
        if code_only:
            processors.append(_code_line_processor(tok, prompt_len))
    if processors:
        kwargs["logits_processor"] = processors
    text = pipe(prompt, **kwargs)[0]["generated_text"]
    return first_line(text) if one_line else text


def run_course_prompts(pipe: Any, prompts: Sequence[CoursePrompt] = COURSE_PROMPTS, **kwargs: Any) -> list[dict[str, Any]]:
    """Complete each course prompt with one line; say whether it calls the intended API."""
    rows = []
    for p in prompts:
        line = complete(pipe, p.prompt, **kwargs)
        rows.append({"prompt": p.name, "completion": line, "expected": p.api, "ok": bool(re.search(p.expected, line))})
    return rows


_COMMENT = re.compile(r"^\s*#\s*[A-Za-z].{8,}$")


def comment_prompts(texts: Iterable[str], n: int = 40, context_lines: int = 12, seed: int = 0) -> list[dict[str, str]]:
    """Real prompts in the course's style from held-out files: code, a ``# comment`` line, and the
    code line that follows it (the answer). Only comments that introduce one line of code are used.
    """
    found = []
    for text in texts:
        if not isinstance(text, str):
            continue
        lines = text.splitlines()
        for i in range(1, len(lines) - 1):
            line, nxt = lines[i], lines[i + 1]
            if not _COMMENT.match(line) or not nxt.strip() or nxt.strip().startswith("#"):
                continue
            if nxt.strip().startswith(('"""', "'''")) or len(nxt.strip()) < 6:
                continue
            start = max(0, i - context_lines)
            before = [l for l in lines[start:i] if l.strip()]
            if not any(not l.strip().startswith("#") for l in before):
                continue  # the baseline needs a code line to repeat
            found.append({"prompt": "\n".join(lines[start:i + 1]) + "\n", "truth": nxt.strip()})
    random.Random(seed).shuffle(found)
    return found[:n]


def held_out_prompt_sets(valid: Any, n: int = 40, seed: int = 0) -> dict[str, list[dict[str, str]]]:
    """Comment-then-code prompts from the validation split, in sets that score very differently.

    ``"data-science scripts"`` come from the held-out docstring-example scripts (``import pandas as
    pd``, then calls): the kind of prompt the lesson is about. ``"gallery scripts"`` come from the
    held-out example-gallery scripts of scikit-learn, matplotlib and seaborn (when the corpus has
    them): real scripts written for readers (only these three, so corpora with more galleries are
    scored on the same prompts). ``"held-out notebooks"`` come from the notebooks of packages held
    out whole (``galleries.HELD_OUT``): code written the way people explore data, by packages the
    model never read. ``"library code"`` comes from the libraries' own modules, where the next line
    is argument checking or plumbing and repeating the previous line is a strong guess. A set with
    no prompt (a tiny corpus, no galleries) is left out.
    """
    from .corpus import EXAMPLES_PREFIX
    from .galleries import GALLERY_PREFIX, NOTEBOOK_PREFIX, SOURCE_SETS, SOURCES, is_held_out

    paths = [str(p) for p in valid["path"]] if "path" in valid.column_names else [""] * len(valid)
    # by path, not in the split's (shuffled) order: the same held-out file gives the same prompts
    # whatever else the corpus holds, so models trained on different mixes are scored alike
    pairs = sorted(zip(paths, valid["content"]), key=lambda pt: pt[0])
    paths, texts = [p for p, _ in pairs], [t for _, t in pairs]
    first_galleries = tuple(SOURCES[name].prefix for name in SOURCE_SETS["galleries"])
    scripts = [t for p, t in zip(paths, texts) if p.startswith(EXAMPLES_PREFIX)]
    gallery = [t for p, t in zip(paths, texts) if p.startswith(first_galleries)]
    notebooks = [t for p, t in zip(paths, texts) if is_held_out(p)]
    library = [t for p, t in zip(paths, texts) if not p.startswith((EXAMPLES_PREFIX, GALLERY_PREFIX, NOTEBOOK_PREFIX))]
    sets = {"data-science scripts": comment_prompts(scripts, n=n, seed=seed),
            "gallery scripts": comment_prompts(gallery, n=n, seed=seed),
            "held-out notebooks": comment_prompts(notebooks, n=n, seed=seed),
            "library code": comment_prompts(library, n=n, seed=seed)}
    return {name: prompts for name, prompts in sets.items() if prompts}


def repeat_last_line(prompt: str) -> str:
    """The baseline: predict that the next line repeats the prompt's last code line."""
    for line in reversed(prompt.splitlines()):
        if line.strip() and not line.strip().startswith("#"):
            return line.strip()
    return ""


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.strip(), b.strip()).ratio()


def compare_with_repeat_baseline(pipe: Any, prompts: Sequence[dict[str, str]], **kwargs: Any) -> dict[str, Any]:
    """Mean character similarity (difflib ratio, 0..1) of the model's first line and of the
    repeat-the-last-line baseline to the true next line, plus exact matches and wins."""
    if not prompts:
        raise ValueError("no prompts to compare on")
    rows = []
    for p in prompts:
        pred = complete(pipe, p["prompt"], **kwargs).strip()
        base = repeat_last_line(p["prompt"])
        rows.append({"truth": p["truth"], "model": pred, "baseline": base,
                     "model_sim": _similarity(pred, p["truth"]), "baseline_sim": _similarity(base, p["truth"])})
    n = len(rows)
    return {
        "n": n,
        "model_similarity": sum(r["model_sim"] for r in rows) / n,
        "baseline_similarity": sum(r["baseline_sim"] for r in rows) / n,
        "model_exact": sum(r["model"] == r["truth"] for r in rows),
        "baseline_exact": sum(r["baseline"] == r["truth"] for r in rows),
        "model_wins": sum(r["model_sim"] > r["baseline_sim"] for r in rows),
        "baseline_wins": sum(r["model_sim"] < r["baseline_sim"] for r in rows),
        "rows": rows,
    }


# --------------------------------------------------------------------------------------------
# Does the model read the comment?
# --------------------------------------------------------------------------------------------


def line_logprob(model: Any, tokenizer: Any, prompt: str, line: str, per_token: bool = False) -> float:
    """Log-probability (nats) that the model writes `line` and its newline right after `prompt`;
    with ``per_token`` its mean over the line's tokens, which is what to compare between lines of
    different lengths (a long line's sum is low because it is long, not because it is unlikely).

    Greedy decoding shows only the favourite line; this says how far behind the intended one is.
    The tokens are those of ``prompt + line`` (a BPE may merge the prompt's last newline with the
    line's indentation): every token that covers a character of the line is scored, and only the
    ``n_positions`` tokens nearest the line are fed to the model.
    """
    import torch

    if not isinstance(prompt, str) or not isinstance(line, str) or not line.strip():
        raise ValueError("prompt must be a string and line a non-empty string")
    text = prompt + line.rstrip("\n") + "\n"
    enc = tokenizer(text, return_offsets_mapping=True)
    ids, offsets = enc["input_ids"], enc["offset_mapping"]
    first = next(i for i, (_, end) in enumerate(offsets) if end > len(prompt))
    if first == 0:  # the line is the first token: condition on the EOS token, as at a file start
        ids, first = [tokenizer.eos_token_id] + list(ids), 1
    limit = getattr(model.config, "n_positions", None) or len(ids)
    if len(ids) - first >= limit:
        raise ValueError(f"the line alone is {len(ids) - first} tokens, more than n_positions={limit}")
    start = max(0, len(ids) - limit)
    window = torch.tensor([ids[start:]], device=model.device)
    with torch.no_grad():
        logits = model(window).logits[0, :-1].float().log_softmax(-1)
    targets = window[0, 1:]
    scores = logits[torch.arange(len(targets)), targets][first - start - 1:]
    return float(scores.mean() if per_token else scores.sum())


def answer_logprobs(model: Any, tokenizer: Any, candidates: dict[str, Sequence[str]],
                    prompts: Sequence[CoursePrompt] = COURSE_PROMPTS) -> list[dict[str, Any]]:
    """For each course prompt, the log-probability of some candidate lines (the intended call, the
    model's own favourite, ...): in all and per token, best per token first (the lines differ in
    length), so how far the intended answer is from being chosen."""
    rows = []
    for p in prompts:
        for line in candidates.get(p.name, ()):
            rows.append({"prompt": p.name, "line": line, "logprob": round(line_logprob(model, tokenizer, p.prompt, line), 2),
                         "per_token": round(line_logprob(model, tokenizer, p.prompt, line, per_token=True), 2),
                         "intended": bool(re.search(p.expected, line))})
    rows.sort(key=lambda r: (r["prompt"], -r["per_token"]))
    return rows


def _with_comment_of(prompt: str, other: str) -> str:
    """`prompt` with its last line (the comment) replaced by the last line of `other`."""
    lines, comment = prompt.rstrip("\n").splitlines(), other.rstrip("\n").splitlines()[-1]
    return "\n".join(lines[:-1] + [comment]) + "\n"


def comment_sensitivity(model: Any, tokenizer: Any, prompts: Sequence[dict[str, str]], seed: int = 0) -> dict[str, Any]:
    """Does the model read the comment? Each prompt's true next line is scored after its own
    comment and after the comment of another prompt (drawn at random). A model that ignores
    comments scores both alike (mean gain 0, own comment better half the time); one that reads
    them gains log-probability from its own comment.
    """
    if len(prompts) < 2:
        raise ValueError("comment_sensitivity needs at least two prompts (each borrows another's comment)")
    rng = random.Random(seed)
    gains = []
    for i, p in enumerate(prompts):
        j = rng.randrange(len(prompts) - 1)
        j += j >= i  # any prompt but this one
        own = line_logprob(model, tokenizer, p["prompt"], p["truth"])
        swapped = line_logprob(model, tokenizer, _with_comment_of(p["prompt"], prompts[j]["prompt"]), p["truth"])
        gains.append(own - swapped)
    return {"n": len(gains), "mean_gain": sum(gains) / len(gains),
            "own_better": sum(g > 0 for g in gains) / len(gains), "gains": gains}


# --------------------------------------------------------------------------------------------
# Two models on the same prompts (notebook 05: what the key-token weighting did)
# --------------------------------------------------------------------------------------------


def trainer_run_steps(run_dir: Any) -> int | None:
    """The optimizer steps a finished ``Trainer`` run of notebook 03 took (its ``log_history.json``),
    or None when the folder holds no such record."""
    import json
    from pathlib import Path

    from .loop import LOG_HISTORY

    path = Path(run_dir) / LOG_HISTORY
    if not path.exists():
        return None
    steps = [row["step"] for row in json.loads(path.read_text()) if isinstance(row, dict) and "step" in row]
    return max(steps) if steps else None


def model_at_step(run_dir: Any, step: int) -> tuple[Any, int | None]:
    """The model of a notebook-03 run to compare at `step`: the final model when the run ended
    there, else its ``checkpoint-<step>`` when one was kept, else the final model. Returns the folder
    and the steps that model had trained (None: unknown), so a comparison can say what it compares."""
    from pathlib import Path

    run_dir = Path(run_dir)
    final_steps = trainer_run_steps(run_dir)
    if final_steps == step:
        return run_dir, step
    checkpoint = run_dir / f"checkpoint-{step}"
    if (checkpoint / "config.json").exists():
        return checkpoint, step
    return run_dir, final_steps


def keytoken_count(tokenizer: Any, text: str, keytoken_ids: Sequence[int]) -> int:
    """How many of the loss's key tokens (``plt``, ``pd``, ...) `text` holds, counted as the
    key-token loss counts them: token ids, not substrings."""
    import torch

    from .loss import keytoken_weights

    ids = tokenizer(text)["input_ids"] if text else []
    if not ids:
        return 0
    return int(keytoken_weights(torch.tensor([ids]), keytoken_ids)[0].item()) - 1  # alpha * (1 + count), alpha 1


def completions_side_by_side(pipes: dict[str, Any], prompts: Sequence[Any], **kwargs: Any) -> list[dict[str, Any]]:
    """One row per prompt with each model's one-line completion (the same decoding for all, so a
    difference comes from the training). A course prompt (:class:`CoursePrompt`) adds whether each
    completion calls the intended API (``<model> ok``); a held-out prompt (``{"prompt", "truth"}``)
    adds the true line and each completion's similarity to it (``<model> sim``, 0..1)."""
    if not pipes:
        raise ValueError("completions_side_by_side needs at least one model")
    rows = []
    for p in prompts:
        course = isinstance(p, CoursePrompt)
        text = p.prompt if course else p["prompt"]
        row: dict[str, Any] = {"prompt": p.name} if course else {"truth": p["truth"]}
        lines = {name: complete(pipe, text, **kwargs) for name, pipe in pipes.items()}
        row.update(lines)
        for name, line in lines.items():
            if course:
                row[f"{name} ok"] = bool(re.search(p.expected, line))
            else:
                row[f"{name} sim"] = round(_similarity(line, p["truth"]), 2)
        rows.append(row)
    return rows


def side_by_side_totals(rows: Sequence[dict[str, Any]], names: Sequence[str], tokenizer: Any,
                        keytoken_ids: Sequence[int]) -> dict[str, dict[str, Any]]:
    """Per model, over :func:`completions_side_by_side` rows: key tokens written, intended API calls
    (course prompts) and mean similarity to the true line (held-out prompts), where there are any."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        ok = [r[f"{name} ok"] for r in rows if f"{name} ok" in r]
        sim = [r[f"{name} sim"] for r in rows if f"{name} sim" in r]
        out[name] = {"key_tokens": sum(keytoken_count(tokenizer, r[name], keytoken_ids) for r in rows),
                     "ok": sum(ok) if ok else None, "of": len(ok),
                     "similarity": sum(sim) / len(sim) if sim else None}
    return out
