"""Crash: the collector is SIGKILLed under load and restarted; nothing acknowledged is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import msgspec
import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.tracking.events import Event, now_ms
from tests.store.store_helpers import key_problems

from .collector_helpers import CollectorProcess

CLIENTS = 4
BATCHES = 100
SIZE = 50


def client_batches(client: int) -> list[list[Event]]:
    ts = now_ms() - 60_000
    return [
        [
            Event(f"c{client}-b{b}-{i}", "metric", "exp", "a", f"u{client}-{i}", ts, "m", 1.0)
            for i in range(SIZE)
        ]
        for b in range(BATCHES)
    ]


@pytest.mark.slow
def test_sigkill_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """Every acknowledged event is stored exactly once; retries of the rest complete the set."""
    rng = np.random.default_rng(31)
    collector = CollectorProcess(tmp_path / "crash.duckdb")
    collector.start()
    acknowledged: set[str] = set()
    failures = [0]
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(timeout=10) as http:
            for batch in client_batches(number):
                content = msgspec.json.encode(batch)
                while True:  # retry the same batch (same eventIds) until acknowledged
                    try:
                        response = http.post(f"{collector.url}/v1/events", content=content)
                    except httpx.TransportError:
                        response = None
                    if response is not None and response.status_code == 200:
                        with lock:
                            acknowledged.update(e.event_id for e in batch)
                        time.sleep(0.01)  # paced, so the kills land mid-stream
                        break
                    with lock:
                        failures[0] += 1
                    time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    acked_at_kill = []
    for _ in range(2):
        time.sleep(float(rng.uniform(0.3, 1.0)))
        collector.kill()
        with lock:
            acked_at_kill.append(set(acknowledged))
        collector.start()
    for thread in threads:
        thread.join(timeout=120)
    collector.kill()

    sent = {e.event_id for n in range(CLIENTS) for b in client_batches(n) for e in b}
    assert acknowledged == sent, "the clients' retries complete the set"
    assert acked_at_kill[0], "some batches were acknowledged before the first kill"
    assert len(acked_at_kill[0]) < len(sent), "the kill happened while clients were sending"
    assert failures[0] > 0, "clients saw the collector die"
    with DuckDBStore(tmp_path / "crash.duckdb") as store:  # replays the log after the kill
        store.flush()
        with store.lock:
            rows = store.connection.execute("SELECT event_id FROM metric_events").fetchall()
            problems = key_problems(store.connection)
    assert problems == dict.fromkeys(problems, 0), "one unit key per unit after the kills"
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)), "stored exactly once"
    assert set(ids) == sent
    assert acked_at_kill[0] <= set(ids)
