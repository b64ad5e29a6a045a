"""`splitlab serve` as a real child process: start it, send it traffic, stop it by a signal.

Used by the shutdown tests of the server and of the tracking client (which need a real
collector). The keys are created in the database before the server starts (it refuses a
second process on the file), so the test knows them without reading the server's output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import httpx
import msgspec

from splitlab.server.context import ServerContext
from splitlab.store import DuckDBStore
from splitlab.tracking.events import Event, now_ms
from tests.collector.collector_helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTICLE = ROOT / "examples" / "exp-checkout-flow-v3.json"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that imports splitlab (and the examples) from here."""
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", **extra}


def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes],
    what: str,
    timeout: float = 30,
    path: str = "/healthz",
) -> None:
    """Wait (at most ``timeout`` seconds) until ``GET {url}{path}`` answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}{path}", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start (exit code {process.poll()})")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes], signum: int = signal.SIGTERM) -> int:
    """Send ``signum``, wait for the exit (at most 60 s, then SIGKILL); the return code."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
            raise
    return process.returncode


def stop_reading_stderr(
    process: subprocess.Popen[bytes], signum: int = signal.SIGTERM
) -> tuple[int, str]:
    """:func:`stop`, then what the process wrote to its piped stderr ("" when not piped)."""
    code = stop(process, signum)
    text = ""
    if process.stderr is not None and not process.stderr.closed:
        text = process.stderr.read().decode(errors="replace")
        process.stderr.close()
    return code, text


class ServeProcess:
    """``python -m splitlab serve --db PATH`` on a free port, with an admin and an SDK key."""

    def __init__(self, db: Path, *extra: str) -> None:
        self.db = db
        self.extra = list(extra)
        self.port = free_port()
        with DuckDBStore(db) as store:
            ctx = ServerContext.open(store)
            self.admin_key = ctx.keys.create("admin", "tests").secret
            self.sdk_key = ctx.keys.create("sdk", "tests").secret
        self.process: subprocess.Popen[bytes] | None = None
        self.stderr = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def start(self) -> ServeProcess:
        command = [sys.executable, "-m", "splitlab", "serve", "--db", str(self.db),
                   "--port", str(self.port), "--log-level", "warning", *self.extra]  # fmt: skip
        self.process = subprocess.Popen(
            command, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_healthy(self.url, self.process, "splitlab serve")
        return self

    def register(self, definition: dict[str, Any]) -> None:
        """Register (and so start) an experiment through the API."""
        answer = httpx.post(f"{self.url}/v1/experiments", json=definition, headers=self.admin)
        assert answer.status_code == 201, answer.text

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Stop the server with ``signum``; its return code."""
        assert self.process is not None
        code, text = stop_reading_stderr(self.process, signum)
        self.stderr = text or self.stderr
        return code


def stored_event_ids(db: Path) -> set[str]:
    """Every event id in the DuckDB file (exposures and metric events), opened read-only."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT event_id FROM exposures UNION ALL SELECT event_id FROM metric_events"
        ).fetchall()
    finally:
        con.close()
    ids = [row[0] for row in rows]
    assert len(ids) == len(set(ids)), "each event stored once"
    return set(ids)


def wal_of(db: Path) -> Path:
    """DuckDB's write-ahead log beside the database: present until a clean close."""
    return db.with_name(db.name + ".wal")


class Traffic:
    """Threads posting batches of metric events until told to stop; records what was acked."""

    def __init__(self, url: str, headers: dict[str, str], *, clients: int = 4, size: int = 50):
        self.url = url
        self.headers = headers
        self.size = size
        self.acknowledged: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(clients)
        ]

    def _client(self, number: int) -> None:
        ts = now_ms() - 60_000
        batch_number = 0
        with httpx.Client(timeout=10, headers=self.headers) as http:
            while not self._stop.is_set():
                batch = [
                    Event(f"c{number}-b{batch_number}-{i}", "metric", "exp-checkout-flow-v3",
                          "control", f"u{number}-{i}", ts, "checkout", 1.0)
                    for i in range(self.size)
                ]  # fmt: skip
                batch_number += 1
                try:
                    answer = http.post(f"{self.url}/v1/events", content=msgspec.json.encode(batch))
                except httpx.TransportError:
                    return  # the server went away: this batch was not acknowledged
                if answer.status_code != 200:
                    continue
                assert answer.json()["accepted"] == len(batch), answer.text
                with self._lock:
                    self.acknowledged.update(event.event_id for event in batch)

    def count(self) -> int:
        with self._lock:
            return len(self.acknowledged)

    @contextmanager
    def running(self) -> Iterator[Traffic]:
        for thread in self._threads:
            thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            for thread in self._threads:
                thread.join(timeout=30)

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < count:
            assert time.monotonic() < deadline, f"only {self.count()} events acknowledged"
            time.sleep(0.02)
