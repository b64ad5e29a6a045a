"""Retention in a cluster design: per cluster, the retained users over the eligible users
(``Y_c`` and ``D_c``), summed over clusters, against pandas; a time-to-event metric there is
refused with a message naming it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from splitlab.config import load_experiment
from splitlab.store import DuckDBStore
from splitlab.store.errors import StoreError
from splitlab.tracking.events import Event

from .survival_data import CUTOFF, DAY, T0

VARIANTS = ["control", "treatment"]


def _experiment(*extra: dict[str, Any]) -> Any:
    return load_experiment(
        {
            "experimentId": "rc",
            "status": "running",
            "variants": VARIANTS,
            "assignment": {"hashKey": "accountId", "salt": "rc"},
            "design": {"type": "cluster", "analysisUnit": "userId"},
            "metrics": {
                "primary": {"name": "d3", "type": "retention", "event": "visit",
                            "retention": {"day": 3, "days": 2}},
                "secondary": list(extra),
            },
        }
    )  # fmt: skip


def _events(rng: np.random.Generator) -> tuple[list[Event], pd.DataFrame]:
    """Accounts of 1 to 4 users; each user exposed at its own time, visiting on some days."""
    events: list[Event] = []
    rows = []
    for c in range(150):
        variant = VARIANTS[c % 2]
        for k in range(int(rng.integers(1, 5))):
            unit = f"c{c}u{k}"
            t0 = T0 + int(rng.integers(0, 15 * DAY))
            events.append(Event(f"x{unit}", "exposure", "rc", variant, unit, t0,
                                cluster_id=f"c{c}"))  # fmt: skip
            days = [d for d in range(8) if rng.random() < 0.35]
            for d in days:
                at = t0 + d * DAY + int(rng.integers(0, DAY))
                events.append(
                    Event(f"v{unit}-{d}", "metric", "rc", variant, unit, at, "visit", 1.0)
                )
            eligible = t0 + 5 * DAY <= CUTOFF
            retained = eligible and any(d in (3, 4) for d in days)  # a visit on day 3 or 4
            rows.append((f"c{c}", variant, int(eligible), int(retained), t0 <= CUTOFF))
    frame = pd.DataFrame(rows, columns=["cluster", "variant", "el", "y", "exposed"])
    return events, frame[frame.exposed]


def test_cluster_retention_sums_equal_pandas(tmp_path: Path) -> None:
    events, users = _events(np.random.default_rng(5))
    with DuckDBStore(tmp_path / "e.duckdb") as store:
        store.ingest(events)
        sums = store.summary(_experiment(), datetime.fromtimestamp(CUTOFF / 1000, tz=UTC))
    clusters = users.groupby(["cluster", "variant"]).agg(y=("y", "sum"), d=("el", "sum"))
    for variant in VARIANTS:
        mine = clusters.xs(variant, level="variant")
        arm = sums.metrics["d3"][variant]
        assert arm.n == len(mine)
        assert (arm.sum, arm.sum_sq) == (mine.y.sum(), (mine.y**2).sum())
        assert arm.denominator is not None
        assert arm.denominator.sum == mine.d.sum()
        assert arm.denominator.sum_sq == (mine.d**2).sum()
        assert arm.denominator.sum_product == (mine.y * mine.d).sum()
    assert 0 < users.el.sum() < len(users) and users.y.sum() > 0


def test_time_to_event_in_a_cluster_design_is_refused(tmp_path: Path) -> None:
    tte = {"name": "first_visit", "type": "time_to_event", "event": "visit", "horizonHours": 48}
    with DuckDBStore(tmp_path / "e.duckdb") as store, pytest.raises(StoreError) as info:
        store.summary(_experiment(tte))
    assert "'first_visit'" in str(info.value) and "time_to_event" in str(info.value)
