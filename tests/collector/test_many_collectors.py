"""Several collector processes, each with its own log, merged by one loader process.

Events are spread over three collectors; one collector and the loader are SIGKILLed
mid-stream and restarted; some batches go to two collectors. Afterwards the store holds every
acknowledged event exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import httpx
import msgspec
import pytest

from splitlab.tracking.events import Event, now_ms

from .collector_helpers import ROOT, free_port
from .collector_helpers import ChildProcess as Process

COLLECTORS = 3
CLIENTS = 4
BATCHES = 60
SIZE = 50


@pytest.mark.slow
def test_sigkill_of_a_collector_and_of_the_loader_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    logs, db = tmp_path / "logs", tmp_path / "events.duckdb"
    ports = [free_port() for _ in range(COLLECTORS)]
    collectors = [
        Process("splitlab.server.logcollector", "--log-dir", str(logs / f"c{i}"),
                "--port", str(port), health=f"http://127.0.0.1:{port}/healthz")
        for i, port in enumerate(ports)
    ]  # fmt: skip
    loader = Process("splitlab.store.merge", "--db", str(db), "--logs", str(logs),
                     "--interval", "0.05")  # fmt: skip
    for collector in collectors:
        collector.start()
    loader.start()
    acknowledged: set[str] = set()
    sent_twice = [0]
    lock = threading.Lock()
    ts = now_ms() - 60_000

    def post(http: httpx.Client, target: int, content: bytes) -> bool:
        try:
            response = http.post(f"http://127.0.0.1:{ports[target]}/v1/events", content=content)
        except httpx.TransportError:
            return False
        return response.status_code == 200

    def client(number: int) -> None:
        with httpx.Client(timeout=10) as http:
            for b in range(BATCHES):
                batch = [Event(f"c{number}-b{b}-{i}", "metric", "exp", "a", f"u{number}-{i}",
                               ts + b, "m", float(i)) for i in range(SIZE)]  # fmt: skip
                content = msgspec.json.encode(batch)
                target = (number + b) % COLLECTORS
                while not post(http, target, content):  # retry elsewhere, same eventIds
                    target = (target + 1) % COLLECTORS
                    time.sleep(0.02)
                with lock:
                    acknowledged.update(e.event_id for e in batch)
                if b % 7 == 0:  # the same batch to a second collector: counted once
                    again = (target + 1) % COLLECTORS
                    while not post(http, again, content):
                        time.sleep(0.02)
                    with lock:
                        sent_twice[0] += 1
                time.sleep(0.005)  # paced, so that the kills land mid-stream

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        while len(acknowledged) < CLIENTS * BATCHES * SIZE // 4:
            time.sleep(0.01)
        collectors[0].kill()
        loader.kill()
        time.sleep(0.2)
        collectors[0].start()
        loader.start()
        while len(acknowledged) < CLIENTS * BATCHES * SIZE // 2:
            time.sleep(0.01)
        loader.kill()
        loader.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        for collector in collectors:
            collector.stop()
        loader.stop()
    assert sent_twice[0] > 0
    once = subprocess.run([sys.executable, "-m", "splitlab.store.merge", "--db", str(db),
                           "--logs", str(logs), "--once"], check=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
    assert once.returncode == 0
    con = duckdb.connect(str(db), read_only=True)
    stored = {row[0] for row in con.execute("SELECT event_id FROM metric_events").fetchall()}
    total = con.execute("SELECT count(*) FROM metric_events").fetchall()[0][0]
    logs_loaded = con.execute(
        "SELECT count(*) FROM splitlab_log_position WHERE log_id LIKE 'log:%'"
    ).fetchall()[0][0]
    con.close()
    assert len(acknowledged) == CLIENTS * BATCHES * SIZE
    assert total == len(stored)  # nothing twice
    assert stored == acknowledged  # nothing lost, nothing unacknowledged left over
    assert logs_loaded == COLLECTORS
