"""The tracking client's delivery: batching, retries with back-off, Retry-After, refusals.

Defect 6 of the seed article (the batch was emptied before the send succeeded, nothing
retried) and defect 7 (a fresh id per attempt) are pinned here against a real HTTP collector
on 127.0.0.1 that fails on purpose.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from splitlab.tracking import TrackingClient
from splitlab.tracking.retry import Backoff, parse_retry_after
from tests.tracking.tracking_helpers import FakeClock, Reply, ScriptedCollector, track_many


def http_client(collector: ScriptedCollector, clock: FakeClock, **options: Any) -> TrackingClient:
    settings: dict[str, Any] = {
        "batch_size": 10,
        "flush_interval": 60.0,
        "clock": clock,
        "sleep": clock.sleep,
        "rng": np.random.default_rng(20261123),
        "register_atexit": False,
    }
    settings.update(options)
    return TrackingClient.http(collector.url, **settings)


def test_failed_send_keeps_the_batch_and_retries_until_accepted(
    collector: ScriptedCollector, fake_clock: FakeClock
) -> None:
    """A 503 then a dropped connection keep the batch in the client; the third try delivers it."""
    collector.script = [Reply(503), Reply(drop=True)]
    client = http_client(collector, fake_clock)
    pending_during_retries: list[int] = []
    fake_clock.on_sleep = lambda _: pending_during_retries.append(client.stats.pending)
    ids = track_many(client, 10)
    assert client.flush(timeout=10)
    assert pending_during_retries == [10, 10]
    assert set(collector.stored) == set(ids)
    stats = client.stats
    assert (stats.accepted, stats.retries, stats.pending, stats.dropped_total) == (10, 2, 0, 0)
    client.close()


def test_every_retry_carries_the_same_event_ids(
    collector: ScriptedCollector, fake_clock: FakeClock
) -> None:
    """The ids sent on each attempt are identical: fixed when the event was created."""
    collector.script = [Reply(503), Reply(429), Reply(500)]
    client = http_client(collector, fake_clock)
    ids = track_many(client, 10)
    assert client.flush(timeout=10)
    assert len(collector.requests) == 4
    assert all(sent == ids for sent in collector.requests)
    client.close()


def test_retry_after_is_honoured(collector: ScriptedCollector, fake_clock: FakeClock) -> None:
    """The wait before a retry is at least the collector's Retry-After (429 and 503)."""
    collector.script = [Reply(429, {"Retry-After": "7"}), Reply(503, {"Retry-After": "3"})]
    client = http_client(collector, fake_clock, backoff=Backoff(base=0.1, cap=1.0))
    track_many(client, 10)
    assert client.flush(timeout=10)
    assert len(fake_clock.sleeps) == 2
    assert fake_clock.sleeps[0] >= 7.0
    assert fake_clock.sleeps[1] >= 3.0
    client.close()


def test_backoff_grows_exponentially_with_full_jitter(
    collector: ScriptedCollector, fake_clock: FakeClock
) -> None:
    """Waits stay within [0, base*2^(k-1)] (capped) and follow the seeded generator exactly."""
    collector.script = [Reply(503)] * 8
    backoff = Backoff(base=0.5, cap=8.0)
    client = http_client(collector, fake_clock, backoff=backoff)
    track_many(client, 10)
    assert client.flush(timeout=10)
    client.close()
    ceilings = [min(8.0, 0.5 * 2**k) for k in range(8)]
    assert len(fake_clock.sleeps) == 8
    assert all(0.0 <= s <= c for s, c in zip(fake_clock.sleeps, ceilings, strict=True))
    replay = np.random.default_rng(20261123)
    assert fake_clock.sleeps == [float(replay.uniform(0.0, c)) for c in ceilings]


def test_full_jitter_spreads_waits_over_the_interval() -> None:
    """Across many clients the first wait is spread over [0, base], not bunched at base."""
    backoff = Backoff(base=1.0, cap=10.0)
    rng = np.random.default_rng(1)
    waits = np.array([backoff.delay(1, rng, None) for _ in range(2000)])
    assert waits.min() >= 0.0
    assert waits.max() <= 1.0
    # Uniform on [0, 1]: mean 1/2, and a quarter of the mass in each quarter of the interval.
    assert abs(waits.mean() - 0.5) < 0.03
    assert abs(float(np.mean(waits < 0.25)) - 0.25) < 0.03


def test_client_error_is_not_retried_and_is_counted_and_logged(
    collector: ScriptedCollector, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A 400 refuses the batch for good: one request, no retry, counted and logged."""
    collector.script = [Reply(400, body=b'{"error": "malformed"}')]
    client = http_client(collector, fake_clock)
    with caplog.at_level(logging.ERROR, logger="splitlab.tracking.client"):
        track_many(client, 10)
        assert client.flush(timeout=10)
    assert len(collector.requests) == 1
    assert fake_clock.sleeps == []
    assert client.stats.rejected == 10
    assert any("400" in r.getMessage() and "malformed" in r.getMessage() for r in caplog.records)
    client.close()


def test_per_event_rejections_are_logged_with_their_reason(
    collector: ScriptedCollector, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Events the collector refuses one by one are counted and logged with field and reason."""
    client = http_client(collector, fake_clock)
    good = client.metric("user-1", "exp-1", "control", "checkout")
    next_year = client.now_ms() + 365 * 86_400_000
    bad = client.metric("user-2", "exp-1", "control", "checkout", timestamp_ms=next_year)
    with caplog.at_level(logging.WARNING, logger="splitlab.tracking.client"):
        assert client.flush(timeout=10)
    assert set(collector.stored) == {good.event_id}
    stats = client.stats
    assert (stats.accepted, stats.rejected) == (1, 1)
    messages = [r.getMessage() for r in caplog.records]
    assert any(bad.event_id in m and "timestamp" in m and "future" in m for m in messages)
    client.close()


def test_oversized_batch_is_split_on_413(
    collector: ScriptedCollector, fake_clock: FakeClock
) -> None:
    """A 413 splits the batch in halves, which are then delivered."""
    collector.script = [Reply(413)]
    client = http_client(collector, fake_clock)
    ids = track_many(client, 10)
    assert client.flush(timeout=10)
    assert set(collector.stored) == set(ids)
    assert [len(r) for r in collector.requests] == [10, 5, 5]
    client.close()


def test_batches_hold_at_most_batch_size_events(
    collector: ScriptedCollector, fake_clock: FakeClock
) -> None:
    """25 events with batch_size 10 go out as 10 + 10 + 5."""
    client = http_client(collector, fake_clock)
    track_many(client, 25)
    assert client.flush(timeout=10)
    assert sorted(len(r) for r in collector.requests) == [5, 10, 10]
    client.close()


def test_a_partial_batch_is_sent_after_the_flush_interval(collector: ScriptedCollector) -> None:
    """Without flush() or close(), a small batch leaves once the flush interval has passed."""
    client = TrackingClient.http(collector.url, flush_interval=0.05, register_atexit=False)
    ids = track_many(client, 3)
    assert collector.wait_stored(3, timeout=10)
    assert set(collector.stored) == set(ids)
    client.close()


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    """Retry-After is read as delay-seconds or an HTTP-date; garbage means 'not given'."""
    wall = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    assert parse_retry_after("120", lambda: wall) == 120.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:50 GMT", lambda: wall) == 30.0
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", lambda: wall) == 0.0
    assert parse_retry_after("soon", lambda: wall) is None
    assert parse_retry_after(None, lambda: wall) is None


def test_non_finite_values_are_refused_when_tracked(
    collector: ScriptedCollector, fake_clock: FakeClock
) -> None:
    """NaN or infinity raise at once (JSON would turn NaN into null, which counts as 1)."""
    client = http_client(collector, fake_clock)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="finite"):
            client.metric("user-1", "exp-1", "control", "revenue", value=bad)
    assert client.stats.tracked == 0
    client.close()
