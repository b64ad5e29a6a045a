"""The collector's log forwarded to Kafka and loaded into DuckDB: exact counts, duplicates
dropped, acknowledgement independent of the broker."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
from confluent_kafka import Producer

from splitlab.server.kafka_forward import KafkaForwarder, messages
from splitlab.store import DuckDBStore
from splitlab.tracking.kafka import producer_config

from .pipeline import batches, load_until, stored_ids
from .tansu import Broker, create_topic, free_port


def test_forwarded_events_are_loaded_exactly(broker: Broker, topic: str, tmp_path: Path) -> None:
    sent = batches("f", 40, 50)
    with DuckDBStore(tmp_path / "collector.duckdb") as store:
        forwarder = KafkaForwarder(store.event_log, broker.bootstrap, topic).start()
        store.on_close(forwarder.close)
        for batch in sent:
            assert store.ingest(batch).accepted == len(batch)
    target = tmp_path / "loaded.duckdb"
    assert load_until(target, broker.bootstrap, topic, 2000) == 2000
    ids = stored_ids(target)
    assert sorted(ids) == sorted(e.event_id for batch in sent for e in batch)
    with duckdb.connect(str(target), read_only=True) as con:
        # the same rows as the collector's own DuckDB file (the direct path)
        loaded = con.execute(
            "SELECT experiment_id, variant, count(*), sum(value) FROM metric_events GROUP BY ALL "
            "ORDER BY ALL"
        ).fetchall()
    with duckdb.connect(str(tmp_path / "collector.duckdb"), read_only=True) as con:
        direct = con.execute(
            "SELECT experiment_id, variant, count(*), sum(value) FROM metric_events GROUP BY ALL "
            "ORDER BY ALL"
        ).fetchall()
    assert loaded == direct and loaded


def test_a_unit_keeps_to_one_partition(broker: Broker, topic: str, tmp_path: Path) -> None:
    """The message key is the unit id: all of a unit's events are in one partition, in order."""
    from confluent_kafka import Consumer, TopicPartition

    with DuckDBStore(tmp_path / "c.duckdb") as store:
        forwarder = KafkaForwarder(store.event_log, broker.bootstrap, topic).start()
        store.on_close(forwarder.close)
        for batch in batches("p", 10, 50, units=7):
            store.ingest(batch)
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "t"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    partitions: dict[bytes, set[int]] = {}
    seen = 0
    for _ in range(50):
        for message in consumer.consume(1000, 0.2):
            assert message.error() is None
            partitions.setdefault(message.key(), set()).add(message.partition())
            seen += message.value().count(b"\n")
        if seen >= 500:
            break
    consumer.close()
    assert seen == 500 and len(partitions) == 7
    assert all(len(p) == 1 for p in partitions.values())


def test_every_batch_sent_twice_is_counted_once(broker: Broker, topic: str, tmp_path: Path) -> None:
    """The forwarder publishes everything, loses its position and publishes it all again;
    a producer also sends each batch a second time: each event is stored once."""
    sent = batches("d", 20, 50)
    db = tmp_path / "collector.duckdb"
    for first in (True, False):
        with DuckDBStore(db) as store:
            forwarder = KafkaForwarder(store.event_log, broker.bootstrap, topic)
            forwarder.start()
            store.on_close(forwarder.close)
            if first:
                for batch in sent:
                    store.ingest(batch)
        # as if the position had never been recorded: the next start sends the log again
        hold = db.parent / f"{db.name}.log" / f"kafka-forward-{topic}.hold"
        hold.write_text('{"segment": 0, "offset": 0}')
    producer = Producer(producer_config(broker.bootstrap))
    import msgspec

    for batch in sent:
        for key, value in messages(msgspec.json.Encoder().encode_lines(batch)):
            producer.produce(topic, key=key, value=value)
    assert producer.flush(20) == 0
    target = tmp_path / "loaded.duckdb"
    assert load_until(target, broker.bootstrap, topic, 1000) == 1000
    assert Counter(stored_ids(target)) == Counter(e.event_id for b in sent for e in b)


def test_broker_down_acknowledges_from_the_log_and_forwards_later(tmp_path: Path) -> None:
    """Acknowledgement is the local fsync: with no broker the collector still accepts, and
    once a broker listens every acknowledged event arrives, exactly once."""
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    sent = batches("o", 20, 50)
    db = tmp_path / "collector.duckdb"
    late = Broker(port, "memory://tansu/", {}, tmp_path)
    try:
        with DuckDBStore(db) as store:
            forwarder = KafkaForwarder(store.event_log, bootstrap, "late").start()
            for batch in sent:  # no broker: acknowledged all the same
                assert store.ingest(batch).accepted == len(batch)
            assert not forwarder.health()["caughtUp"]
            late.start()
            create_topic(bootstrap, "late", 3)
            forwarder.close(timeout=30)
            assert forwarder.health()["caughtUp"]
        target = tmp_path / "loaded.duckdb"
        assert load_until(target, bootstrap, "late", 1000) == 1000
        assert Counter(stored_ids(target)) == Counter(e.event_id for b in sent for e in b)
    finally:
        late.stop()


def test_stopped_during_an_outage_forwards_at_the_next_start(tmp_path: Path) -> None:
    """The collector stops while the broker is down: the events stay in its log (the local
    loader has loaded and would free them, the hold keeps them) and go out after a restart."""
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    sent = batches("r", 10, 50)
    db = tmp_path / "collector.duckdb"
    with DuckDBStore(db) as store:
        forwarder = KafkaForwarder(store.event_log, bootstrap, "restarted").start()
        store.on_close(lambda: forwarder.close(timeout=1.0))
        for batch in sent:
            store.ingest(batch)
        store.flush()  # all loaded locally: only the hold keeps the segments now
    assert not forwarder.health()["caughtUp"]
    late = Broker(port, "memory://tansu/", {}, tmp_path)
    late.start()
    try:
        create_topic(bootstrap, "restarted", 3)
        with DuckDBStore(db) as store:  # its start loads and frees what it can
            forwarder = KafkaForwarder(store.event_log, bootstrap, "restarted").start()
            store.on_close(forwarder.close)
        target = tmp_path / "loaded.duckdb"
        assert load_until(target, bootstrap, "restarted", 500) == 500
        assert Counter(stored_ids(target)) == Counter(e.event_id for b in sent for e in b)
    finally:
        late.stop()
