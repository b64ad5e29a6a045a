"""Flushing on close, on leaving a ``with`` block and at interpreter exit; the transports."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from splitlab.store.errors import StoreError
from splitlab.tracking import Event, InProcessTransport, TrackingClient
from splitlab.tracking.errors import MissingDependencyError, RetryableSendError
from splitlab.tracking.transport import HTTPTransport, SendResult
from tests.tracking.tracking_helpers import Counts, FakeClock, MemorySink, Reply, ScriptedCollector

ROOT = Path(__file__).resolve().parents[2]


def test_close_delivers_what_is_pending(collector: ScriptedCollector) -> None:
    """Events below the batch size and before the interval are delivered by close()."""
    client = TrackingClient.http(collector.url, flush_interval=3600.0, register_atexit=False)
    ids = [client.metric(f"user-{i}", "exp-1", "control", "checkout").event_id for i in range(3)]
    assert collector.requests == []
    client.close()
    assert set(collector.stored) == set(ids)


def test_leaving_a_with_block_delivers_what_is_pending(collector: ScriptedCollector) -> None:
    """The context manager closes the client, which flushes."""
    with TrackingClient.http(collector.url, flush_interval=3600.0, register_atexit=False) as c:
        event = c.exposure("user-1", "exp-1", "control", attributes={"country": "US"})
    assert collector.stored == {event.event_id: event}


def test_interpreter_exit_delivers_what_is_pending(collector: ScriptedCollector) -> None:
    """A client never closed by the program is flushed by its atexit hook."""
    child = textwrap.dedent(
        f"""
        from splitlab.tracking import TrackingClient
        client = TrackingClient.http({collector.url!r}, flush_interval=3600.0)
        for i in range(7):
            client.metric(f"user-{{i}}", "exp-1", "control", "checkout")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert len(collector.stored) == 7


def test_abandoned_client_spools_at_exit_when_the_collector_is_down(
    collector: ScriptedCollector, tmp_path: Path
) -> None:
    """At exit with the collector down, pending events go to the spool for the next start."""
    collector.fail_forever = Reply(503)
    child = textwrap.dedent(
        f"""
        from splitlab.tracking import TrackingClient
        client = TrackingClient.http({collector.url!r}, flush_interval=3600.0,
                                     close_timeout=0.5, spool_dir={str(tmp_path)!r})
        for i in range(7):
            client.metric(f"user-{{i}}", "exp-1", "control", "checkout")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert collector.stored == {}
    collector.fail_forever = None
    with TrackingClient.http(collector.url, spool_dir=tmp_path, register_atexit=False) as c:
        assert c.flush(timeout=10)
    assert len(collector.stored) == 7


def test_close_without_spool_counts_what_it_could_not_deliver(
    collector: ScriptedCollector, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Collector down, no spool: close() gives up at its deadline and counts close_timeout."""
    collector.fail_forever = Reply(503)
    client = TrackingClient.http(
        collector.url,
        clock=fake_clock,
        sleep=fake_clock.sleep,
        rng=np.random.default_rng(5),
        register_atexit=False,
    )
    for i in range(4):
        client.metric(f"user-{i}", "exp-1", "control", "checkout")
    with caplog.at_level(logging.ERROR, logger="splitlab.tracking.client"):
        client.close(timeout=30.0)
    assert client.stats.dropped == {"close_timeout": 4}
    assert sum(fake_clock.sleeps) <= 30.0
    assert any("close_timeout" in r.getMessage() for r in caplog.records)


def test_events_tracked_after_close_are_counted(collector: ScriptedCollector) -> None:
    """Tracking on a closed client is counted as dropped ('closed'), not silently ignored."""
    client = TrackingClient.http(collector.url, register_atexit=False)
    client.close()
    client.metric("user-1", "exp-1", "control", "checkout")
    assert client.stats.dropped == {"closed": 1}


def test_event_id_is_made_once_when_the_event_is_created(collector: ScriptedCollector) -> None:
    """The id returned by metric() is the id stored; a caller-supplied id is kept as given."""
    with TrackingClient.http(collector.url, register_atexit=False) as client:
        made = client.metric("user-1", "exp-1", "control", "checkout")
        given = client.metric("user-2", "exp-1", "control", "checkout", event_id="order-17")
    assert set(collector.stored) == {made.event_id, "order-17"}
    assert made.event_id != given.event_id


class FlakySink(MemorySink):
    """A sink whose first ingest fails like a full disk."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    def ingest(self, events: Sequence[Event]) -> Counts:
        if self.failures:
            self.failures -= 1
            raise StoreError("disk full")
        return super().ingest(events)


def test_in_process_transport_retries_storage_failures(fake_clock: FakeClock) -> None:
    """A store error is retryable: the batch is kept and ingested on the next attempt."""
    sink = FlakySink()
    client = TrackingClient.in_process(
        sink, clock=fake_clock, sleep=fake_clock.sleep, register_atexit=False
    )
    event = client.metric("user-1", "exp-1", "control", "checkout")
    assert client.flush(timeout=10)
    assert list(sink.stored) == [event.event_id]
    assert client.stats.retries == 1
    client.close()


def test_in_process_transport_validates_like_the_collector(sink: MemorySink) -> None:
    """Events the collector would refuse are refused in process too, with the reason."""
    transport = InProcessTransport(sink, known={"exp-1": ["control", "treatment"]})
    good = Event("e1", "metric", "exp-1", "control", "u1", 1_790_000_000_000, "checkout", 1.0)
    bad = Event("e2", "metric", "exp-1", "variant-z", "u1", 1_790_000_000_000, "checkout", 1.0)
    result = transport.send([good, bad])
    assert result.accepted == 1
    assert [(r.event_id, r.index) for r in result.rejections] == [("e2", 1)]
    assert "variant" in result.rejections[0].reason
    assert list(sink.stored) == ["e1"]


def test_http_transport_reports_network_errors_as_retryable() -> None:
    """Nothing listening on the port: a retryable error naming the address."""
    transport = HTTPTransport("http://127.0.0.1:9", timeout=2.0)
    event = Event("e1", "metric", "exp-1", "control", "u1", 1_790_000_000_000, "checkout", 1.0)
    with pytest.raises(RetryableSendError, match=r"127\.0\.0\.1:9"):
        transport.send([event])
    transport.close()


def test_http_transport_without_httpx_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If httpx is missing, the error names the extra to install."""
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'splitlab\[client\]'"):
        HTTPTransport("http://127.0.0.1:8000")


def test_settings_are_checked(collector: ScriptedCollector) -> None:
    """Impossible settings are refused with the name, the value and what was expected."""
    with pytest.raises(ValueError, match=r"max_buffered must be at least 2 \* batch_size"):
        TrackingClient.http(collector.url, batch_size=100, max_buffered=150)
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        TrackingClient.http(collector.url, batch_size=0)


class ListTransport:
    """A third-party transport: anything with send() and close() fits the protocol."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.closed = False

    def send(self, events: Sequence[Event]) -> SendResult:
        self.batches.append([e.event_id for e in events])
        return SendResult(accepted=len(events))

    def close(self) -> None:
        self.closed = True


def test_any_object_with_send_and_close_is_a_transport() -> None:
    """A custom transport receives the batches and is closed with the client."""
    transport = ListTransport()
    with TrackingClient(transport, batch_size=2, register_atexit=False) as client:
        ids = [client.metric(f"u{i}", "exp-1", "control", "checkout").event_id for i in range(5)]
    assert [i for batch in transport.batches for i in batch] == ids
    assert max(len(batch) for batch in transport.batches) <= 2
    assert transport.closed
    assert client.stats.accepted == 5
