"""End to end: events -> DuckDBStore -> run_look, for cluster experiments with a stratified
and a pair-matched allocation table and no stratum attribute on the exposures.

The look's ``allocationStratified`` block must equal the stratified (or paired) estimator run
on per-stratum cluster sums computed by hand in pandas from the same events.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from splitlab.config.models import Experiment
from splitlab.evaluation import run_look
from splitlab.evaluation.look import results_view
from splitlab.stats.errors import StatsError
from splitlab.stats.stratified_cluster import stratified_cluster_difference
from splitlab.stats.sums import ArmSums
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.registry import Registry
from tests.store.cluster_sim import DAY, T_BASE, VARIANTS, simulate
from tests.store.strata_sim import (
    paired_allocation,
    reference_clusters,
    stratified_allocation,
    with_allocation,
)
from tests.store.test_summary import assert_sums_equal

METRICS = ("purchase", "revenue", "clicks", "rev_per_order")  # y0..y3 of cluster_sim
METHODS = {"stratified": stratified_allocation, "pair_matched": paired_allocation}
NOW = datetime.fromtimestamp((T_BASE + 20 * DAY) / 1000, UTC)


@pytest.fixture(scope="module")
def events() -> list[Any]:
    return simulate(np.random.default_rng(20261207))


@pytest.fixture
def store(tmp_path: Path, events: list[Any]) -> Iterator[DuckDBStore]:
    with DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05) as s:
        s.ingest(events)
        yield s


def hand_strata(
    events: list[Any], strata: dict[str, str], metric: int
) -> dict[str, dict[str, ArmSums]]:
    """Per stratum and arm, the sums over its kept clusters of Y_c (and D_c), in pandas."""
    kept = reference_clusters(events)
    label = kept.index.map(strata)
    out: dict[str, dict[str, ArmSums]] = {}
    for stratum in sorted(set(label.dropna())):
        part = kept[label == stratum]
        arms: dict[str, ArmSums] = {}
        for variant in VARIANTS:
            c = part[part.variant == variant]
            if len(c):
                d = c["d3"] if metric == 3 else c["m"]
                arms[variant] = ArmSums.from_values(
                    c[f"y{metric}"].to_numpy(), denominator=d.to_numpy()
                )
        out[stratum] = arms
    return out


def _look_block(store: DuckDBStore, exp: Experiment) -> dict[str, Any]:
    registry = Registry.for_store(store)
    registry.create(exp, at=datetime.fromtimestamp(T_BASE / 1000, UTC))
    record = run_look(store, registry, exp.id, cutoff=NOW, now=NOW)
    block = results_view(record)["allocationStratified"]
    assert isinstance(block, dict)
    return block


@pytest.mark.parametrize("method", sorted(METHODS))
def test_look_block_equals_the_estimator_on_hand_sums(
    store: DuckDBStore, events: list[Any], method: str
) -> None:
    allocation = METHODS[method](events)
    exp = with_allocation(allocation)
    block = _look_block(store, exp)
    assert block["method"] == method and block["source"] == "table"
    # strata (pairs) whose every cluster was left out of the sums have no slice
    present = set(hand_strata(events, allocation["strata"], 0))
    assert block["attribute"] is None
    assert block["strataWithoutSums"] == sorted(set(allocation["strata"].values()) - present)
    assert block["stratumSums"] == len(present) >= 4
    by_name = {m["name"]: m for m in block["metrics"]}
    estimable = 0
    assert set(by_name) == set(METRICS)
    for i, name in enumerate(METRICS):
        comparison = by_name[name]["comparisons"][0]
        try:
            expected = stratified_cluster_difference(
                hand_strata(events, allocation["strata"], i),
                VARIANTS[0],
                VARIANTS[1],
                level="unit",
                paired=method == "pair_matched",
                alpha=exp.evaluation.alpha,
            )
        except StatsError as exc:  # e.g. a matched set whose cluster has no ratio denominator
            assert comparison == {"variant": VARIANTS[1], "control": VARIANTS[0],
                                  "estimable": False, "reason": str(exc)}  # fmt: skip
            continue
        estimable += 1
        assert comparison["estimable"] is True, comparison
        actual = {
            "estimate": comparison["absolute"]["estimate"],
            "lower": comparison["absolute"]["lower"],
            "upper": comparison["absolute"]["upper"],
            "standardError": comparison["standardError"],
            "df": comparison["degreesOfFreedom"],
            "pValue": comparison["pValue"],
            "controlMean": comparison["controlMean"],
            "strataUsed": comparison["strataUsed"],
        }
        assert_sums_equal(
            actual,
            {
                "estimate": expected.estimate,
                "lower": expected.lower,
                "upper": expected.upper,
                "standardError": expected.standard_error,
                "df": expected.df,
                "pValue": expected.p_value,
                "controlMean": expected.control_mean,
                "strataUsed": expected.strata_used,
            },
            name,
        )
        assert comparison["strataLeftOut"] == list(expected.strata_dropped)
    assert estimable >= 3
    if method == "pair_matched":  # pairs with a cluster left out of the sums are dropped
        assert by_name["revenue"]["comparisons"][0]["strataLeftOut"]
