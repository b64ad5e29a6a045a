"""Bounded memory and the on-disk spool: nothing is lost silently while the collector is down.

Past ``max_buffered`` events go to the spool; the spool is replayed after a crash or a
restart; events are dropped only on a documented limit, and every drop is counted and logged.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from splitlab.tracking import SpoolError, TrackingClient
from splitlab.tracking.events import Event
from splitlab.tracking.spool import Spool
from tests.tracking.tracking_helpers import FakeClock, Reply, ScriptedCollector, track_many

ROOT = Path(__file__).resolve().parents[2]


def down_client(
    collector: ScriptedCollector, clock: FakeClock, spool: Path | None, **options: Any
) -> TrackingClient:
    """A client whose collector answers 503 until told otherwise."""
    collector.fail_forever = Reply(503)
    clock.on_sleep = lambda _: time.sleep(0.002)  # let other threads run between retries
    settings: dict[str, Any] = {
        "batch_size": 5,
        "max_buffered": 20,
        "flush_interval": 60.0,
        "spool_dir": spool,
        "clock": clock,
        "sleep": clock.sleep,
        "rng": np.random.default_rng(3),
        "register_atexit": False,
    }
    settings.update(options)
    return TrackingClient.http(collector.url, **settings)


def spooled_ids(directory: Path) -> list[str]:
    spool = Spool(directory, max_bytes=10**9)
    ids: list[str] = []
    while (segment := spool.oldest()) is not None:
        ids.extend(e.event_id for e in segment.events)
        spool.remove(segment)
    spool.close()
    return ids


def test_memory_stays_bounded_and_the_spool_is_replayed_after_restart(
    collector: ScriptedCollector, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """With the collector down, memory holds at most max_buffered; a new client delivers all."""
    client = down_client(collector, fake_clock, tmp_path / "spool")
    ids: list[str] = []
    for start in range(0, 100, 10):
        ids.extend(track_many(client, 10, prefix=f"user{start}"))
        assert client.stats.pending <= 20
    assert client.stats.spooled >= 80
    client.close()
    stats = client.stats
    assert (stats.spooled, stats.pending, stats.dropped_total, stats.accepted) == (100, 0, 0, 0)

    collector.fail_forever = None
    replay = TrackingClient.http(collector.url, spool_dir=tmp_path / "spool", register_atexit=False)
    assert replay.flush(timeout=10)
    assert replay.stats.replayed == 100
    assert sorted(collector.stored) == sorted(ids)
    assert replay.stats.spool_bytes == 0
    replay.close()


def test_the_spool_drains_as_soon_as_the_collector_answers_again(
    collector: ScriptedCollector, fake_clock: FakeClock, tmp_path: Path
) -> None:
    """Spooled events are sent by the same client once the collector recovers."""
    client = down_client(collector, fake_clock, tmp_path / "spool")
    ids = track_many(client, 60)
    assert client.stats.spooled > 0
    collector.fail_forever = None
    assert client.flush(timeout=10)
    assert sorted(collector.stored) == sorted(ids)
    assert client.stats.spool_bytes == 0
    client.close()


def test_a_killed_process_spool_is_replayed_by_the_next_client(
    collector: ScriptedCollector, tmp_path: Path
) -> None:
    """SIGKILL with a spool on disk, then a new client: every spooled event stored once."""
    collector.fail_forever = Reply(503, {"Retry-After": "60"})
    spool_dir = tmp_path / "spool"
    child = textwrap.dedent(
        f"""
        import os, signal
        from splitlab.tracking import TrackingClient
        client = TrackingClient.http({collector.url!r}, batch_size=5, max_buffered=10,
                                     spool_dir={str(spool_dir)!r}, register_atexit=False)
        ids = [client.metric(f"user-{{i}}", "exp-1", "control", "checkout").event_id
               for i in range(40)]
        print(client.stats.spooled, " ".join(ids), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == -9, done.stderr
    count, *ids = done.stdout.split()
    assert int(count) >= 30
    collector.fail_forever = None
    with TrackingClient.http(collector.url, spool_dir=spool_dir, register_atexit=False) as replay:
        assert replay.flush(timeout=10)
        assert replay.stats.replayed == int(count)
    assert len(collector.stored) == int(count)
    assert set(collector.stored) <= set(ids)


def test_spool_full_drops_are_counted_and_logged(
    collector: ScriptedCollector,
    fake_clock: FakeClock,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past spool_max_bytes events are dropped with reason spool_full, counted and logged."""
    client = down_client(collector, fake_clock, tmp_path / "spool", spool_max_bytes=2000)
    with caplog.at_level(logging.ERROR, logger="splitlab.tracking.client"):
        track_many(client, 60)
    stats = client.stats
    assert stats.dropped.get("spool_full", 0) > 0
    assert stats.spool_bytes <= 2000
    assert stats.tracked == 60 == stats.pending + stats.spooled + stats.dropped_total
    assert any("spool_full" in r.getMessage() for r in caplog.records)
    client.close(timeout=0)


def test_without_a_spool_overflow_is_dropped_counted_and_logged(
    collector: ScriptedCollector, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """No spool_dir: events past max_buffered are dropped as buffer_full, never silently."""
    client = down_client(collector, fake_clock, None)
    with caplog.at_level(logging.ERROR, logger="splitlab.tracking.client"):
        track_many(client, 50)
    stats = client.stats
    assert stats.pending <= 20
    assert stats.dropped["buffer_full"] == 50 - stats.pending
    assert any("buffer_full" in r.getMessage() for r in caplog.records)
    client.close(timeout=0)
    assert client.stats.dropped_total == 50


def test_an_unreadable_spooled_line_is_counted(
    collector: ScriptedCollector, tmp_path: Path
) -> None:
    """A damaged line in a segment is counted as spool_corrupt; the readable events are sent."""
    event = Event(
        "evt-1", "metric", "exp-1", "control", "user-1", 1_790_000_000_000, "checkout", 1.0
    )
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.write([event])
    spool.close()
    segment = next(tmp_path.glob("*.jsonl"))
    segment.write_bytes(segment.read_bytes() + b'{"eventId": "torn\n')
    with TrackingClient.http(collector.url, spool_dir=tmp_path, register_atexit=False) as client:
        assert client.flush(timeout=10)
        assert client.stats.dropped == {"spool_corrupt": 1}
    assert set(collector.stored) == {"evt-1"}


def test_one_spool_directory_belongs_to_one_client(
    collector: ScriptedCollector, tmp_path: Path
) -> None:
    """A second client on the same spool directory is refused with a clear error."""
    first = TrackingClient.http(collector.url, spool_dir=tmp_path, register_atexit=False)
    with pytest.raises(SpoolError, match="in use by another tracking client"):
        TrackingClient.http(collector.url, spool_dir=tmp_path, register_atexit=False)
    first.close()
