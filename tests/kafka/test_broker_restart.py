"""Tansu on S3 (moto's S3 on loopback): restarting the broker mid-stream loses no
acknowledged event and counts none twice; the loader resumes from its stored offsets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from splitlab.server.kafka_forward import KafkaForwarder
from splitlab.store import DuckDBStore

from .pipeline import batches, load_until, stored_ids
from .tansu import create_topic, running_s3, running_tansu


@pytest.mark.parametrize("kill", [False, True], ids=["sigint", "sigkill"])
def test_broker_restart_on_s3_loses_and_doubles_nothing(tmp_path: Path, kill: bool) -> None:
    first, second = batches("s1", 20, 50), batches("s2", 20, 50)
    bucket = f"tansu-{'killed' if kill else 'stopped'}"
    with running_s3(bucket) as s3, running_tansu(tmp_path, f"s3://{bucket}/", s3.env()) as broker:
        create_topic(broker.bootstrap, "durable", 3)
        target = tmp_path / "loaded.duckdb"
        with DuckDBStore(tmp_path / "collector.duckdb") as store:
            forwarder = KafkaForwarder(store.event_log, broker.bootstrap, "durable").start()
            store.on_close(forwarder.close)
            for batch in first:
                store.ingest(batch)
            assert load_until(target, broker.bootstrap, "durable", 1000) == 1000
            broker.restart(kill=kill)  # what it acknowledged must come back from S3
            for batch in second:
                store.ingest(batch)
        # the loader resumes at its stored offsets on the restarted broker
        assert load_until(target, broker.bootstrap, "durable", 2000) == 2000
    sent = [e.event_id for b in first + second for e in b]
    assert Counter(stored_ids(target)) == Counter(sent)
