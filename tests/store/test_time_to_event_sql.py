"""Time-to-event survival tables in DuckDB against an independent pandas computation of
each unit's duration and event flag (SurvivalTable.from_durations), overall and per segment,
at a cut-off that censors some units early and without one (censoring at the horizon only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from splitlab.store.summary_sql import NO_CUTOFF

from .survival_data import (
    CUTOFF,
    TIME_TO_EVENT,
    VARIANTS,
    experiment,
    frames,
    survival_reference,
)
from .survival_fixture import loaded

__all__ = ["loaded"]


@pytest.mark.parametrize("cutoff", [CUTOFF, CUTOFF - 3 * 86_400_000 + 17, None])
def test_survival_tables_equal_pandas(loaded: Any, cutoff: int | None) -> None:
    store, events = loaded
    at = None if cutoff is None else datetime.fromtimestamp(cutoff / 1000, tz=UTC)
    sums = store.summary(experiment(), at, "region")
    cut = NO_CUTOFF if cutoff is None else cutoff
    units, metric_events = frames(events, cut)
    for name in TIME_TO_EVENT:
        for variant in VARIANTS:
            arm = sums.metrics[name][variant]
            expected = survival_reference(units, metric_events, name, cut, variant)
            assert arm.survival == expected, (name, variant)
            assert arm.n == sums.units[variant] == expected.units
            assert arm.sum == arm.sum_sq == 0.0
            for region in ("EU", "US"):  # each segment's own table, from its units
                part = sums.segments[f"region={region}"]
                mine = units[units.region == region]
                table = survival_reference(mine, metric_events, name, cut, variant)
                assert part.metrics[name][variant].survival == table, (name, variant, region)
                assert part.metrics[name][variant].n == part.units[variant] == table.units
        table = sums.metrics[name]["control"].survival
        assert table is not None and sum(table.events) > 0 and sum(table.censored) > 0


def test_event_at_the_horizon_is_observed_and_later_ones_censored(loaded: Any) -> None:
    """The simulation puts first purchases exactly at the 240 h horizon (observed there) and
    first visits just after 36.5 h (censored at 36.5 h)."""
    store, _ = loaded
    sums = store.summary(experiment())
    buy = [sums.metrics["time_to_buy"][v].survival for v in VARIANTS]
    assert all(t is not None and t.times[-1] == 240.0 and t.events[-1] > 0 for t in buy)
    visit = [sums.metrics["time_to_visit"][v].survival for v in VARIANTS]
    assert all(t is not None and t.times[-1] == 36.5 and t.censored[-1] > 0 for t in visit)
