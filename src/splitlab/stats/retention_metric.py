"""A retention metric in ``analyze``: a proportion, analysed exactly as a conversion rate
(docs/statistics.md, "Retention and time to event").

For a retention metric the store's ``ArmSums.n`` counts the arm's *eligible* units (those
whose retention window had closed by the cut-off) and ``sum`` those of them retained, so the
conversion machinery (:func:`splitlab.stats.moments.mean_view` with ``binary=True`` and the
two-proportion Wald test) applies unchanged with ``n`` = eligible units. What this module adds
is what a reader needs beside the numbers: what the rate is, and per arm how many units were
eligible and how many exposed units are still waiting for their window to close.
"""

from __future__ import annotations

from collections.abc import Sequence

from splitlab.config import Metric, MetricType
from splitlab.stats.sums import SliceSums

UNSUPPORTED_DESIGN = (
    "retention metrics are analysed for individually randomised experiments only; a cluster "
    "or switchback design compares cluster or cell totals, not units' own retention windows"
)

#: The metric types that read as a proportion of units (the conversion machinery).
PROPORTIONS = frozenset({MetricType.CONVERSION, MetricType.RETENTION})


def describe(metric: Metric) -> str:
    """``"day 7 retention (an event 168-192 h after the first exposure)"``."""
    r = metric.retention
    if r is None:
        return "retention"
    days = f"day {r.day}" if r.days == 1 else f"days {r.day}-{r.day + r.days - 1}"
    return (
        f"{days} retention (an event {r.start_hours}-{r.end_hours} h after the first exposure, "
        "among units whose window has closed)"
    )


def eligibility(
    metric: Metric, sums: SliceSums, variants: Sequence[str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Per variant: the eligible units (the sums' ``n``) and the exposed units still in their
    window (exposed minus eligible, never below 0)."""
    arms = sums.metrics.get(metric.name, {})
    eligible: dict[str, float] = {}
    waiting: dict[str, float] = {}
    for v in variants:
        arm = arms.get(v)
        n = float(arm.n) if arm is not None else 0.0
        eligible[v] = n
        waiting[v] = max(float(sums.units.get(v, 0.0)) - n, 0.0)
    return eligible, waiting
