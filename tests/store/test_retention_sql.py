"""Retention sums in DuckDB against an independent pandas computation of the rules:
eligible and retained units per arm (overall and per segment), the units still in their
window, the CUPED covariate over eligible units, and the day-by-day curve."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from splitlab.config.models import MetricType
from splitlab.store.summary_sql import NO_CUTOFF, plan_summary, summary_metrics

from .survival_data import (
    CUTOFF,
    RETENTION,
    VARIANTS,
    curve_reference,
    experiment,
    frames,
    retention_covariate,
    retention_reference,
)
from .survival_fixture import loaded

__all__ = ["loaded"]


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@pytest.mark.parametrize("cutoff", [CUTOFF, CUTOFF + 7 * 86_400_000 + 1, None])
def test_retention_sums_equal_pandas(loaded: Any, cutoff: int | None) -> None:
    store, events = loaded
    exp = experiment()
    sums = store.summary(exp, None if cutoff is None else _at(cutoff), "region")
    cut = NO_CUTOFF if cutoff is None else cutoff
    units, metric_events = frames(events, cut)
    for name in RETENTION:
        ref = retention_reference(units, metric_events, name, cut)
        for variant in VARIANTS:
            arm = ref[ref.variant == variant]
            got = sums.metrics[name][variant]
            assert got.n == arm.eligible.sum(), (name, variant)
            assert got.sum == got.sum_sq == arm.retained.sum(), (name, variant)
            # the units still in their window: exposed but not yet eligible
            assert sums.units[variant] - got.n == (arm.eligible == 0).sum()
            assert sums.units[variant] == len(arm)
            for region in ("EU", "US"):
                part = arm[arm.region == region]
                seg = sums.segments[f"region={region}"].metrics[name][variant]
                assert (seg.n, seg.sum) == (part.eligible.sum(), part.retained.sum())
                assert seg.retention is None  # the curve is for the overall slice only
    if cutoff == CUTOFF:
        # some windows open, some closed, some units retained: the test can tell them apart
        ref = retention_reference(units, metric_events, "d7", cut)
        assert 0 < ref.eligible.sum() < len(ref)
        assert 0 < ref.retained.sum() < ref.eligible.sum()


def test_retention_covariate_is_over_eligible_units(loaded: Any) -> None:
    """CUPED on a retention metric: whether the unit had such an event in the lookback
    before its exposure (any experiment), summed over the eligible units only."""
    store, events = loaded
    exp = experiment()
    sums = store.summary(exp, _at(CUTOFF))
    units, metric_events = frames(events, CUTOFF)
    ref = retention_reference(units, metric_events, "week2", CUTOFF)
    x = retention_covariate(units, events, "week2", 3, CUTOFF) * ref.eligible
    for variant in VARIANTS:
        mine = ref.variant == variant
        cov = sums.metrics["week2"][variant].covariate
        assert cov is not None
        assert cov.sum == cov.sum_sq == x[mine].sum()
        assert cov.sum_product == (x[mine] * ref.retained[mine]).sum()
    assert x.sum() > 0


@pytest.mark.parametrize("cutoff", [CUTOFF, None])
def test_retention_curve_equals_pandas(loaded: Any, cutoff: int | None) -> None:
    store, events = loaded
    exp = experiment()
    sums = store.summary(exp, None if cutoff is None else _at(cutoff))
    cut = NO_CUTOFF if cutoff is None else cutoff
    units, metric_events = frames(events, cut)
    for name in RETENTION:
        for variant in VARIANTS:
            got = sums.metrics[name][variant].retention
            assert got == curve_reference(units, metric_events, name, cut, variant), name
            # the curve's last days are the metric's own when its window is one day
            if RETENTION[name][1] == 1:
                assert got is not None
                assert (got.eligible[-1], got.retained[-1]) == (
                    sums.metrics[name][variant].n,
                    sums.metrics[name][variant].sum,
                )


def test_summary_without_these_metrics_has_no_retention_columns() -> None:
    """Experiments without retention or time-to-event metrics keep their summary query."""
    exp = experiment()
    plain = exp.model_copy(
        update={
            "metrics": exp.metrics.model_copy(
                update={
                    "primary": exp.metrics.secondary[-2],
                    "secondary": exp.metrics.secondary[-1:],
                }
            )
        }
    )
    assert not any(
        m.type in (MetricType.RETENTION, MetricType.TIME_TO_EVENT) for m in summary_metrics(plain)
    )
    sql = plan_summary(plain, CUTOFF, ["region"]).sql
    assert "el0" not in sql and "el1" not in sql and "$re" not in sql
    assert "el0_s" in plan_summary(exp, CUTOFF).sql
