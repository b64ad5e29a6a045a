"""`splitlab load-kafka --clickhouse`: a Kafka topic loaded into the ClickHouse store's tables
(a real ClickHouse 18.16 server, chDB, a real Kafka-protocol broker): SIGKILL of the loader,
every batch sent twice, a ClickHouse restart that lost acknowledged rows, and the summary
equal to DuckDB's over the same events."""

from __future__ import annotations

import logging
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from splitlab.cli.main import cli
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseClient, ClickHouseStore, LocalServer
from splitlab.store.clickhouse.kafka_loader import KafkaClickHouseLoader
from tests.clickhouse.conftest import new_server
from tests.clickhouse.simulate import batches as simulated_batches
from tests.clickhouse.simulate import experiment, simulate

from .clickhouse_pipeline import load_messages, publish, row_count, stored_ids
from .pipeline import batches, load_until
from .tansu import Broker

SPLITLAB = str(Path(sys.executable).with_name("splitlab"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """A ClickHouse server for this module (one test kills and restarts it)."""
    own = new_server(tmp_path_factory.mktemp("clickhouse-kafka"))
    yield own
    own.stop(timeout=5.0)


def test_sigkill_of_the_loader_mid_stream_then_restart(
    broker: Broker, topic: str, server: LocalServer
) -> None:
    """The loader process is SIGKILLed between inserts (rows in, offsets maybe not); the
    restarted loader resumes from the recorded offsets and every event is counted once."""
    sent = batches("k", 100, 50, units=10)
    produced = publish(broker.bootstrap, topic, sent)
    total = sum(len(b) for b in sent)
    client = ClickHouseClient(server.url)
    command = [SPLITLAB, "load-kafka", "--clickhouse", server.url,
               "--clickhouse-database", "killed", "--kafka", broker.bootstrap, "--kafka-topic", topic, "--batch", "20",
               "--settle", "0"]  # fmt: skip
    loader = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    partial = 0
    while partial < total // 10 and loader.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        try:
            partial = row_count(client, "killed")
        except Exception:  # the database is not there yet
            partial = 0
    loader.send_signal(signal.SIGKILL)
    loader.wait(10)
    partial = row_count(client, "killed")
    assert 0 < partial < total, "the kill must land mid-stream"
    done = subprocess.run(
        [*command, "--exit-when-idle", "1"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert Counter(stored_ids(client, "killed")) == Counter(e.event_id for b in sent for e in b)
    # the restart resumed from the recorded offsets instead of reading the whole topic again
    loaded = re.search(r"loaded (\d+) events", done.stderr)
    assert loaded is not None and 0 < int(loaded.group(1)) < total
    _, offsets = client.query(
        "SELECT topic_partition, argMax(next_offset, recorded_at) FROM killed.kafka_offsets "
        "GROUP BY topic_partition"
    )
    assert len(offsets) == 3 and sum(int(o) for _, o in offsets) == produced
    client.close()


def test_every_batch_sent_twice_is_counted_once_with_duckdbs_summary(
    broker: Broker, topic: str, server: LocalServer, tmp_path: Path
) -> None:
    """Every batch is published twice; the ClickHouse loader and the DuckDB loader read the
    same topic, and the ClickHouse store's summary equals the DuckDB store's."""
    sent = simulated_batches(np.random.default_rng(11), simulate(np.random.default_rng(11), 400))
    produced = publish(broker.bootstrap, topic, sent) + publish(broker.bootstrap, topic, sent)
    client = ClickHouseClient(server.url)
    loader = KafkaClickHouseLoader(client, "twice", broker.bootstrap, topic, settle_s=0.0)
    try:
        assert load_messages(loader, produced) == produced
    finally:
        loader.close()
    ids = [e.event_id for b in sent for e in b]
    check = ClickHouseClient(server.url)
    assert row_count(check, "twice") >= len(ids)  # both copies were inserted ...
    assert Counter(stored_ids(check, "twice")) == Counter(set(ids))  # ... and count once
    check.close()
    duck = tmp_path / "loaded.duckdb"
    unique = len(set(ids))  # the simulation retries some events itself
    assert load_until(duck, broker.bootstrap, topic, unique) == unique
    exp = experiment()
    with DuckDBStore(duck) as store:
        expected = store.summary(exp, segment="country").to_dict()
    with ClickHouseStore(server.url, tmp_path / "log", database="twice") as store:
        assert store.summary(exp, segment="country").to_dict() == expected


def test_a_restart_that_lost_acknowledged_rows_reads_the_topic_again(
    broker: Broker, topic: str, server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Offsets wait `settle_s` after the insert; ClickHouse restarted without the rows it had
    acknowledged (as an OS crash before write-back would leave it): the loader notices the
    restart, reads the offsets ClickHouse kept and loads the topic again from there."""
    sent = batches("r", 40, 50)
    produced = publish(broker.bootstrap, topic, sent)
    ids = Counter(e.event_id for b in sent for e in b)
    now = [1000.0]
    client = ClickHouseClient(server.url)
    loader = KafkaClickHouseLoader(
        client, "restarted", broker.bootstrap, topic, settle_s=60.0, clock=lambda: now[0]
    )
    check = ClickHouseClient(server.url)
    try:
        assert load_messages(loader, produced) == produced
        assert Counter(stored_ids(check, "restarted")) == ids
        assert loader.recorded == {} and sum(loader.position.values()) == produced
        server.kill()
        for table in ("exposures", "metric_events"):
            directory = server.directory / "data" / "data" / "restarted" / table
            for part in directory.iterdir():
                if part.is_dir() and part.name != "detached":
                    shutil.rmtree(part)
        server.start()
        assert stored_ids(check, "restarted") == []
        with caplog.at_level(logging.WARNING, logger="splitlab.store.clickhouse.loader"):
            assert load_messages(loader, produced) == produced
        assert "ClickHouse restarted; loading the topic again" in caplog.text
        assert Counter(stored_ids(check, "restarted")) == ids
        now[0] += 59.0
        loader.settle()
        assert loader.recorded == {}  # not yet settled
        now[0] += 1.0
        loader.settle()
        assert loader.recorded == loader.position
    finally:
        loader.close()
    again = KafkaClickHouseLoader(
        ClickHouseClient(server.url), "restarted", broker.bootstrap, topic
    )
    try:
        assert again.load_once(0.5).messages == 0  # starts at the recorded offsets
        assert again.position == loader.position
    finally:
        again.close()
    check.close()


def test_chdb_target_loads_each_event_once(broker: Broker, topic: str, tmp_path: Path) -> None:
    """`--clickhouse chdb:DIR` (chDB allows one data directory per process: the loader and
    the count run in processes of their own)."""
    sent = batches("c", 10, 50)
    publish(broker.bootstrap, topic, sent)
    publish(broker.bootstrap, topic, sent[:5])
    url = f"chdb:{tmp_path / 'chdb'}"
    # the CLI command, then the count, in one process of their own
    script = (
        "import sys; from splitlab.cli.main import cli; "
        "from splitlab.store.clickhouse.connection import connect; "
        "from tests.kafka.clickhouse_pipeline import stored_ids; "
        "cli(sys.argv[1:], standalone_mode=False); "
        "print('\\n'.join(stored_ids(connect(sys.argv[3]), 'splitlab')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "load-kafka", "--clickhouse", url,
         "--kafka", broker.bootstrap, "--kafka-topic", topic, "--exit-when-idle", "1"],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "loaded 750 events (" in done.stderr
    assert Counter(done.stdout.split()) == Counter(e.event_id for b in sent for e in b)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "give exactly one of --db FILE (DuckDB) and --clickhouse URL"),
        (["--db", "x.duckdb", "--clickhouse", "chdb:x"], "(got both)"),
        (["--db", "x.duckdb", "--clickhouse-database", "other"], "--clickhouse-database, --shard"),
        (["--clickhouse", "http://h:8123", "--shard", "http://h:8123"], "go together"),
        (["--clickhouse", "chdb:x", "--shard", "chdb:x", "--cluster", "c"], "not chdb:"),
        (
            ["--clickhouse", "chdb:x", "--clickhouse-database", "no-dash"],
            "--clickhouse-database 'no-dash': expected letters",
        ),
    ],
)
def test_target_options_are_checked(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["load-kafka", "--kafka", "127.0.0.1:1", *arguments])
    assert result.exit_code != 0
    assert message in result.output
