"""Disk full: the log's filesystem runs out of space; 503s, no acknowledged loss, recovery."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest

from splitlab.store import DuckDBStore
from splitlab.tracking.events import Event, now_ms

from .collector_helpers import CollectorProcess


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs (needs root and mount; elsewhere the RLIMIT_FSIZE test in tests/store runs)."""
    mount = tmp_path / "logfs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root; tests/store/test_log.py covers write errors")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def batch(n: int) -> list[Event]:
    ts = now_ms() - 1000
    return [Event(f"b{n}-{i}", "metric", "exp", "a", f"u{i}", ts, "m", float(i)) for i in range(50)]


@pytest.mark.slow
def test_disk_full_gives_503_then_recovers(tmp_path: Path, small_disk: Path) -> None:
    """Writes fail with 503 + Retry-After while the disk is full and succeed once space is back."""
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (1536 * 1024))
    collector = CollectorProcess(tmp_path / "db.duckdb", "--log-dir", str(small_disk),
                                 "--segment-mb", "8")  # fmt: skip
    collector.start()
    acknowledged: set[str] = set()
    refused: list[int] = []
    try:
        with httpx.Client(base_url=collector.url, timeout=10) as http:
            for n in range(300):
                response = http.post("/v1/events", content=msgspec.json.encode(batch(n)))
                if response.status_code == 200:
                    acknowledged.update(e.event_id for e in batch(n))
                    continue
                assert response.status_code == 503
                assert int(response.headers["retry-after"]) >= 1
                error = response.json()["error"]
                assert error["code"] == "store_unavailable" and "space" in error["message"]
                refused.append(n)
                if len(refused) >= 3:
                    break
            assert refused, "the small disk must fill up"
            assert acknowledged, "writes succeeded before the disk was full"
            filler.unlink()
            for n in refused:  # the client retries what was refused
                deadline = time.monotonic() + 30
                while True:
                    response = http.post("/v1/events", content=msgspec.json.encode(batch(n)))
                    if response.status_code == 200:
                        acknowledged.update(e.event_id for e in batch(n))
                        break
                    assert time.monotonic() < deadline, response.text
                    time.sleep(0.1)
    finally:
        collector.kill()
    with DuckDBStore(tmp_path / "db.duckdb", log_dir=small_disk) as store:
        store.flush()
        with store.lock:
            rows = store.connection.execute("SELECT event_id FROM metric_events").fetchall()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))
    assert set(ids) == acknowledged, "every acknowledged event is stored, once"
    assert {f"b{n}-0" for n in refused} <= set(ids), "the retried batches are stored"
