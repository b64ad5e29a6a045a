"""Sums over clusters (cluster designs) against a pandas computation on the same events.

The events go through the real store path (log, loader, DuckDB); the reference is
:func:`tests.store.cluster_sim.reference_sums`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.tracking.events import Event

from .cluster_sim import DAY, T_BASE, experiment, reference_quality, reference_sums, simulate
from .test_summary import assert_sums_equal

Loaded = tuple[DuckDBStore, list[Event]]
CUTOFF = T_BASE + 3 * DAY


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    events = simulate(np.random.default_rng(20261204))
    store = DuckDBStore(tmp_path_factory.mktemp("clusters") / "events.duckdb")
    for start in range(0, len(events), 500):  # several loads, like a collector's batches
        store.ingest(events[start : start + 500])
    yield store, events
    store.close()


def _moment(cutoff: int | None) -> datetime | None:
    return None if cutoff is None else datetime.fromtimestamp(cutoff / 1000, UTC)


@pytest.mark.parametrize("cutoff", [None, CUTOFF], ids=["all", "cutoff"])
def test_sums_over_clusters_equal_pandas(loaded: Loaded, cutoff: int | None) -> None:
    """Clusters, cluster sizes, and every metric's sums with denominators and CUPED
    cross-sums (conversion, continuous with a window, count, ratio), overall and per segment."""
    store, events = loaded
    actual = store.summary(experiment(), cutoff=_moment(cutoff), segment="country").to_dict()
    expected = reference_sums(events, 2**62 if cutoff is None else cutoff)
    assert actual["experimentId"] == "cl-exp"
    assert_sums_equal({k: actual[k] for k in expected}, expected)
    assert min(expected["units"].values()) > 20  # not vacuous
    assert {"country=US", "country=DE", "country=(none)"} <= set(actual["segments"])
    # FR is only on exposures without a clusterId (left out), so it labels no cluster
    assert "country=FR" not in actual["segments"]


def test_counts_are_whole_clusters(loaded: Loaded) -> None:
    """Units are clusters; a conversion's denominator is the cluster sizes (D_c = m_c)."""
    store, _ = loaded
    sums = store.summary(experiment())
    assert sums.cluster_sizes is not None
    for variant, clusters in sums.units.items():
        sizes = sums.cluster_sizes[variant]
        assert sizes.n == clusters and sizes.sum > 2 * clusters
        denominator = sums.metrics["purchase"][variant].denominator
        assert denominator is not None
        assert (denominator.sum, denominator.sum_sq) == (sizes.sum, sizes.sum_sq)


@pytest.mark.parametrize("cutoff", [None, CUTOFF], ids=["all", "cutoff"])
@pytest.mark.parametrize("after_summary", [True, False], ids=["from-summary", "standalone"])
def test_data_quality_counts_clusters(
    loaded: Loaded, cutoff: int | None, after_summary: bool
) -> None:
    """Multi-variant clusters and exposures without a clusterId are counted (with the usual
    counts), whether read off the summary's pass or computed alone."""
    store, events = loaded
    exp = experiment()
    if after_summary:
        store.summary(exp, cutoff=_moment(cutoff))
    quality = store.data_quality(exp, _moment(cutoff)).to_dict()
    expected = reference_quality(events, 2**62 if cutoff is None else cutoff)
    assert quality == {"experimentId": "cl-exp", **expected}
    assert min(expected.values()) > 0  # every count is exercised


def test_a_look_says_how_many_exposures_lack_a_cluster_id(loaded: Loaded) -> None:
    """The data-quality finding names the exposures without a clusterId in plain words."""
    from splitlab.evaluation.quality import assess

    store, events = loaded
    exp = experiment()
    sums = store.summary(exp)
    report = assess(store.data_quality(exp), sum(sums.units.values()))
    missing = reference_quality(events)["missingClusterExposures"]
    sentences = report.halting + report.warnings
    assert any(f"{missing} exposure(s) carry no clusterId" in s for s in sentences), sentences
    assert report.to_dict()["missingClusterExposures"] == missing


def test_segment_of_a_cluster_is_its_first_exposure(tmp_path: Any) -> None:
    """An account whose users name different countries is one cluster, counted once, in the
    country of its earliest exposure, with all its users."""
    exp = "cl-exp"
    events = [
        Event("x1", "exposure", exp, "control", "u1", T_BASE + 10, attributes={"country": "US"},
              cluster_id="acct-a"),
        Event("x2", "exposure", exp, "control", "u2", T_BASE + 5, attributes={"country": "DE"},
              cluster_id="acct-a"),
        Event("x3", "exposure", exp, "control", "u3", T_BASE + 1, cluster_id="acct-b"),
        Event("x4", "exposure", exp, "control", "u4", T_BASE + 20, attributes={"country": "US"},
              cluster_id="acct-a"),
    ]  # fmt: skip
    with DuckDBStore(tmp_path / "e.duckdb") as store:
        store.ingest(events)
        sums = store.summary(experiment(), segment="country")
    assert sums.units["control"] == 2
    sizes = {
        label: (part.units["control"], part.cluster_sizes["control"].sum)  # type: ignore[index]
        for label, part in sums.segments.items()
    }
    assert sizes == {"country=DE": (1, 3), "country=(none)": (1, 1)}


def test_classic_experiment_is_unchanged_by_cluster_ids(tmp_path: Any) -> None:
    """The same events read as a classic experiment give per-unit sums without cluster sizes."""
    events = simulate(np.random.default_rng(5), accounts=40)
    raw = experiment().model_dump(by_alias=True, exclude_none=True)
    raw.pop("design")
    from splitlab.config import load_experiment

    classic = load_experiment(raw)
    with DuckDBStore(tmp_path / "e.duckdb") as store:
        store.ingest(events)
        sums = store.summary(classic)
        quality = store.data_quality(classic).to_dict()
    exposed = {e.unit_id for e in events if e.type == "exposure"}
    assert sums.cluster_sizes is None
    assert sum(sums.units.values()) + quality["multiExposedUnits"] == len(exposed)
    assert quality["missingClusterExposures"] == 0 and quality["multiVariantClusters"] == 0
