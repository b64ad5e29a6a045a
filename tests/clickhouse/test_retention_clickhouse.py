"""Retention and time-to-event sums in ClickHouse: identical to DuckDB's (eligible and
retained units overall and per segment, the curves, the survival tables) and to the pandas
reference, with duplicated deliveries, with and without a cut-off, and with a capped metric
beside them (the capped summary's own per-unit subquery)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from splitlab.config import load_experiment
from splitlab.stats.sums import ExperimentSums
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from splitlab.store.summary_sql import NO_CUTOFF
from tests.clickhouse.simulate import batches
from tests.store.survival_data import (
    CUTOFF,
    DEFINITION,
    RETENTION,
    TIME_TO_EVENT,
    VARIANTS,
    curve_reference,
    experiment,
    frames,
    retention_reference,
    simulate,
    survival_reference,
)

NAMES = [*RETENTION, *TIME_TO_EVENT]


def _same(house: ExperimentSums, duck: ExperimentSums) -> None:
    """Every retention and time-to-event arm identical, overall and in every segment."""
    assert house.units == duck.units
    assert set(house.segments) == set(duck.segments)
    for part_h, part_d in [(house, duck)] + [
        (house.segments[k], duck.segments[k]) for k in duck.segments
    ]:
        for name in NAMES:
            for variant in VARIANTS:
                h = part_h.metrics[name][variant].to_dict()
                d = part_d.metrics[name][variant].to_dict()
                assert h == d, (name, variant)


def _capped() -> Any:
    definition = copy.deepcopy(DEFINITION)
    definition["metrics"]["secondary"][-1]["cap"] = {"type": "fixed", "value": 20.0}
    return load_experiment(definition)


@pytest.mark.parametrize("dedup", ["final", "limit_by"])
def test_clickhouse_equals_duckdb_and_pandas(
    clickhouse: LocalServer, tmp_path: Path, dedup: str
) -> None:
    rng = np.random.default_rng(20261204)
    events = simulate(rng)
    duck = DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05)
    house = ClickHouseStore(
        clickhouse.url, tmp_path / "log", database=f"retention_{dedup}", load_interval_s=0.05,
        dedup=dedup,  # type: ignore[arg-type]
    )  # fmt: skip
    try:
        for batch in batches(rng, events):
            duck.ingest(batch)
            house.ingest(batch)
        at = datetime.fromtimestamp(CUTOFF / 1000, tz=UTC)
        looks = []
        for exp, cutoff in [(experiment(), at), (experiment(), None), (_capped(), at)]:
            h, d = house.summary(exp, cutoff, "region"), duck.summary(exp, cutoff, "region")
            _same(h, d)
            looks.append((h, CUTOFF if cutoff else NO_CUTOFF))
        # the per weights version sums carry the retention metrics' eligible units too
        bounds = [CUTOFF - 12 * 86_400_000, CUTOFF - 5 * 86_400_000]
        for part_h, part_d in zip(
            house.weights_version_sums(experiment(), bounds, at),
            duck.weights_version_sums(experiment(), bounds, at),
            strict=True,
        ):
            for name in RETENTION:
                for variant in VARIANTS:
                    h_arm, d_arm = part_h.metrics[name][variant], part_d.metrics[name][variant]
                    assert (h_arm.n, h_arm.sum) == (d_arm.n, d_arm.sum), (name, variant)
    finally:
        house.close()
        duck.close()
    for sums, cut in looks[:2]:
        units, metric_events = frames(events, cut)
        for variant in VARIANTS:
            for name in RETENTION:
                ref = retention_reference(units, metric_events, name, cut)
                arm = sums.metrics[name][variant]
                mine = ref[ref.variant == variant]
                assert (arm.n, arm.sum) == (mine.eligible.sum(), mine.retained.sum())
                assert arm.retention == curve_reference(units, metric_events, name, cut, variant)
            for name in TIME_TO_EVENT:
                expected = survival_reference(units, metric_events, name, cut, variant)
                assert sums.metrics[name][variant].survival == expected
