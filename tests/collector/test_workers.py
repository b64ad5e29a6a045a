"""`--workers N`: N collector processes on one port, each writing its own log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import msgspec

from splitlab.store.log import Position
from splitlab.store.logreader import LogReader
from splitlab.tracking.events import Event, now_ms

from .collector_helpers import ROOT, free_port


def test_workers_share_a_port_and_each_keeps_its_own_log(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "splitlab.server.logcollector", "--logs", str(tmp_path),
               "--name", "host", "--workers", "2", "--port", str(port)]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).is_success:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.05)
        while not all((tmp_path / f"host-{i}").is_dir() for i in range(2)):
            assert time.monotonic() < deadline, "a worker did not start"
            time.sleep(0.05)
        ts = now_ms()
        sent = 0
        n = 0
        # A new connection each time: the kernel spreads them over the workers listening
        # (until both have events: the second may still be starting for the first ones).
        while n < 40 or not all(_records(tmp_path / f"host-{i}") for i in range(2)):
            assert time.monotonic() < deadline + 30, "connections never reached both workers"
            n += 1
            batch = [Event(f"b{n}-{i}", "metric", "exp", "a", f"u{i}", ts, "m", 1.0)
                     for i in range(10)]  # fmt: skip
            answer = httpx.post(f"http://127.0.0.1:{port}/v1/events",
                                content=msgspec.json.encode(batch), timeout=10)  # fmt: skip
            assert answer.json()["accepted"] == 10
            sent += 10
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == -signal.SIGTERM  # as its workers end
    per_log = [_records(tmp_path / f"host-{i}") for i in range(2)]
    assert sum(per_log) == sent
    assert all(count > 0 for count in per_log), per_log


def _records(directory: Path) -> int:
    """Events in the log of `directory` (one JSON line each)."""
    payloads, _ = LogReader(directory).read_next(Position(0, 0), 1 << 30)
    return sum(len(p.splitlines()) for p in payloads)
