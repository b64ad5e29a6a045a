"""The switchback cell table from a real DuckDB store, against a plain-Python reference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from splitlab.config import Experiment, load_experiment
from splitlab.stats.switchback import cell_sums
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.switchback_standin import switchback_variant
from splitlab.tracking.events import Event
from tests.store.switchback_helpers import BURN, HOUR, O_MS, definition, simulate


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    with DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05) as s:
        yield s


def reference(exp: Experiment, events: list[Event], cutoff_ms: int) -> dict[str, Any]:
    """Cells by walking the events (shares no code with the SQL)."""
    unit_design = exp.design.unit is not None  # type: ignore[union-attr]
    mine = [e for e in events if e.timestamp <= cutoff_ms and e.experiment_id == "sb"]
    usable = [e for e in mine if e.cluster_id is not None or not unit_design]
    first = min(e.timestamp for e in usable)
    k0 = (first - O_MS) // HOUR
    k1 = (cutoff_ms + 1 - O_MS) // HOUR - 1
    units = sorted({e.cluster_id for e in usable if unit_design} or {""})
    cells: dict[tuple[str, int], dict[str, Any]] = defaultdict(
        lambda: {"orders": 0.0, "buyers": set(), "revenue": 0.0, "biggest": 0.0}
    )
    claims = 0
    for e in usable:
        k = (e.timestamp - O_MS) // HOUR
        if not (k0 <= k <= k1) or e.timestamp - (O_MS + k * HOUR) < BURN or e.type != "metric":
            continue
        u = e.cluster_id if unit_design else ""
        assert u is not None
        cell = cells[(u, k)]
        if e.variant != switchback_variant(exp, u if unit_design else None, k):
            claims += 1
        if e.metric == "orders":
            cell["orders"] += 1
            cell["buyers"].add(e.unit_id)
        else:
            assert e.value is not None
            cell["revenue"] += e.value
            cell["biggest"] = max(cell["biggest"], e.value)
    grid = [(u, k) for u in units for k in range(k0, k1 + 1)]
    out: dict[str, Any] = {"k0": k0, "periods": k1 - k0 + 1, "units": units, "claims": claims}
    for name in ("orders", "revenue", "biggest"):
        out[name] = [cells[c][name] if c in cells else 0.0 for c in grid]
    out["buyers"] = [float(len(cells[c]["buyers"])) if c in cells else 0.0 for c in grid]
    out["variants"] = [switchback_variant(exp, u if unit_design else None, k) for u, k in grid]
    out["missing"] = sum(1 for e in mine if e.type == "metric" and e not in usable)
    return out


@pytest.mark.parametrize("unit", ["region", None])
def test_cells_match_the_reference(store: DuckDBStore, unit: str | None) -> None:
    exp = load_experiment(definition(unit))
    rng = np.random.default_rng(5)
    events = simulate(exp, rng, ["north", "south", "east", None])
    # A region seen once (an exposure): all its cells are in the table, with outcome 0.
    events.append(Event("w", "exposure", "sb", "control", "u1", O_MS + 9 * HOUR, None, None,
                        None, "west"))  # fmt: skip
    store.ingest(events)
    cutoff = datetime(2026, 3, 3, 7, 30, tzinfo=UTC)  # mid-period: 07:00-08:00 is left out
    cells = store.switchback_cells(exp, cutoff)
    ref = reference(exp, events, int(cutoff.timestamp() * 1000))
    assert cells.first_period == ref["k0"] == 2
    assert cells.periods == ref["periods"] == 29  # periods 2..30 (06:00-07:00 is the last)
    expect_units = tuple(ref["units"]) if unit else (None,)
    assert len(expect_units) == (4 if unit else 1)
    assert cells.unit_names == expect_units
    assert list(cells.variants) == ref["variants"]
    for name in ("orders", "revenue", "biggest", "buyers"):
        np.testing.assert_allclose(cells.outcome(name), ref[name], rtol=1e-12, err_msg=name)
    np.testing.assert_allclose(cells.outcome("aov"), ref["revenue"], rtol=1e-12)
    den = cells.denominator("aov")
    assert den is not None
    np.testing.assert_allclose(den, ref["orders"], rtol=1e-12)
    if unit:
        assert cells.unit_names[-1] == "west"
        assert (cells.outcome("orders")[-29:] == 0).all()
    quality = store.data_quality(exp, cutoff)
    assert quality.variant_mismatch_events == ref["claims"] > 0
    assert quality.unexposed_metric_events == (ref["missing"] if unit else 0)
    assert quality.multi_exposed_units == 0
    sums = store.summary(exp, cutoff)
    assert sums == cell_sums(exp, cells)
    assert sum(sums.units.values()) == len(expect_units) * 29


def test_burn_in_edge_and_empty_window(store: DuckDBStore) -> None:
    exp = load_experiment(definition())
    k = 5
    at = O_MS + k * HOUR
    store.ingest([
        Event("a", "metric", "sb", "control", "u1", at + BURN - 1, "orders", 1.0, None, "n"),
        Event("b", "metric", "sb", "control", "u1", at + BURN, "orders", 1.0, None, "n"),
        Event("c", "metric", "sb", "control", "u1", at + HOUR - 1, "orders", 1.0, None, "n"),
    ])  # fmt: skip
    # Cut-off at the period's last millisecond: the period is complete and in the window.
    cells = store.switchback_cells(exp, datetime.fromtimestamp((at + HOUR - 1) / 1000, UTC))
    assert (cells.first_period, cells.periods) == (k, 1)
    assert cells.outcome("orders").tolist() == [2.0]  # "a" is in the burn-in
    # One millisecond earlier the period is incomplete: the window is empty.
    early = store.switchback_cells(exp, datetime.fromtimestamp((at + HOUR - 2) / 1000, UTC))
    assert early.periods == 0 and early.size == 0
