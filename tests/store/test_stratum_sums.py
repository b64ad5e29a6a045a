"""Per-stratum sums over clusters from the allocation table's ``strata`` (no exposure
attribute), through the real DuckDB store, against pandas on the same events.

The slices are ``"@stratum=<label>"``: one per stratum (or matched set) holding a kept
cluster; clusters outside the table are in none. Declared segments, the overall sums and
the data-quality counts are those of the same experiment without a table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from splitlab.config.allocation import STRATUM_SLICE_PREFIX
from splitlab.store import DuckDBStore
from splitlab.store.cluster_sql import plan_cluster_summary
from splitlab.tracking.events import Event

from .cluster_sim import DAY, T_BASE, experiment, reference_sums, simulate
from .strata_sim import (
    paired_allocation,
    reference_clusters,
    reference_strata,
    stratified_allocation,
    with_allocation,
)
from .test_summary import assert_sums_equal

Loaded = tuple[DuckDBStore, list[Event]]
CUTOFF = T_BASE + 3 * DAY
METHODS = {"stratified": stratified_allocation, "pair_matched": paired_allocation}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    events = simulate(np.random.default_rng(20261204))
    store = DuckDBStore(tmp_path_factory.mktemp("strata") / "events.duckdb")
    for start in range(0, len(events), 500):
        store.ingest(events[start : start + 500])
    yield store, events
    store.close()


def _moment(cutoff: int | None) -> datetime | None:
    return None if cutoff is None else datetime.fromtimestamp(cutoff / 1000, UTC)


def _strata_slices(sums: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sums.get("segments", {}).items() if k.startswith(STRATUM_SLICE_PREFIX)}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("cutoff", [None, CUTOFF], ids=["all", "cutoff"])
def test_stratum_sums_equal_pandas(loaded: Loaded, method: str, cutoff: int | None) -> None:
    """Every stratum's clusters, cluster sizes and metric sums (denominators, CUPED) equal
    the pandas group-by of the per-cluster totals by the table's strata."""
    store, events = loaded
    allocation = METHODS[method](events)
    exp = with_allocation(allocation)
    actual = store.summary(exp, cutoff=_moment(cutoff)).to_dict()
    expected = reference_strata(events, allocation["strata"], cutoff or 2**62)
    assert_sums_equal(_strata_slices(actual), expected)
    assert set(actual["segments"]) == set(expected)  # no other slice without segments
    # the test data exercise what they should: several strata, and kept clusters outside
    # the table (which must not be in any stratum's sums)
    kept = reference_clusters(events, cutoff or 2**62)
    outside = [c for c in kept.index if c not in allocation["strata"]]
    assert len(expected) >= 4 and len(outside) >= 5
    in_strata = sum(sum(s["units"].values()) for s in _strata_slices(actual).values())
    assert in_strata == len(kept) - len(outside)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_segments_overall_and_quality_unchanged_by_the_table(loaded: Loaded, method: str) -> None:
    """Declared segments and the overall sums still equal the reference; the strata add
    slices and change nothing else (data quality included)."""
    store, events = loaded
    exp = with_allocation(METHODS[method](events))
    with_table = store.summary(exp, segment="country").to_dict()
    strata = _strata_slices(with_table)
    rest = {**with_table, "segments": {k: v for k, v in with_table["segments"].items()
                                       if k not in strata}}  # fmt: skip
    expected = reference_sums(events)
    assert_sums_equal({k: rest[k] for k in expected}, expected)
    quality = store.data_quality(exp)
    store.summary(experiment(), segment="country")
    assert quality == store.data_quality(experiment())


def test_a_stratum_attribute_does_not_change_the_store_slices(loaded: Loaded) -> None:
    """With stratumAttribute set too, the store's slices are still made from the table (the
    attribute, a declared segment, only adds its own segment slices)."""
    store, events = loaded
    allocation = stratified_allocation(events)
    exp = with_allocation(allocation, stratumAttribute="country")
    actual = store.summary(exp, segment="country").to_dict()
    assert_sums_equal(_strata_slices(actual), reference_strata(events, allocation["strata"]))


def test_query_without_strata_is_the_plain_cluster_query(loaded: Loaded) -> None:
    """A complete table (no strata) leaves the cluster summary's SQL and parameters as they
    are without any table; a stratified one only adds to them."""
    _, events = loaded
    table = stratified_allocation(events)
    complete = {"method": "complete", "seed": 1, "table": table["table"]}
    plain = plan_cluster_summary(experiment(), 123, ["country"])
    same = plan_cluster_summary(with_allocation(complete), 123, ["country"])
    assert (same.sql, same.params, same.stratified) == (plain.sql, plain.params, False)
    stratified = plan_cluster_summary(with_allocation(table), 123, ["country"])
    assert stratified.stratified and stratified.sql != plain.sql
    assert stratified.params["strata_ids"] == sorted(table["strata"])
