"""The tracking client producing straight to Kafka: every tracked event loaded once; refused
events come back as rejections; a broker that is not there makes the batch wait, not vanish."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from splitlab.tracking.client import TrackingClient
from splitlab.tracking.kafka import KafkaTransport
from splitlab.tracking.model import Event

from .pipeline import batches, load_until, stored_ids
from .tansu import Broker, create_topic, free_port


def test_client_events_reach_the_store_once(broker: Broker, topic: str, tmp_path: Path) -> None:
    client = TrackingClient(
        KafkaTransport(broker.bootstrap, topic), batch_size=50, register_atexit=False
    )
    tracked = [e for batch in batches("t", 10, 50) for e in batch]
    for event in tracked:
        client.track(event)
    client.close()
    assert client.stats.accepted == 500 and client.stats.pending == 0
    # the same events sent again (a client that retried a batch) are still counted once
    again = KafkaTransport(broker.bootstrap, topic)
    assert again.send(tracked[:100]).accepted == 100
    again.close()
    db = tmp_path / "loaded.duckdb"
    assert load_until(db, broker.bootstrap, topic, 500) == 500
    assert Counter(stored_ids(db)) == Counter(e.event_id for e in tracked)


def test_invalid_events_are_rejected_before_kafka(broker: Broker, topic: str) -> None:
    transport = KafkaTransport(broker.bootstrap, topic, known={"exp": ("a", "b")})
    good = Event("ok-1", "metric", "exp", "a", "u1", 1_700_000_000_000, "m", 1.0)
    bad = Event("bad-1", "metric", "exp", "zzz", "u1", 1_700_000_000_000, "m", 1.0)
    result = transport.send([good, bad])
    transport.close()
    assert result.accepted == 1
    assert [(r.event_id, r.index) for r in result.rejections] == [("bad-1", 1)]
    assert "variant" in result.rejections[0].reason


def test_no_broker_keeps_the_batch_for_a_retry(tmp_path: Path) -> None:
    """No broker: send raises a retryable error (the client keeps the batch); once a broker
    listens, the same batch goes through."""
    from splitlab.tracking.errors import RetryableSendError

    port = free_port()
    transport = KafkaTransport(f"127.0.0.1:{port}", "later", timeout=2.0)
    events = batches("n", 1, 20)[0]
    try:
        transport.send(events)
        raise AssertionError("a send without a broker must fail")
    except RetryableSendError:
        pass
    late = Broker(port, "memory://tansu/", {}, tmp_path)
    late.start()
    try:
        create_topic(late.bootstrap, "later", 3)
        for _ in range(10):  # as the client does: the same batch again after a failure
            try:
                assert transport.send(events).accepted == 20
                break
            except RetryableSendError:
                continue
        else:
            raise AssertionError("the batch never went through")
        transport.close()
        db = tmp_path / "loaded.duckdb"
        assert load_until(db, late.bootstrap, "later", 20) == 20
    finally:
        late.stop()
