"""What units get now, and how far an experiment is along its plan.

* :func:`serving` says what every unit is served, from the assignment layer's own function
  (:func:`splitlab.assignment.plans.fixed_outcome`, the one ``/v1/assign`` uses), so the
  pages cannot disagree with the API about a toggle, a ship or a rollback.
* :func:`progress` compares the units exposed so far with ``minSampleSize`` per variant,
  counts the planned looks taken against ``maxPeeks``, and estimates the days left at the
  current rate: per variant, the units first exposed in the last :data:`RATE_WINDOW_DAYS`
  days of exposure data (or since the first exposure, if that is shorter) divided by that
  window's length in days; the days left are the slowest variant's missing units over its
  rate. With no exposure yet, or a window of zero length, the rate and the days left are
  unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from splitlab.assignment.plans import fixed_outcome
from splitlab.assignment.result import Reason
from splitlab.config import Experiment
from splitlab.evaluation.lifecycle import FINAL
from splitlab.server.context import ServerContext

#: How many days of the most recent exposure data the rate is measured over.
RATE_WINDOW_DAYS = 7
_DAY_MS = 86_400_000

#: Per variant: units (first exposure only), the window's start (ms) and the units first
#: exposed after it; one pass over the experiment's exposures.
_FIRST_EXPOSURES = """
WITH firsts AS (
    SELECT arg_min(variant, ts) AS variant, min(ts) AS first
    FROM exposures WHERE experiment_id = $exp GROUP BY unit_key),
window_start AS (
    SELECT greatest(min(first), max(first) - $window) AS start, max(first) AS latest
    FROM firsts)
SELECT variant, count(*), any_value(start), any_value(latest),
       count(*) FILTER (WHERE first > start)
FROM firsts, window_start GROUP BY variant
"""


@dataclass(frozen=True, slots=True)
class Serving:
    """What every unit gets now, in words, and whether it is a toggle (an alert)."""

    text: str
    toggled: bool


def serving(experiment: Experiment) -> Serving:
    """What every unit is served now, decided by the same function as ``/v1/assign``."""
    fixed = fixed_outcome(experiment)
    if fixed is None:
        split = ", ".join(
            f"{name} {weight * 100:.4g}%"
            for name, weight in zip(experiment.variant_names, experiment.weights, strict=True)
        )
        return Serving(
            f"running: eligible units are split {split} "
            f"(traffic {experiment.traffic_allocation * 100:g}%)",
            False,
        )
    if fixed.reason is Reason.TOGGLED:
        return Serving(f"toggled: everyone gets {fixed.variant}", True)
    if fixed.reason is Reason.SHIPPED:
        return Serving(f"shipped: everyone gets {fixed.variant}", False)
    if fixed.reason is Reason.ROLLED_BACK:
        return Serving(f"rolled back: everyone gets {fixed.variant}", False)
    return Serving(
        f"{experiment.status.value}: no variant is served (SDKs use their default)", False
    )


@dataclass(frozen=True, slots=True)
class VariantProgress:
    """One variant's units so far against the plan."""

    variant: str
    units: int
    target: int
    per_day: float | None

    @property
    def share(self) -> float:
        return min(self.units / self.target, 1.0) if self.target > 0 else 1.0

    @property
    def reached(self) -> bool:
        return self.units >= self.target


@dataclass(frozen=True, slots=True)
class Progress:
    """Units against ``minSampleSize``, looks against ``maxPeeks`` and the days left."""

    variants: tuple[VariantProgress, ...]
    looks_taken: int
    max_looks: int
    peeks: int
    days_left: float | None
    finished: bool
    window_days: float

    @property
    def reached(self) -> bool:
        return all(v.reached for v in self.variants)

    @property
    def smallest(self) -> VariantProgress | None:
        return min(self.variants, key=lambda v: v.units, default=None)

    def days_text(self) -> str:
        """The days left in words ("unknown" when there is no rate yet)."""
        if self.reached:
            return "planned sample reached"
        if self.finished:
            return "finished before the planned sample"
        if self.days_left is None:
            return "unknown (no exposure rate yet)"
        days = math.ceil(self.days_left)
        return f"about {days} day{'s' if days != 1 else ''} left"

    def compact(self) -> str:
        """One line for the list: the smallest arm, the looks and the days left."""
        low = self.smallest
        units = f"{low.units:,} / {low.target:,} units (smallest arm)" if low else "no units yet"
        return f"{units} · look {self.looks_taken} of {self.max_looks} · {self.days_text()}"


def _rates(
    ctx: ServerContext, experiment_id: str
) -> tuple[dict[str, int], dict[str, float], float]:
    """Units so far per variant, their recent rate per day, and the window in days."""
    ctx.store.flush()
    with ctx.store.lock:
        rows = ctx.store.connection.execute(
            _FIRST_EXPOSURES, {"exp": experiment_id, "window": RATE_WINDOW_DAYS * _DAY_MS}
        ).fetchall()
    if not rows:
        return {}, {}, 0.0
    start, latest = int(rows[0][2]), int(rows[0][3])
    recent = {str(r[0]): int(r[4]) for r in rows}
    window = (latest - start) / _DAY_MS
    units = {str(r[0]): int(r[1]) for r in rows}
    rates = {v: int(recent.get(v, 0)) / window for v in units} if window > 0 else {}
    return units, rates, window


def progress(ctx: ServerContext, experiment: Experiment, looks_taken: int, peeks: int) -> Progress:
    """The experiment's progress to its plan, from the store's exposures and the ledger."""
    units, rates, window = _rates(ctx, experiment.id)
    target = experiment.evaluation.min_sample_size
    variants = tuple(
        VariantProgress(v, units.get(v, 0), target, rates.get(v) or None)
        for v in experiment.variant_names
    )
    days_left: float | None = 0.0
    for v in variants:
        if v.reached:
            continue
        if v.per_day is None:
            days_left = None
            break
        days_left = max(days_left or 0.0, (v.target - v.units) / v.per_day)
    return Progress(
        variants,
        looks_taken,
        experiment.evaluation.max_peeks,
        peeks,
        days_left,
        experiment.status in FINAL,
        window,
    )


__all__ = ["RATE_WINDOW_DAYS", "Progress", "Serving", "VariantProgress", "progress", "serving"]
