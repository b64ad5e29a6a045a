"""Rows of an ``orders`` table and the same rows as metric events, for the SQL metric tests.

Every unit is exposed once, at a whole second (ClickHouse 18.16's ``DateTime`` counts
seconds); its orders fall before the CUPED lookback, inside it, just before the exposure, at
it, inside and after the 24-hour window, and after the cut-off, so every rule of the
per-unit aggregation is exercised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from splitlab.config import Experiment, load_experiment
from splitlab.store.clickhouse.http import ClickHouseClient
from splitlab.tracking.events import Event

T0_S = 1_780_000_000
HOUR_S = 3600
#: Order times relative to the exposure (seconds): before the 2-day lookback, inside it, just
#: before the exposure, at it, in the 24 h window, after it; the last lands after the cut-off.
OFFSETS_S = (-3 * 24 * HOUR_S, -30 * HOUR_S, -1, 0, 7, 5 * HOUR_S, 30 * HOUR_S, 90 * 24 * HOUR_S)
CUTOFF = datetime.fromtimestamp(T0_S + 60 * 24 * HOUR_S, tz=UTC)
ORDERS_QUERY = "SELECT buyer AS unit_id, placed_at AS timestamp, amount AS value FROM {db}.orders"


@dataclass
class Orders:
    """Exposures (unit, variant, second) and orders (unit, second, amount)."""

    exposures: list[tuple[str, str, int]]
    orders: list[tuple[str, int, float]]

    def events(self, experiment_id: str) -> list[Event]:
        """The exposures and the orders as events of metric ``orders`` (ms timestamps)."""
        variant = {unit: arm for unit, arm, _ in self.exposures}
        out = [
            Event(f"x{k}", "exposure", experiment_id, arm, unit, t * 1000)
            for k, (unit, arm, t) in enumerate(self.exposures)
        ]
        out += [
            Event(f"o{k}", "metric", experiment_id, variant[unit], unit, t * 1000, "orders", v)
            for k, (unit, t, v) in enumerate(self.orders)
        ]
        return out

    def json_rows(self) -> bytes:
        """The orders as ``JSONEachRow`` for a table ``(buyer String, placed_at DateTime, amount)``."""
        lines = [
            f'{{"buyer":"{unit}","placed_at":{t},"amount":{v!r}}}' for unit, t, v in self.orders
        ]
        return ("\n".join(lines) + "\n").encode()

    def write_parquet(self, path: Path) -> None:
        """The orders as a Parquet file (``buyer``, ``placed_at`` TIMESTAMP UTC, ``amount``)."""
        table = pa.table(
            {
                "buyer": [u for u, _, _ in self.orders],
                "placed_at": pa.array(
                    [datetime.fromtimestamp(t, tz=UTC) for _, t, _ in self.orders],
                    pa.timestamp("us", tz="UTC"),
                ),
                "amount": [v for _, _, v in self.orders],
            }
        )
        pq.write_table(table, path)

    def create_table(self, client: ClickHouseClient, db: str) -> None:
        """Database `db` with a table ``orders`` holding the orders."""
        client.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
        client.execute(
            f"CREATE TABLE IF NOT EXISTS {db}.orders (buyer String, placed_at DateTime, "
            "amount Float64) ENGINE = MergeTree ORDER BY buyer"
        )
        client.insert(f"{db}.orders", self.json_rows())


def orders(seed: int, n: int) -> Orders:
    """`n` units in two arms, each with a random subset of :data:`OFFSETS_S` as orders."""
    rng = np.random.default_rng(seed)
    exposures: list[tuple[str, str, int]] = []
    rows: list[tuple[str, int, float]] = []
    for u in range(n):
        unit, t0 = f"u{u}", T0_S + u
        exposures.append((unit, ("control", "treatment")[u % 2], t0))
        for offset in OFFSETS_S:
            if rng.random() < 0.6:
                rows.append((unit, t0 + offset, float(np.round(rng.lognormal(2.0, 1.0), 2))))
    return Orders(exposures, rows)


def metrics(sql: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Revenue (sum, CUPED, 24 h window, 90th-percentile cap), buyers (conversion) and
    order counts; read from `sql` when given, else from the events named ``orders``."""
    extra: dict[str, Any] = {"sql": sql} if sql is not None else {"event": "orders"}
    return [
        {
            "name": "revenue",
            "type": "continuous",
            "cuped": True,
            "windowHours": 24,
            "cap": {"type": "percentile", "percentile": 90},
            **extra,
        },
        {"name": "buyers", "type": "conversion", **extra},
        {"name": "orders_n", "type": "continuous", "aggregation": "count", **extra},
    ]


def experiment(experiment_id: str, sql: dict[str, Any] | None = None) -> Experiment:
    """Two arms and :func:`metrics`, CUPED looking back 2 days."""
    primary, *secondary = metrics(sql)
    return load_experiment(
        {
            "experimentId": experiment_id,
            "status": "running",
            "variants": ["control", "treatment"],
            "assignment": {"salt": "sql-salt"},
            "evaluation": {"cupedLookbackDays": 2},
            "metrics": {"primary": primary, "secondary": secondary},
        }
    )
