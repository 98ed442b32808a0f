"""§7 results in context (course_utils/qa/results.py): the SQuAD dev slice beside the bundled score,
the run summaries and notebook 09's comparison with notebook 08; and notebook 08's speed-up line."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from course_utils.profiles import activate

CFG = activate("ci")

from course_utils.qa import results  # noqa: E402
from course_utils.qa.loop import first_vs_best  # noqa: E402


def tiny_dev_file(folder: Path) -> Path:
    """A SQuAD v1.1 file (nested JSON, gzipped, as dev-v1.1.json.gz) of 3 articles, 6 questions."""
    data = []
    for a in range(3):
        context = f"Article {a} was written in {1900 + a} by the author Name{a} in the city of Town{a}."
        qas = [{"id": f"a{a}-year", "question": f"When was article {a} written?",
                "answers": [{"text": str(1900 + a), "answer_start": context.index(str(1900 + a))}]},
               {"id": f"a{a}-town", "question": f"In which city was article {a} written?",
                "answers": [{"text": f"Town{a}", "answer_start": context.index(f"Town{a}")},
                            {"text": f"the city of Town{a}", "answer_start": context.index("the city")}]}]
        data.append({"title": f"T{a}", "paragraphs": [{"context": context, "qas": qas}]})
    path = folder / "dev-v1.1.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump({"version": "1.1", "data": data}, f)
    return path


# ---- the slice ------------------------------------------------------------------------------
def test_the_slice_is_seeded_and_drawn_from_the_whole_file(tmp_path):
    path = tiny_dev_file(tmp_path)
    a, b = results.squad_dev_slice(4, seed=1, path=path), results.squad_dev_slice(4, seed=1, path=path)
    assert a["id"] == b["id"] and len(a) == 4
    others = {tuple(results.squad_dev_slice(4, seed=s, path=path)["id"]) for s in range(10)}
    assert len(others) > 1  # another seed, other questions
    assert len(results.squad_dev_slice(100, seed=1, path=path)) == 6  # never more than the file has


def test_no_file_no_slice_and_bad_sizes_are_refused(tmp_path):
    assert results.squad_dev_slice(4, path=tmp_path / "absent.json.gz") is None
    for bad in (0, -1, 2.5, True, None):
        with pytest.raises(ValueError, match="qa_squad_dev_questions"):
            results.squad_dev_slice(bad, path=tiny_dev_file(tmp_path))


@pytest.mark.shared_data
def test_the_real_dev_slice(shared_data):
    dev = results.squad_dev_slice(50, seed=42, path=shared_data / "squad" / "dev-v1.1.json.gz")
    assert len(dev) == 50 and len(set(dev["id"])) == 50
    assert len(set(dev["title"])) > 10  # spread over the articles, not the file's first few
    assert all(1 <= len(a["text"]) <= 6 for a in dev["answers"])


# ---- the score ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer():
    from course_utils.qa.model import load_qa_tokenizer

    return load_qa_tokenizer("bundled")


def test_a_perfect_model_scores_100_on_the_slice(tmp_path, tokenizer, monkeypatch):
    """Windows, logits and examples stay aligned: logits that mark every window's answer give
    EM = F1 = 100 (the logits are the oracle's, so only the bookkeeping is tested)."""
    from course_utils.qa import postprocess

    path = tiny_dev_file(tmp_path)
    seen = {}

    def oracle(model, features, batch_size=32):
        seen["windows"] = len(features)
        return postprocess.oracle_logits(features, results.squad_dev_slice(5, 42, path))

    monkeypatch.setattr(postprocess, "predict_logits", oracle)
    cfg = activate("ci", qa_max_length=32, qa_stride=8, qa_squad_dev_questions=5)
    score = results.score_on_squad_dev(None, tokenizer, cfg, path=path)
    assert score["kind"] == "slice" and score["questions"] == 5
    assert score["windows"] == seen["windows"] >= 5
    assert score["exact_match"] == pytest.approx(100.0) and score["f1"] == pytest.approx(100.0)


def test_an_untrained_head_scores_low_on_the_slice(tmp_path, tokenizer):
    from course_utils.qa.model import load_qa_model

    model = load_qa_model("bundled", dropout=0.0, seed=0)
    score = results.score_on_squad_dev(model, tokenizer, CFG, n=6, path=tiny_dev_file(tmp_path))
    assert score["kind"] == "slice" and score["questions"] == 6
    assert 0.0 <= score["exact_match"] <= score["f1"] < 60.0


def test_without_the_file_the_reference_and_with_dev_as_validation_nothing(tmp_path):
    absent = results.score_on_squad_dev(None, None, CFG, path=tmp_path / "absent.json.gz")
    assert absent["kind"] == "reference" and absent["f1"] == results.SQUAD_DEV_REFERENCE["f1"]
    assert results.score_on_squad_dev(None, None, activate("ci", qa_data_source="squad"))["kind"] == "validation"
    on_dev = activate("ci", qa_eval_source=str(tmp_path / "dev-v1.1.json.gz"))
    assert results.score_on_squad_dev(None, None, on_dev)["kind"] == "validation"


def test_the_printed_lines_name_the_model_and_label_the_reference():
    bundled = {"exact_match": 80.0, "f1": 90.0}
    sliced = results.dev_score_lines(bundled, {"kind": "slice", "questions": 8, "exact_match": 12.5, "f1": 20.25}, 24, "Trainer model")
    assert len(sliced) == 2 and all(line.startswith("Trainer model") for line in sliced)
    assert "F1  90.0" in sliced[0] and "(8 questions)" in sliced[1] and "F1  20.2" in sliced[1]
    ref = results.dev_score_lines(bundled, {"kind": "reference", **results.SQUAD_DEV_REFERENCE}, 24, "Loop model")
    assert "Measured elsewhere" in ref[1] and results.SQUAD_DEV_REFERENCE["date"] in ref[1]
    assert results.SQUAD_DEV_REFERENCE["machine"] in ref[1] and "1,000 dev questions" in ref[1]
    assert "already is real SQuAD dev" in results.dev_score_lines(bundled, {"kind": "validation"}, 24, "m")[1]
    with pytest.raises(ValueError, match="unknown"):
        results.dev_score_lines(bundled, {"kind": "other"}, 24, "m")


# ---- summaries and the comparison of notebook 09 with 08 ---------------------------------------
def summary(tmp_path: Path, name: str, **changes):
    args = dict(loop=name, settings=CFG.qa, steps=12, seconds=30.0, exact_match=50.0, f1=60.0, eval_questions=24,
                train_windows=40, mixed_precision="no", max_grad_norm=1.0, dev=None)
    args.update(changes)
    folder = tmp_path / name
    folder.mkdir()
    results.save_run_summary(folder, **args)
    return results.load_run_summary(folder)


def test_a_summary_round_trips_and_counts_epochs_in_optimizer_steps(tmp_path):
    s = summary(tmp_path, "a", steps=7, train_windows=40, dev={"kind": "slice", "questions": 8, "f1": 3.0})
    assert s["steps"] == 7 and s["epochs"] == round(7 / 5, 2)  # ci: batches of 8, 40 windows -> 5 steps an epoch
    assert s["eval_set"] == ["bundled", 24] and s["dev"]["f1"] == 3.0
    assert summary(tmp_path, "b", dev={"kind": "reference", "f1": 44.2})["dev"] is None  # only measured slices
    assert results.load_run_summary(tmp_path / "nowhere") is None and results.load_run_summary(None) is None
    with pytest.raises(ValueError, match="train_windows"):
        summary(tmp_path, "c", train_windows=0)


def test_the_differences_are_the_settings_that_differ(tmp_path):
    trainer = summary(tmp_path, "Trainer", steps=20, max_grad_norm=1.0)
    loop = summary(tmp_path, "Loop", steps=12, max_grad_norm=None)
    found = results.loop_differences(loop, trainer)
    assert len(found) == 3  # steps, epochs, clipping; the rest is equal
    assert found[0] == "optimizer steps: Trainer 20, Loop 12"
    assert any(d.startswith("gradient clipping") and "Trainer 1.0, Loop None" in d for d in found)
    assert results.loop_differences(loop, loop) == []


def test_the_comparison_prints_both_runs_the_gap_and_what_differed(tmp_path):
    trainer = summary(tmp_path, "Trainer (notebook 08)", f1=70.0, max_grad_norm=1.0,
                      dev={"kind": "slice", "questions": 8, "exact_match": 0.0, "f1": 10.0})
    loop = summary(tmp_path, "Accelerate loop (notebook 09)", f1=64.5, max_grad_norm=None,
                   dev={"kind": "slice", "questions": 8, "exact_match": 0.0, "f1": 12.0})
    lines = results.compare_with_trainer_run(loop, trainer)
    assert lines[0].startswith("Trainer (notebook 08)") and "F1  70.0" in lines[0]
    assert lines[1].startswith("Accelerate loop (notebook 09)") and "F1  64.5" in lines[1]
    assert "-5.5 points" in lines[2]
    assert "notebook 08 F1 10.0, this loop F1 12.0" in lines[3]
    assert any("gradient clipping" in line for line in lines) and "order of the batches" in lines[-1]


def test_no_run_of_08_or_another_validation_set_gives_no_numbers(tmp_path):
    loop = summary(tmp_path, "loop")
    alone = results.compare_with_trainer_run(loop, None)
    assert len(alone) == 1 and "no finished run of notebook 08" in alone[0]
    assert not any(c.isdigit() for c in alone[0].replace("notebook 08", ""))  # no score, no step count
    other = summary(tmp_path, "trainer", eval_questions=173)
    lines = results.compare_with_trainer_run(loop, other)
    assert len(lines) == 1 and "not comparable" in lines[0] and "F1" not in lines[0]


# ---- notebook 08's speed table --------------------------------------------------------------
def test_first_vs_best_picks_the_fastest_row_not_the_last():
    table = {"1. course": 2.0, "2. dynamic": 1.0, "3. knobs": 0.5, "4. bf16": 4.0}  # bf16 emulated: slower
    assert first_vs_best(table) == ("3. knobs", pytest.approx(4.0))
    assert first_vs_best({"1. course": 1.0}) == ("1. course", pytest.approx(1.0))
    assert first_vs_best({"1. course": 1.0, "2. slower": 2.0}) == ("1. course", pytest.approx(1.0))
    with pytest.raises(ValueError, match="empty"):
        first_vs_best({})
    with pytest.raises(ValueError, match="> 0"):
        first_vs_best({"1": 1.0, "2": 0.0})
