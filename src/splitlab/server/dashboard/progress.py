"""What units get now, and how far an experiment is along its plan.

* :func:`serving` says what every unit is served, from the assignment layer's own function
  (:func:`splitlab.assignment.plans.fixed_outcome`, the one ``/v1/assign`` uses), so the
  pages cannot disagree with the API about a toggle, a ship or a rollback.
* :func:`progress` compares the sample so far with ``minSampleSize`` per variant, counts the
  planned looks taken against ``maxPeeks``, and estimates the days left at the current rate.
  The sample is counted in what ``minSampleSize`` counts for the design: units (classic),
  clusters (cluster design: distinct ``cluster_id`` values of the exposures, each in the
  variant of its first exposure; exposures without a cluster and clusters seen in two
  variants are not counted, as in the analysis) or cells (switchback: the store's cell table
  of the analysis window up to the end of the latest exposure's period, or now if that is
  earlier: every unit seen, in every complete period).
  The rate, per variant: the units or clusters first exposed in the last
  :data:`RATE_WINDOW_DAYS` days of exposure data (or since the first exposure, if that is
  shorter), or the cells of the window's periods in those days, divided by that window's
  length in days; the days left are the slowest variant's missing sample over its rate. With
  no exposure yet, or a window of zero length, the rate and the days left are unknown.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from splitlab.assignment.plans import fixed_outcome
from splitlab.assignment.result import Reason
from splitlab.assignment.switchback import period_index, period_start_ms
from splitlab.config import Experiment
from splitlab.evaluation.lifecycle import FINAL
from splitlab.server.context import ServerContext
from splitlab.store.exposure_progress import exposure_reads

#: How many days of the most recent exposure data the rate is measured over.
RATE_WINDOW_DAYS = 7
_DAY_MS = 86_400_000


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
    #: What is counted, plural: "units", "clusters" (cluster design) or "cells" (switchback).
    noun: str = "units"

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
        noun = self.noun
        units = f"{low.units:,} / {low.target:,} {noun} (smallest arm)" if low else f"no {noun} yet"
        return f"{units} · look {self.looks_taken} of {self.max_looks} · {self.days_text()}"


_Rates = tuple[dict[str, int], dict[str, float], float]


def _rates(ctx: ServerContext, experiment_id: str, *, clusters: bool = False) -> _Rates:
    """Units (or clusters) so far per variant, their recent rate per day, and the window in
    days."""
    rows = exposure_reads(ctx.events).first_exposures(
        experiment_id, clusters=clusters, window_ms=RATE_WINDOW_DAYS * _DAY_MS
    )
    if not rows:
        return {}, {}, 0.0
    start, latest = rows[0].window_start, rows[0].latest
    recent = {r.variant: r.recent for r in rows}
    window = (latest - start) / _DAY_MS
    units = {r.variant: r.units for r in rows}
    rates = {v: int(recent.get(v, 0)) / window for v in units} if window > 0 else {}
    return units, rates, window


def _cell_rates(ctx: ServerContext, experiment: Experiment) -> _Rates:
    """Cells so far per variant (the store's cell table up to the latest exposure), the cells
    a day over the window's last :data:`RATE_WINDOW_DAYS` days, and that span in days."""
    design = experiment.design
    assert design is not None and design.type == "switchback"
    latest = exposure_reads(ctx.events).latest_exposure(experiment.id)
    if latest is None:
        return {}, {}, 0.0
    # The window ends with the period of the latest exposure once that period is over (or
    # at the last complete period before now, while it is not).
    end = period_start_ms(design, period_index(design, latest) + 1)
    end = min(end, int(datetime.now(UTC).timestamp() * 1000))
    table = ctx.events.switchback_cells(experiment, datetime.fromtimestamp(end / 1000, UTC))
    cells = Counter(table.variants)
    recent_periods = min(
        table.periods, RATE_WINDOW_DAYS * _DAY_MS // (design.period_seconds * 1000)
    )
    window = recent_periods * design.period_seconds / 86_400
    if window <= 0:
        return dict(cells), {}, 0.0
    first_recent = table.first_period + table.periods - recent_periods
    recent = Counter(
        v for v, k in zip(table.variants, table.period_index(), strict=True) if k >= first_recent
    )
    return dict(cells), {v: recent.get(v, 0) / window for v in cells}, window


def progress(ctx: ServerContext, experiment: Experiment, looks_taken: int, peeks: int) -> Progress:
    """The experiment's progress to its plan, from the store's exposures and the ledger, in
    what ``minSampleSize`` counts: units, clusters (cluster design) or cells (switchback)."""
    noun = sample_noun(experiment)
    if noun == "cells":
        units, rates, window = _cell_rates(ctx, experiment)
    else:
        units, rates, window = _rates(ctx, experiment.id, clusters=noun == "clusters")
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
        noun,
    )


def sample_noun(experiment: Experiment) -> str:
    """What ``minSampleSize`` counts for the experiment's design, plural."""
    kind = experiment.design.type if experiment.design is not None else "classic"
    return {"cluster": "clusters", "switchback": "cells"}.get(kind, "units")


__all__ = [
    "RATE_WINDOW_DAYS",
    "Progress",
    "Serving",
    "VariantProgress",
    "progress",
    "sample_noun",
    "serving",
]
