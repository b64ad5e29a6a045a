"""Shared data of the SQL metric tests: simulated events, and the same metric events written
as a Parquet file, a CSV file and a PostgreSQL table, with definitions that read them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from splitlab.config import Experiment, load_experiment
from splitlab.config.sources import FilesSource, FileTable, SourceCatalog
from splitlab.tracking.events import Event

from .store_helpers import simulate

#: The simulation's metrics that SQL can define (not the ratio), as events.
METRICS: dict[str, Any] = {
    "primary": {"name": "purchase", "type": "conversion", "cuped": True},
    "secondary": [
        {"name": "revenue", "type": "continuous", "aggregation": "sum", "cuped": True},
        {"name": "pageviews", "type": "continuous", "event": "pageview",
         "aggregation": "count", "cuped": True},
        {"name": "max_basket", "type": "continuous", "event": "basket",
         "aggregation": "max", "windowHours": 24},
    ],
    "guardrails": [
        {"name": "errors", "type": "conversion", "event": "error", "threshold": 0.01,
         "windowHours": 48},
    ],
}  # fmt: skip

DEFINITION: dict[str, Any] = {
    "experimentId": "sim",
    "status": "running",
    "variants": ["control", "a", "b"],
    "assignment": {"salt": "sim-salt"},
    "evaluation": {"cupedLookbackDays": 7},
    "metrics": METRICS,
}


def events_definition() -> dict[str, Any]:
    return copy.deepcopy(DEFINITION)


def events_experiment() -> Experiment:
    return load_experiment(DEFINITION)


def sql_definition(source: str, table: str = "events") -> dict[str, Any]:
    """The same metrics, each read by a query over `table` of `source`."""
    raw = copy.deepcopy(DEFINITION)
    metrics = raw["metrics"]
    for metric in [metrics["primary"], *metrics["secondary"], *metrics["guardrails"]]:
        name = metric.get("event", metric["name"])
        query = (
            f"SELECT user_key AS unit_id, happened_at AS timestamp, amount AS value "
            f"FROM {table} WHERE event_name = '{name}'"
        )
        metric["sql"] = {"source": source, "query": query}
    return raw


def sql_experiment(source: str, table: str = "events") -> Experiment:
    return load_experiment(sql_definition(source, table))


def simulated(seed: int = 20261204, units: int = 300) -> list[Event]:
    """The store tests' simulation with every metric event in this experiment (a SQL row
    belongs to no experiment, so the events path must see the same rows as its own), and
    values on a grid of 1/4: their sums are exact in any order, so sums from the two paths
    can be compared for equality, not closeness."""
    events = simulate(np.random.default_rng(seed), units)
    out = []
    for e in events:
        if e.type == "metric":
            value = round((e.value or 0.0) * 4) / 4
            e = Event(e.event_id, e.type, "sim", e.variant, e.unit_id, e.timestamp, e.metric,
                      value, e.attributes)  # fmt: skip
        out.append(e)
    return out


def exposures(events: list[Event]) -> list[Event]:
    return [e for e in events if e.type == "exposure"]


def metric_rows(events: list[Event]) -> list[tuple[str, int, str, float]]:
    """(unit id, epoch ms, event name, value) of the metric events."""
    return [
        (e.unit_id, e.timestamp, e.metric or "", float(e.value if e.value is not None else 1.0))
        for e in events
        if e.type == "metric"
    ]


def as_datetime(ms: int) -> datetime:
    """Epoch milliseconds as an exact UTC date-time."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def write_parquet(rows: list[tuple[str, int, str, float]], path: Path) -> None:
    """Timestamps as TIMESTAMP without time zone (read as UTC), milliseconds."""
    table = pa.table(
        {
            "user_key": [r[0] for r in rows],
            "happened_at": pa.array([r[1] for r in rows], pa.timestamp("ms")),
            "event_name": [r[2] for r in rows],
            "amount": [r[3] for r in rows],
        }
    )
    pq.write_table(table, path)


def write_csv(rows: list[tuple[str, int, str, float]], path: Path) -> None:
    """Timestamps with a +02:00 offset (TIMESTAMP WITH TIME ZONE, converted to UTC)."""
    lines = ["user_key,happened_at,event_name,amount"]
    for unit, ms, name, value in rows:
        local = as_datetime(ms).astimezone(_PLUS_TWO)
        lines.append(f"{unit},{local.isoformat(timespec='milliseconds')},{name},{value!r}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


_PLUS_TWO = timezone(timedelta(hours=2))


def files_catalog(parquet: Path, csv: Path) -> SourceCatalog:
    return SourceCatalog(
        sources={
            "lake": FilesSource(
                type="files",
                tables={
                    "events": FileTable(path=str(parquet), format="parquet"),
                    "events_csv": FileTable(path=str(csv), format="csv"),
                },
            )
        }
    )
