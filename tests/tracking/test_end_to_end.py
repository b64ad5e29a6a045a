"""End to end with the real collector and the real DuckDB store: every event counted once.

The tracking client posts to ``python -m splitlab.server.collector`` (a separate process that
is SIGKILLed and restarted mid-stream); the middleware writes through the in-process
transport into ``DuckDBStore``. Counts are read back from the DuckDB file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from splitlab.assignment import ExperimentAssignmentService
from splitlab.store import DuckDBStore
from splitlab.tracking import EventTrackingMiddleware, TrackingClient, TrackingCore, emit
from splitlab.tracking.retry import Backoff
from tests.collector.collector_helpers import CollectorProcess
from tests.tracking.tracking_helpers import make_experiment


def stored_counts(db: Path) -> tuple[int, int]:
    """(rows, distinct event ids) of metric events in the DuckDB file, after loading the log."""
    store = DuckDBStore(db)
    try:
        store.flush()
        with store.lock:
            rows, distinct = store.connection.execute(
                "SELECT count(*), count(DISTINCT event_id) FROM metric_events"
            ).fetchone()
    finally:
        store.close()
    return int(rows), int(distinct)


@pytest.mark.slow
def test_client_to_a_killed_and_restarted_collector_stores_each_event_once(
    tmp_path: Path,
) -> None:
    """SIGKILL of the collector mid-stream: after retries every event is stored exactly once."""
    db = tmp_path / "events.duckdb"
    collector = CollectorProcess(db)
    collector.start()
    client = TrackingClient.http(
        collector.url,
        batch_size=50,
        flush_interval=0.05,
        backoff=Backoff(base=0.05, cap=0.5),
        rng=np.random.default_rng(11),
        register_atexit=False,
    )
    try:
        for i in range(600):
            client.metric(f"user-{i % 97}", "exp-1", "control", "checkout", value=1.0)
            if i == 300:
                collector.kill()
                collector.start()
        assert client.flush(timeout=30)
        stats = client.stats
        assert (stats.accepted + stats.duplicates, stats.rejected, stats.dropped_total) == (
            600,
            0,
            0,
        )
    finally:
        client.close()
        collector.stop()
    assert stored_counts(db) == (600, 600)


def middleware_app(store: DuckDBStore, wall: list[float]) -> tuple[FastAPI, TrackingClient]:
    client = TrackingClient.in_process(store, wall_clock=lambda: wall[0], register_atexit=False)
    core = TrackingCore(ExperimentAssignmentService([make_experiment("exp-1")]), client)
    app = FastAPI()
    app.add_middleware(EventTrackingMiddleware, tracking=core)

    @app.post("/checkout")
    def checkout() -> dict[str, Any]:
        return {"eventIds": [e.event_id for e in emit("checkout", 25.0)]}

    return app, client


def test_a_retried_request_is_stored_once_in_duckdb(tmp_path: Path) -> None:
    """The same request an hour later (same Idempotency-Key) adds nothing to the store."""
    db = tmp_path / "events.duckdb"
    wall = [1_790_000_000.0]
    headers = {"X-User-Id": "user-1", "Idempotency-Key": "order-7"}
    with DuckDBStore(db) as store:
        app, client = middleware_app(store, wall)
        first = TestClient(app).post("/checkout", headers=headers).json()["eventIds"]
        wall[0] += 3600
        again = TestClient(app).post("/checkout", headers=headers).json()["eventIds"]
        client.close()
    assert first == again
    assert stored_counts(db) == (1, 1)


def test_a_request_retried_after_a_restart_is_stored_once_in_duckdb(tmp_path: Path) -> None:
    """The retried request reaches a restarted store (no in-memory dedup left): still one row."""
    db = tmp_path / "events.duckdb"
    wall = [1_790_000_000.0]
    headers = {"X-User-Id": "user-1", "Idempotency-Key": "order-7"}
    with DuckDBStore(db) as store:
        app, client = middleware_app(store, wall)
        TestClient(app).post("/checkout", headers=headers)
        client.close()
    wall[0] += 3600
    with DuckDBStore(db) as store:
        app, client = middleware_app(store, wall)
        TestClient(app).post("/checkout", headers=headers)
        client.close()
    assert stored_counts(db) == (1, 1)
