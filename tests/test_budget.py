"""Training by time budget: steps_for_budget with made-up timings (no clock, no torch)."""
from __future__ import annotations

import pytest

from course_utils.budget import SAFETY_MARGIN, BudgetPlan, steps_for_budget


def test_steps_fill_the_budget_less_the_margin():
    # 10 calibration steps: a slow first one (kernel selection), then 0.74 s each.
    cal = [3.0] + [0.74] * 9
    plan = steps_for_budget(600, cal, warmup_fraction=0.05)
    assert SAFETY_MARGIN == 0.10
    # 540 s usable; 9.66 s spent in calibration; (540 - 9.66) / 0.74 = 716.7 -> 716 more steps.
    assert plan.max_steps == 10 + 716
    assert plan.seconds_per_step == 0.74 and plan.calibration_steps == 10
    assert plan.warmup_steps == round(0.05 * 726) == 36
    assert plan.planned_s == pytest.approx(9.66 + 716 * 0.74, abs=0.1) and plan.planned_s <= 540
    assert plan.explain() == ("training for 726 steps (warm-up 36): 0.74 s/step (median of 10 timed steps), "
                              "about 540 s of the budget 600 s (10% kept spare)")


def test_the_median_ignores_one_slow_step_and_the_first():
    plan = steps_for_budget(100, [9.0, 1.0, 1.0, 5.0, 1.0])  # the first and one disturbed step
    assert plan.seconds_per_step == 1.0
    assert plan.max_steps == 5 + int((90 - 17) / 1.0)
    assert steps_for_budget(100, [2.0]).seconds_per_step == 2.0  # one step: that is all there is


def test_evaluations_are_paid_for():
    cal = [0.5] * 4
    without = steps_for_budget(1000, cal)
    with_eval = steps_for_budget(1000, cal, eval_s=30.0, eval_every=200)
    assert without.max_steps == 4 + int((900 - 2.0) / 0.5) == 1800
    # Every 200 steps cost 100 s of steps + 30 s of evaluation.
    assert with_eval.max_steps < without.max_steps
    assert with_eval.planned_s <= 900
    n = with_eval.max_steps
    assert 2.0 + (n - 4) * 0.5 + (n // 200) * 30 <= 900 < 2.0 + (n + 1 - 4) * 0.5 + ((n + 1) // 200) * 30
    assert with_eval.evaluations == n // 200
    assert f"+ {n // 200} evaluations of 30.0 s" in with_eval.explain()


def test_warmup_keeps_the_profiles_fraction_and_stays_below_the_run():
    assert steps_for_budget(100, [1.0] * 5, warmup_fraction=0.1).warmup_steps == 9  # 0.1 x 90
    assert steps_for_budget(100, [1.0] * 5).warmup_steps == 0
    tiny = steps_for_budget(10, [1.0, 1.0], warmup_fraction=0.9)
    assert tiny.max_steps == 9 and tiny.warmup_steps == 8  # never the whole run


def test_a_plan_is_a_plain_record():
    plan = steps_for_budget(60, [0.5, 0.5])
    assert isinstance(plan, BudgetPlan) and plan.budget_s == 60.0 and plan.eval_every == 0 and plan.evaluations == 0


@pytest.mark.parametrize("budget", [0, -5, float("nan")])
def test_bad_budgets_are_refused(budget):
    with pytest.raises((ValueError, TypeError), match="budget_s"):
        steps_for_budget(budget, [1.0])


def test_a_budget_too_small_for_the_calibration_says_what_is_needed():
    with pytest.raises(ValueError, match=r"too small: the 10 calibration steps alone took 20.0 s .* about 22 s"):
        steps_for_budget(15, [2.0] * 10)
    with pytest.raises(ValueError, match=r"50 steps need about 111 s"):
        steps_for_budget(60, [2.0] * 10, min_steps=50)


def test_bad_timings_and_knobs_name_the_argument():
    with pytest.raises(ValueError, match="calibration_s must be a non-empty list"):
        steps_for_budget(60, [])
    with pytest.raises(ValueError, match=r"calibration_s\[1\] must be > 0"):
        steps_for_budget(60, [1.0, 0.0])
    with pytest.raises(TypeError, match=r"calibration_s\[0\]"):
        steps_for_budget(60, ["1.0"])
    with pytest.raises(ValueError, match="needs eval_every"):
        steps_for_budget(60, [1.0], eval_s=5.0)
    with pytest.raises(ValueError, match="warmup_fraction"):
        steps_for_budget(60, [1.0], warmup_fraction=1.0)
    with pytest.raises(ValueError, match="min_steps"):
        steps_for_budget(60, [1.0], min_steps=0)


def test_batches_of_varying_length_are_averaged_by_their_mean():
    cal = [2.0, 0.1, 0.1, 0.1, 0.5]  # dynamic padding: one long batch in four
    assert steps_for_budget(100, cal, average="median").seconds_per_step == 0.1
    mean = steps_for_budget(100, cal, average="mean")
    assert mean.seconds_per_step == 0.2 and "(mean of 5 timed steps)" in mean.explain()
    with pytest.raises(ValueError, match="average must be"):
        steps_for_budget(100, cal, average="mode")
