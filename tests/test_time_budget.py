"""Training by time budget, wired into the loops (issue 16): the profile knobs, the plan written
into the run folder and kept on resume, both tracks' `fit_to_budget`, and the notebooks' rule that
an explicit step count wins. The arithmetic itself is tests/test_budget.py."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from course_utils import training
from course_utils.budget import steps_for_budget
from course_utils.profiles import get_profile
from course_utils.settings import ClmSettings, QaSettings


def fake_clock(monkeypatch, step_s=0.5, forward_s=0.1):
    """Pretend every training step takes `step_s` (the first 3x: one-off costs), every forward `forward_s`."""
    calls = []

    def steps(model, batches, n_steps, **kw):
        calls.append((len(list(batches)), n_steps, kw))
        return [3 * step_s] + [step_s] * (n_steps - 1)

    monkeypatch.setattr(training, "time_train_steps", steps)
    monkeypatch.setattr(training, "time_forward", lambda model, batches, precision="no": forward_s)
    return calls


# ------------------------------------------------------------------------------ the arithmetic
def test_calibration_on_a_copy_leaves_every_step_ahead_and_the_final_evaluation_is_paid_for():
    counted = steps_for_budget(100, [1.0] * 5)
    on_copy = steps_for_budget(100, [1.0] * 5, counted=False)
    assert counted.max_steps == 5 + 85 and on_copy.max_steps == 85  # 90 s usable, 5 s spent timing
    final = steps_for_budget(100, [1.0] * 5, counted=False, extra_s=10)
    assert final.max_steps == 75 and final.planned_s == 90.0
    assert "+ 10.0 s for the final evaluation" in final.explain()


def test_a_budget_never_lengthens_the_profiles_own_count():
    plan = steps_for_budget(1000, [0.1] * 5, counted=False, max_steps=300, warmup_fraction=0.05)
    assert plan.max_steps == 300 and plan.capped and plan.warmup_steps == 15
    assert "the profile's own count" in plan.explain()
    assert not steps_for_budget(10, [0.1] * 5, counted=False, max_steps=300).capped
    with pytest.raises(ValueError, match="max_steps must be a whole number"):
        steps_for_budget(10, [0.1], max_steps=0)


# ------------------------------------------------------------------------------ the profiles
def test_the_workshop_trains_by_time_and_ci_by_steps():
    workshop, ci = get_profile("workshop"), get_profile("ci")
    assert workshop.clm.time_budget_s and workshop.qa.time_budget_s
    assert workshop.clm.loop_settings().time_budget_s == workshop.clm.accelerate_time_budget_s
    assert workshop.qa.loop_settings().time_budget_s == workshop.qa.accelerate_time_budget_s
    assert ci.clm.time_budget_s is None and ci.qa.time_budget_s is None  # deterministic everywhere
    assert ci.clm.loop_settings().time_budget_s is None


def test_an_explicit_step_or_epoch_count_switches_the_budget_off():
    assert get_profile("workshop", clm_max_steps=200).clm.time_budget_s is None
    assert get_profile("workshop", clm_max_steps=200).clm.loop_settings().time_budget_s is None
    assert get_profile("workshop", clm_accelerate_max_steps=50).clm.time_budget_s == 420  # only 05's
    assert get_profile("workshop", clm_accelerate_max_steps=50).clm.loop_settings().time_budget_s is None
    assert get_profile("workshop", qa_num_train_epochs=2).qa.time_budget_s is None
    both = get_profile("workshop", qa_num_train_epochs=2, qa_time_budget_s=60)  # both given: the budget, capped by 2 epochs
    assert both.qa.time_budget_s == 60 and both.qa.num_train_epochs == 2
    assert get_profile("ci", clm_time_budget_s=30).clm.time_budget_s == 30.0


@pytest.mark.parametrize("bad", [0, -5, "fast"])
def test_a_bad_budget_names_the_knob(bad):
    with pytest.raises((ValueError, TypeError), match="time_budget_s"):
        get_profile("workshop", clm_time_budget_s=bad)


# ------------------------------------------------------------------------------ plan_steps
class _Tiny:
    """Stands in for a model: plan_steps only copies it and hands it to the (faked) timers."""

    def to(self, device):
        return self


def test_plan_steps_writes_the_plan_and_a_resumed_run_keeps_it(tmp_path, monkeypatch):
    calls = fake_clock(monkeypatch)
    clm = ClmSettings(max_steps=1000, warmup_steps=50, gradient_accumulation_steps=2, time_budget_s=100,
                      eval_steps=20, mixed_precision="no")
    said = []
    planned = training.plan_steps(clm, _Tiny(), [{}] * 10, tmp_path, eval_every=20, eval_batches=10,
                                  final_eval_batches=30, say=said.append)
    # 90 s usable - (1.5 + 4 x 0.5 s timing + 3 s final evaluation) = 83.5 s: 153 x 0.5 s + 7 evaluations of 1 s
    assert planned.max_steps == 153 and planned.warmup_steps == round(0.05 * 153)
    assert planned.time_budget_s == 100 and clm.max_steps == 1000  # a new settings object
    assert calls == [(10, training.CALIBRATION_STEPS, {"lr": clm.learning_rate, "precision": "no", "accumulation": 2})]
    saved = json.loads((tmp_path / training.BUDGET_FILE).read_text())
    assert saved["max_steps"] == 153 and saved["seconds_per_step"] == 0.5
    assert said and said[0].startswith("training for 153 steps")

    fake_clock(monkeypatch, step_s=5.0)  # a slower machine now: the resumed run keeps its plan
    again = training.plan_steps(clm, _Tiny(), [{}] * 10, tmp_path, say=said.append)
    assert again.max_steps == 153 and "as planned at its start" in said[-1]


def test_plan_steps_without_a_budget_changes_nothing(tmp_path, monkeypatch):
    calls = fake_clock(monkeypatch)
    clm = ClmSettings(max_steps=10)
    assert training.plan_steps(clm, _Tiny(), [{}], tmp_path) is clm
    assert not calls and not (tmp_path / training.BUDGET_FILE).exists()


def test_too_small_a_budget_says_how_much_is_needed(tmp_path, monkeypatch):
    fake_clock(monkeypatch, step_s=2.0)
    with pytest.raises(ValueError, match="clm_time_budget_s: budget_s=5.0 is too small.*give at least that"):
        training.plan_steps(ClmSettings(time_budget_s=5, max_steps=100), _Tiny(), [{}], tmp_path)


# ------------------------------------------------------------------------------ the two tracks
def test_clm_fit_to_budget_times_real_batches_with_labels(tmp_path, monkeypatch):
    from test_clm_model import tiny, tiny_lm_datasets, tiny_tokenizer

    from course_utils.clm.loop import fit_to_budget
    from course_utils.clm.model import build_model, make_collator

    tok = tiny_tokenizer()
    lm = tiny_lm_datasets(tok)
    clm = tiny(max_steps=40, warmup_steps=4, eval_steps=10, time_budget_s=60, batch_size=4)
    seen = []
    monkeypatch.setattr(training, "time_forward", lambda model, batches, precision="no": 0.01)
    real = training.time_train_steps
    monkeypatch.setattr(training, "time_train_steps",
                        lambda model, batches, n, **kw: seen.append(batches) or real(model, batches, n, **kw))
    model = build_model(tok, clm, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = fit_to_budget(clm, model, lm, make_collator(tok), tmp_path, say=lambda *_: None)
    assert 1 <= out.max_steps <= 40 and (tmp_path / training.BUDGET_FILE).is_file()  # capped by the profile's 40
    assert all("labels" in b and b["input_ids"].shape == (4, 16) for b in seen[0])
    assert all((v == model.state_dict()[k]).all() for k, v in before.items())  # timed on a copy
    assert fit_to_budget(replace(clm, time_budget_s=None), model, lm, make_collator(tok), tmp_path / "x").max_steps == 40


def test_qa_fit_to_budget_keeps_the_warmup_ratio_and_caps_at_the_epochs(tmp_path, monkeypatch):
    from course_utils.profiles import activate

    activate("ci")
    from test_qa_distributed import tiny_squad

    from course_utils.qa.data import load_qa_datasets
    from course_utils.qa.loop import build_features, fit_to_budget
    from course_utils.qa.model import load_qa_model_and_tokenizer

    cfg = activate("ci", qa_data_source=str(tiny_squad(tmp_path / "data")), qa_max_train_examples=16)
    model, tok = load_qa_model_and_tokenizer("bundled", dropout=0.0, seed=0)
    train, evals = build_features(load_qa_datasets(cfg), tok, 64, 16, dynamic_padding=True)
    calls = fake_clock(monkeypatch, step_s=0.01, forward_s=0.001)
    qa = replace(cfg.qa, max_steps=-1, num_train_epochs=2, time_budget_s=600, warmup_ratio=0.1)
    out = fit_to_budget(qa, model, train, evals, tok, tmp_path / "run", say=lambda *_: None)
    per_epoch = -(-len(train) // qa.batch_size)
    assert out.max_steps == 2 * per_epoch and out.warmup_ratio == 0.1  # the budget would allow more: capped
    from course_utils.qa.loop import QA_CALIBRATION_STEPS

    assert calls[0][1] == QA_CALIBRATION_STEPS and calls[0][2]["precision"] == qa.mixed_precision
    assert calls[0][0] == min(QA_CALIBRATION_STEPS, per_epoch)  # spread over the (tiny) epoch
