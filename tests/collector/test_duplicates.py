"""Duplicates: every batch twice, in another order, from several clients, changes nothing."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import msgspec
import numpy as np

from splitlab.server.collector import create_collector
from splitlab.store import DuckDBStore
from splitlab.tracking.events import Event
from tests.store.store_helpers import experiment, simulate
from tests.store.test_summary import assert_sums_equal

from .collector_helpers import serve_in_thread

KNOWN = {"sim": ("control", "a", "b"), "other": ("control", "a", "b")}


def batches(events: list[Event], size: int) -> list[bytes]:
    return [msgspec.json.encode(events[i : i + size]) for i in range(0, len(events), size)]


def send_all(url: str, bodies: list[bytes], clients: int) -> list[dict[str, Any]]:
    """Send the bodies from `clients` threads; every answer must be a 200."""
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def run(part: list[bytes]) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for content in part:
                response = client.post("/v1/events", content=content)
                assert response.status_code == 200, response.text
                with lock:
                    answers.append(response.json())

    threads = [threading.Thread(target=run, args=(bodies[k::clients],)) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def ingest_over_http(path: Path, bodies: list[bytes], clients: int) -> tuple[Any, Any, Any]:
    store = DuckDBStore(path)
    try:
        with serve_in_thread(create_collector(store, lambda: KNOWN)) as url:
            answers = send_all(url, bodies, clients)
        exp = experiment()
        return answers, store.summary(exp, segment="region").to_dict(), store.data_quality(exp)
    finally:
        store.close()


def test_every_batch_twice_in_another_order_gives_the_same_summary(tmp_path: Path) -> None:
    """Sending each batch twice, shuffled, over 4 clients equals sending each once."""
    rng = np.random.default_rng(7)
    events = simulate(rng, units=150)
    bodies = batches(events, 40)
    once_answers, once, once_quality = ingest_over_http(tmp_path / "once.duckdb", bodies, 1)
    twice_bodies = bodies + bodies
    order = rng.permutation(len(twice_bodies))
    twice_answers, twice, twice_quality = ingest_over_http(
        tmp_path / "twice.duckdb", [twice_bodies[i] for i in order], 4
    )
    assert_sums_equal(twice, once)  # equal up to the order of floating-point additions
    assert twice_quality == once_quality
    assert sum(a["accepted"] for a in once_answers) == len(events)
    assert sum(a["accepted"] for a in twice_answers) == len(events)
    assert sum(a["duplicates"] for a in twice_answers) == len(events)
    assert sum(once["units"].values()) > 100
