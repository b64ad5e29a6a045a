"""Overload: a full write queue is answered with 503 + Retry-After, never with lost events."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import msgspec

from splitlab.server.collector import create_collector
from splitlab.store import DuckDBStore
from splitlab.tracking.events import Event, now_ms

from .collector_helpers import serve_in_thread


def test_full_queue_answers_503_and_retries_complete(tmp_path: Path) -> None:
    """With a one-byte queue bound, concurrent batches get 503s; retried, all are stored once."""
    store = DuckDBStore(tmp_path / "o.duckdb", max_pending_bytes=1)
    refusals: list[httpx.Response] = []
    lock = threading.Lock()
    sent: set[str] = set()

    def client(number: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for b in range(25):
                ts = now_ms() - 1000
                batch = [Event(f"{number}-{b}-{i}", "metric", "exp", "a", f"u{i}", ts, "m", 1.0)
                         for i in range(100)]  # fmt: skip
                with lock:
                    sent.update(e.event_id for e in batch)
                while True:
                    response = http.post("/v1/events", content=msgspec.json.encode(batch))
                    if response.status_code == 200:
                        break
                    with lock:
                        refusals.append(response)

    try:
        with serve_in_thread(create_collector(store)) as url:
            threads = [threading.Thread(target=client, args=(n, url)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        store.flush()
        with store.lock:
            rows = store.connection.execute("SELECT event_id FROM metric_events").fetchall()
    finally:
        store.close()
    assert refusals, "eight concurrent clients must overflow a one-byte queue"
    for response in refusals:
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["code"] == "overloaded"
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) and set(ids) == sent
