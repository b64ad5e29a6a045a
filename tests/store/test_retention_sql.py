"""Retention sums in DuckDB against an independent pandas computation of the rules:
eligible and retained units per arm (overall, per segment and per weights version), the
units still in their window, and the day-by-day curve."""

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


def test_weights_versions_split_the_retention_sums(loaded: Any) -> None:
    """Per weights version (by the unit's first exposure): each version's eligible and
    retained units are pandas', and the versions add up to the summary's."""
    store, events = loaded
    exp = experiment()
    boundaries = [CUTOFF - 12 * 86_400_000, CUTOFF - 5 * 86_400_000]
    versions = store.weights_version_sums(exp, boundaries, _at(CUTOFF))
    units, metric_events = frames(events, CUTOFF)
    ref = retention_reference(units, metric_events, "d7", CUTOFF)
    version = (ref.t0 >= boundaries[0]).astype(int) + (ref.t0 >= boundaries[1]).astype(int)
    total = store.summary(exp, _at(CUTOFF)).metrics["d7"]
    for variant in VARIANTS:
        for k, part in enumerate(versions):
            mine = ref[(version == k) & (ref.variant == variant)]
            arm = part.metrics["d7"][variant]
            assert (arm.n, arm.sum) == (mine.eligible.sum(), mine.retained.sum()), (k, variant)
        assert sum(p.metrics["d7"][variant].n for p in versions) == total[variant].n
    assert versions[-1].metrics["d7"]["a"].n == 0  # exposed within 5 days: none eligible
