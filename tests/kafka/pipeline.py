"""Helpers: events to send, loading a topic until it is drained, reading what was stored."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from splitlab.store.kafka_loader import KafkaLoader
from splitlab.tracking.events import Event, now_ms


def batches(prefix: str, count: int, size: int, units: int = 97) -> list[list[Event]]:
    """`count` batches of `size` events with unique ids: an exposure and metrics per unit."""
    ts = now_ms() - 60_000
    out: list[list[Event]] = []
    for b in range(count):
        batch: list[Event] = []
        for i in range(size):
            unit = f"u{(b * size + i) % units}"
            variant = "ab"[int(unit[1:]) % 2]
            if i % 4 == 0:
                batch.append(Event(f"{prefix}-{b}-{i}", "exposure", "exp", variant, unit, ts + i))
            else:
                batch.append(
                    Event(f"{prefix}-{b}-{i}", "metric", "exp", variant, unit, ts + i, "m", 1.0)
                )
        out.append(batch)
    return out


def load_until(db: Path, bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> int:
    """Run a loader on `db` until it stored `expected` events (or `timeout` passed)."""
    con = duckdb.connect(str(db))
    try:
        loader = KafkaLoader(con, bootstrap, topic, Path(f"{db}.scratch"), batch_messages=5000)
        deadline = time.monotonic() + timeout
        try:
            while stored(con) < expected and time.monotonic() < deadline:
                loader.load_once(0.2)
            # a little longer: anything beyond `expected` (a double count) would show up
            for _ in range(3):
                loader.load_once(0.2)
        finally:
            loader.close()
        return stored(con)
    finally:
        con.close()


def stored(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute(
        "SELECT (SELECT count(*) FROM exposures) + (SELECT count(*) FROM metric_events)"
    ).fetchone()
    assert row is not None
    return int(row[0])


def stored_ids(db: Path) -> list[str]:
    """Every stored event id (a repeated id would appear twice)."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT event_id FROM exposures UNION ALL SELECT event_id FROM metric_events"
        ).fetchall()
    return [r[0] for r in rows]
