"""Per-interval data of a canary metric (store -> stats), one per (interval, variant).

A canary judges each analysis interval from that interval's new events only, so the store
hands the stats engine one :class:`IntervalArm` per interval and arm: the events (requests)
grouped by unit as ratio-metric sums (for proportions and means, with the delta method over
units), and the values' :class:`~splitlab.stats.sketch.Sketch` (for Mann-Whitney and
quantiles). When every unit has one event (a per-request split) the unit sums are the event
sums.
"""

from __future__ import annotations

from dataclasses import dataclass

from splitlab.stats.quantile import ClusteredSums
from splitlab.stats.sketch import Sketch


@dataclass(frozen=True, slots=True)
class IntervalArm:
    """One arm's events of one metric in one interval.

    ``units``: distinct units with at least one event; ``n``: events (sum over units of N_u);
    ``n_sq``: sum of N_u squared; ``sum``: sum of event values (sum of Y_u); ``sum_sq``: sum of
    Y_u squared (Y_u = the unit's sum of values); ``sum_product``: sum of Y_u N_u;
    ``event_sum_sq``: sum of squared event values; ``sketch``: the values' sketch (None when
    the metric's kind needs none).
    """

    units: int
    n: int
    n_sq: float
    sum: float
    sum_sq: float
    sum_product: float
    event_sum_sq: float
    sketch: Sketch | None = None

    def __add__(self, other: IntervalArm) -> IntervalArm:
        sketch = (
            self.sketch
            if other.sketch is None
            else other.sketch
            if self.sketch is None
            else self.sketch + other.sketch
        )
        return IntervalArm(
            self.units + other.units,
            self.n + other.n,
            self.n_sq + other.n_sq,
            self.sum + other.sum,
            self.sum_sq + other.sum_sq,
            self.sum_product + other.sum_product,
            self.event_sum_sq + other.event_sum_sq,
            sketch,
        )


@dataclass(frozen=True)
class CanaryData:
    """One judgment's data of every metric of a canary, read once per event name.

    ``intervals[metric][k][variant]``: the step's interval ``k``, its event sums with every
    event its own observation (``units = n``; see :class:`IntervalArm`) and the sketch;
    ``steps[metric][variant]``: the whole step's events of the arm grouped by unit over the
    step (the units are the independent observations of the variance of proportions and
    means); ``clustered[metric][variant]``: for quantile metrics, the per-unit counts of
    events at or below the arm's step quantile bucket
    (:class:`~splitlab.stats.quantile.ClusteredSums`)."""

    intervals: dict[str, dict[int, dict[str, IntervalArm]]]
    steps: dict[str, dict[str, IntervalArm]]
    clustered: dict[str, dict[str, ClusteredSums]]
