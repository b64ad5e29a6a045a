"""Per weights version sums (store.weights_version_sums) against the plain-Python reference.

Each version's reference is :func:`expected_sums` over the events with the exposures of every
unit first exposed outside that version removed: the same per-unit rules, computed without
any of the SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.tracking.events import Event

from .store_helpers import DAY, T0, expected_sums, experiment, exposed_units, simulate
from .test_summary import assert_sums_equal

BOUNDARIES = [T0 + DAY + DAY // 2, T0 + 3 * DAY + 123]


def version_of(t0: int, boundaries: list[int]) -> int:
    return sum(1 for b in boundaries if t0 >= b)


def reference(events: list[Event], boundaries: list[int], cutoff: int) -> list[dict[str, Any]]:
    units = exposed_units(events, cutoff)
    out = []
    for k in range(len(boundaries) + 1):
        outside = {u for u, unit in units.items() if version_of(unit.t0, boundaries) != k}
        kept = [e for e in events if not (e.type == "exposure" and e.unit_id in outside)]
        out.append(expected_sums(kept, experiment(), cutoff=cutoff))
    return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    events = simulate(np.random.default_rng(20261204))
    store = DuckDBStore(tmp_path_factory.mktemp("versions") / "sim.duckdb", load_interval_s=0.05)
    store.ingest(events)
    yield store, events
    store.close()


@pytest.mark.parametrize("cutoff", [2**62, T0 + 2 * DAY])
def test_versions_match_reference(loaded: Any, cutoff: int) -> None:
    store, events = loaded
    at = None if cutoff == 2**62 else datetime.fromtimestamp(cutoff / 1000, UTC)
    got = store.weights_version_sums(experiment(), BOUNDARIES, at)
    expected = reference(events, BOUNDARIES, cutoff)
    assert len(got) == 3
    for k, (part, ref) in enumerate(zip(got, expected, strict=True)):
        assert_sums_equal(part.to_dict(), ref, f"$.v{k}")
    # The versions partition the summary: their sums add up to the pooled ones.
    pooled = store.summary(experiment(), at)
    total = got[0] + got[1] + got[2]
    assert_sums_equal(total.to_dict(), {"units": pooled.to_dict()["units"],
                                        "metrics": pooled.to_dict()["metrics"]})  # fmt: skip
    if cutoff != 2**62:  # nobody exposed after the cut-off: the last version is empty
        assert sum(got[2].units.values()) == 0


def test_without_boundaries_one_version_is_the_summary(loaded: Any) -> None:
    store, _ = loaded
    (only,) = store.weights_version_sums(experiment(), [])
    pooled = store.summary(experiment())
    assert_sums_equal(only.to_dict(), {"units": pooled.to_dict()["units"],
                                       "metrics": pooled.to_dict()["metrics"]})  # fmt: skip
