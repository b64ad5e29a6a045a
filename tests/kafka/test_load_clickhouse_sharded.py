"""`splitlab load-kafka --clickhouse ENTRY --shard A --shard B --cluster NAME`: a Kafka topic
loaded into a real two-shard ClickHouse 18.16 cluster through its ``Distributed`` tables; the
sharded store's summary equals DuckDB's over the same topic."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseClient
from splitlab.store.clickhouse.local import INSTALL_HINT, find_binary
from splitlab.store.clickhouse.sharded import LocalCluster, ShardedClickHouseStore
from tests.clickhouse.simulate import batches, experiment, simulate

from .clickhouse_pipeline import publish, row_count
from .pipeline import load_until
from .tansu import Broker

SPLITLAB = str(Path(sys.executable).with_name("splitlab"))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """Two clickhouse-server processes on loopback, one shard each."""
    if find_binary() is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    local = LocalCluster(tmp_path / "cluster", shards=2, name="kafka_shards")
    local.start()
    yield local
    local.stop(timeout=5.0)


def test_topic_into_two_shards_sums_like_duckdb(
    broker: Broker, topic: str, cluster: LocalCluster, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    sent = batches(rng, simulate(rng, units=300))
    publish(broker.bootstrap, topic, sent)
    publish(broker.bootstrap, topic, sent[: len(sent) // 10])  # a tenth sent twice
    shards = [arg for url in cluster.urls for arg in ("--shard", url)]
    done = subprocess.run(
        [SPLITLAB, "load-kafka", "--clickhouse", cluster.urls[0],
         "--clickhouse-database", "sharded", *shards, "--cluster", "kafka_shards", "--kafka", broker.bootstrap,
         "--kafka-topic", topic, "--exit-when-idle", "1"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for url in cluster.urls:  # rows on both shards (sharded by unit)
        client = ClickHouseClient(url)
        assert row_count(client, "sharded") > 0
        client.close()
    unique = len({e.event_id for b in sent for e in b})
    duck = tmp_path / "loaded.duckdb"
    assert load_until(duck, broker.bootstrap, topic, unique) == unique
    exp = experiment()
    with DuckDBStore(duck) as store:
        expected = store.summary(exp, segment="country").to_dict()
    with ShardedClickHouseStore(
        cluster.urls, tmp_path / "log", cluster="kafka_shards", database="sharded"
    ) as store:
        assert store.summary(exp, segment="country").to_dict() == expected
