"""Training by time budget: how many steps fit into the minutes a workshop has.

A fixed ``max_steps`` suits only the machine it was chosen on: the workshop's 1,000 GPT-2 steps
take 8 minutes on an AMX Xeon and 23 on a CPU without AMX. With a wall-clock budget the loop
instead times its first few steps (the *calibration*), and :func:`steps_for_budget` turns those
seconds into the ``max_steps`` that ends inside the budget; the learning-rate schedule (warm-up,
then decay to the end) is then built for that count, so a slow laptop runs a shorter but complete
schedule rather than a cut-off one.

The rule, in plain numbers:

* a step costs the **median** of the calibration steps after the first (the first step pays for
  one-off work: kernel selection, lazy allocation, the data loader's start) -- the median, not the
  mean, so one step slowed by another process does not shrink the run; except where the batches
  differ in length (dynamic padding): there the steps are sampled across an epoch and their
  **mean** is what the epoch costs (``average="mean"``);
* each evaluation costs what it was measured (or estimated) to cost, ``eval_every`` steps apart;
* only ``1 - SAFETY_MARGIN`` of the budget (90%) is planned for: steps on a shared laptop vary, and
  ending a little early is better than running over;
* the steps already taken (the calibration) count towards the run when they were steps of the
  run itself; when they were timed on a copy of the model (``counted=False``, what
  :func:`course_utils.training.plan_steps` does, so the schedule is known before step 1) all the
  planned steps still lie ahead, and only the calibration's seconds are spent;
* one-off work after the last step (the final evaluation on every validation example) is paid
  for up front (``extra_s``).

Pure arithmetic on numbers the loop hands in: no torch, no clock, so it is tested with made-up
timings and the loops (Trainer callback or Accelerate loop) stay free to measure however they do.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

__all__ = ["SAFETY_MARGIN", "BudgetPlan", "steps_for_budget"]

SAFETY_MARGIN = 0.10  # the share of the budget left unplanned, for the variation between steps


@dataclass(frozen=True)
class BudgetPlan:
    """What :func:`steps_for_budget` decided, and the figures it decided on."""

    max_steps: int  # total optimizer steps of the run, the calibration steps included
    warmup_steps: int  # the schedule's warm-up, the same fraction of max_steps as in the profile
    seconds_per_step: float  # median (or mean) of the calibration steps (the first left out when there are more)
    calibration_steps: int  # how many steps were timed
    budget_s: float
    planned_s: float  # expected wall time of the whole run: steps + evaluations
    eval_s: float = 0.0  # seconds of one evaluation (0: none)
    eval_every: int = 0  # steps between evaluations (0: none)
    extra_s: float = 0.0  # one-off seconds besides steps and evaluations (the final evaluation)
    capped: bool = False  # the budget allowed more: the profile's own step count was kept
    average: str = "median"  # how the step seconds were averaged

    @property
    def evaluations(self) -> int:
        """Evaluations the run will do (one every `eval_every` steps)."""
        return self.max_steps // self.eval_every if self.eval_every and self.eval_s else 0

    def explain(self) -> str:
        """One line for the notebook to print: the steps it will run and why."""
        evals = (f" + {self.evaluations} evaluations of {self.eval_s:.1f} s" if self.evaluations else "")
        evals += f" + {self.extra_s:.1f} s for the final evaluation" if self.extra_s else ""
        kept = " (the profile's own count: the budget would allow more)" if self.capped else ""
        warmup = f" (warm-up {self.warmup_steps})" if self.warmup_steps else ""
        return (f"training for {self.max_steps} steps{kept}{warmup}: {self.seconds_per_step:.2f} s/step "
                f"({self.average} of {self.calibration_steps} timed steps){evals}, about {self.planned_s:.0f} s of the "
                f"budget {self.budget_s:.0f} s ({SAFETY_MARGIN:.0%} kept spare)")


def _needed_floor(min_steps: int, done: int) -> int:
    """The fewest steps a plan may have: the loop's floor, the steps already done, and one."""
    return max(min_steps, done, 1)


def _positive_number(name: str, value: object, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'} seconds, got {value!r}")
    return float(value)


def steps_for_budget(budget_s: float, calibration_s: Sequence[float], *, warmup_fraction: float = 0.0,
                     eval_s: float = 0.0, eval_every: int = 0, min_steps: int = 1,
                     margin: float = SAFETY_MARGIN, extra_s: float = 0.0, counted: bool = True,
                     max_steps: int | None = None, average: str = "median") -> BudgetPlan:
    """The ``max_steps`` (and warm-up) that end a run inside `budget_s` seconds of wall clock.

    `calibration_s` are the measured seconds of the first k training steps, in order. `eval_s` is
    the cost of one evaluation, done every `eval_every` steps (0/0: no evaluation during training).
    `warmup_fraction` is the profile's warm-up share (``warmup_ratio``, or ``warmup_steps /
    max_steps`` of the step-based profile), kept for the new step count. `min_steps` is the least
    the run may do (the loop's own floor, e.g. one evaluation's worth); a budget too small for it,
    or for even the calibration already spent, is an error that says how much would be needed.
    `extra_s`: seconds of one-off work after the steps (the final evaluation). `counted`: whether the
    calibration steps were steps of the run (True) or timed on a copy, so that all steps lie ahead.
    `max_steps`: the most to plan (the profile's own count), so a fast machine trains as the profile
    says rather than longer: a budget only ever shortens a run. `average`: ``"median"`` for batches
    of one shape (one step slowed by another process does not count), ``"mean"`` for batches of
    varying length sampled across an epoch (dynamic padding: what the epoch costs is their mean).
    """
    budget = _positive_number("budget_s", budget_s)
    if isinstance(calibration_s, (str, bytes)) or not isinstance(calibration_s, Sequence) or not calibration_s:
        raise ValueError(f"calibration_s must be a non-empty list of step seconds, got {calibration_s!r}")
    steps_s = [_positive_number(f"calibration_s[{i}]", t) for i, t in enumerate(calibration_s)]
    eval_cost = _positive_number("eval_s", eval_s, allow_zero=True)
    extra = _positive_number("extra_s", extra_s, allow_zero=True)
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 0:
        raise ValueError(f"eval_every must be a whole number of steps >= 0, got {eval_every!r}")
    if eval_cost and not eval_every:
        raise ValueError(f"eval_s={eval_s!r} needs eval_every (steps between evaluations) > 0")
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction!r}")
    if not 0.0 <= margin < 1.0:
        raise ValueError(f"margin must be in [0, 1), got {margin!r}")
    if isinstance(min_steps, bool) or not isinstance(min_steps, int) or min_steps < 1:
        raise ValueError(f"min_steps must be a whole number >= 1, got {min_steps!r}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"max_steps must be a whole number >= 1 or None, got {max_steps!r}")

    timed = len(steps_s)
    k = timed if counted else 0  # steps of the run already done
    if average not in ("median", "mean"):
        raise ValueError(f"average must be 'median' or 'mean', got {average!r}")
    per_step = getattr(statistics, average)(steps_s[1:] if timed > 1 else steps_s)
    spent = sum(steps_s) + extra  # the extra work is paid for as if already spent
    usable = budget * (1.0 - margin)
    # Each step costs per_step, plus an evaluation's share: eval_s every eval_every steps.
    per_step_all_in = per_step + (eval_cost / eval_every if eval_cost else 0.0)
    steps = k + math.floor(max(0.0, usable - spent) / per_step_all_in)

    def planned_s(n: int) -> float:  # the calibration as measured, the rest at per_step, every evaluation
        return spent + (n - k) * per_step + (n // eval_every) * eval_cost if eval_cost else spent + (n - k) * per_step

    # The evaluations fall on whole steps, so the average above is only a start: settle on the
    # largest count whose plan fits (a few steps either way).
    while steps > k and planned_s(steps) > usable:
        steps -= 1
    while planned_s(steps + 1) <= usable and (max_steps is None or steps < max_steps):
        steps += 1
    capped = max_steps is not None and steps >= max_steps >= _needed_floor(min_steps, k)
    if capped:
        steps = max_steps
    needed = _needed_floor(min_steps, k)
    if planned_s(steps) > usable or steps < needed:
        need_s = (spent + (needed - k) * per_step_all_in) / (1.0 - margin)
        raise ValueError(f"budget_s={budget_s!r} is too small: the {timed} calibration steps"
                         f"{' and the final evaluation' if extra else ''} alone took {spent:.1f} s and "
                         f"{needed} steps need about {need_s:.0f} s (with the {margin:.0%} margin); give at least that")
    planned = planned_s(steps)
    warmup = min(steps - 1, round(warmup_fraction * steps)) if warmup_fraction else 0
    return BudgetPlan(max_steps=steps, warmup_steps=warmup, seconds_per_step=round(per_step, 4), calibration_steps=timed,
                      budget_s=budget, planned_s=round(planned, 1), eval_s=eval_cost,
                      eval_every=eval_every if eval_cost else 0, extra_s=round(extra, 1), capped=capped,
                      average=average)
