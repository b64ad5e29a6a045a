"""Acknowledged events survive ClickHouse restarts, crashes and lost writes, and store restarts."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np
import pytest

from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import (
    ClickHouseClient,
    ClickHouseError,
    ClickHouseStore,
    LocalServer,
)
from splitlab.store.clickhouse.loader import ClickHouseLoader
from splitlab.store.log import AppendLog
from splitlab.tracking.events import Event
from tests.clickhouse.conftest import new_server
from tests.clickhouse.simulate import batches, experiment, simulate


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    """A ClickHouse server of this test's own, which the test may kill and restart."""
    own = new_server(tmp_path / "server")
    yield own
    own.stop(timeout=5.0)


def _events(seed: int, units: int = 300) -> list[list[Event]]:
    rng = np.random.default_rng(seed)
    return batches(rng, simulate(rng, units=units))


def _reference(tmp_path: Path, sent: list[list[Event]]) -> dict[str, object]:
    with DuckDBStore(tmp_path / "reference.duckdb") as duck:
        for batch in sent:
            duck.ingest(batch)
        return duck.summary(experiment(), segment="country").to_dict()


def test_server_crash_between_writes_loses_nothing_acknowledged(
    server: LocalServer, tmp_path: Path
) -> None:
    """Writes are acknowledged while ClickHouse is down (SIGKILL); reads fail with a clear
    error meanwhile; after the restart the sums hold every acknowledged event once."""
    sent = _events(1)
    half = len(sent) // 2
    exp = experiment()
    with ClickHouseStore(server.url, tmp_path / "log", load_interval_s=0.05) as store:
        for batch in sent[:half]:
            store.ingest(batch)
        store.flush()
        server.kill()
        for batch in sent[half:]:
            result = store.ingest(batch)
            assert result.accepted + result.duplicates == len(batch)
        with pytest.raises(ClickHouseError, match="unreachable"):
            store.summary(exp)
        server.start()
        assert store.summary(exp, segment="country").to_dict() == _reference(tmp_path, sent)


def test_rows_lost_by_the_server_are_loaded_again(
    server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """When ClickHouse restarts without rows it had acknowledged (its parts are not fsync'd,
    so an OS crash can do that), the loader notices the restart and loads them again."""
    sent = _events(2)
    exp = experiment()
    with ClickHouseStore(server.url, tmp_path / "log", load_interval_s=0.05) as store:
        for batch in sent:
            store.ingest(batch)
        expected = store.summary(exp, segment="country").to_dict()
        server.kill()
        for table in ("exposures", "metric_events"):
            directory = server.directory / "data" / "data" / "splitlab" / table
            for part in directory.iterdir():
                if part.is_dir() and part.name != "detached":
                    shutil.rmtree(part)
        with caplog.at_level(logging.WARNING, logger="splitlab.store.clickhouse.loader"):
            server.start()
            assert store.summary(exp, segment="country").to_dict() == expected
        assert "ClickHouse restarted; loading the log again" in caplog.text
    assert expected == _reference(tmp_path, sent)


def test_events_left_in_the_log_are_loaded_by_the_next_store(
    server: LocalServer, tmp_path: Path
) -> None:
    """A store closed while ClickHouse is down keeps the acknowledged events in its log; the
    next store on that log loads them."""
    sent = _events(3)
    server.kill()
    store = ClickHouseStore(server.url, tmp_path / "log", load_interval_s=0.05)
    for batch in sent:
        store.ingest(batch)
    store.close()
    server.start()
    with ClickHouseStore(server.url, tmp_path / "log") as reopened:
        summary = reopened.summary(experiment(), segment="country").to_dict()
    assert summary == _reference(tmp_path, sent)


def test_recorded_position_lags_the_load_by_settle_time(
    server: LocalServer, tmp_path: Path
) -> None:
    """The position on disk (and the freeing of log segments) trails the loaded position by
    `settle_s`, so rows ClickHouse has not yet written back can still be replayed."""
    now = [1000.0]
    log = AppendLog(tmp_path / "log", segment_bytes=1)
    client = ClickHouseClient(server.url)
    loader = ClickHouseLoader(client, "settle", log, settle_s=30.0, clock=lambda: now[0])
    events = [event for batch in _events(4, units=20) for event in batch]
    for start in range(0, len(events), 10):
        log.append(msgspec.json.Encoder().encode_lines(events[start : start + 10]))
    while loader.load_once():
        pass
    assert loader.position == log.durable_position
    assert loader.recorded.segment == 0 and len(log.segments()) > 2
    now[0] += 29.0
    loader.settle()
    assert loader.recorded.segment == 0
    now[0] += 1.0
    loader.settle()
    assert loader.recorded == loader.position
    assert log.segments() == [loader.position.segment]
    again = ClickHouseLoader(client, "settle", log, settle_s=30.0)
    assert again.position == loader.position
    log.close()
    client.close()


def test_a_server_that_lost_everything_is_refilled_from_the_log(
    server: LocalServer, tmp_path: Path
) -> None:
    """A server restarted with an empty data directory gets the tables back and every event
    still inside the settle time loaded again."""
    sent = _events(5)
    exp = experiment()
    with ClickHouseStore(server.url, tmp_path / "log", load_interval_s=0.05) as store:
        for batch in sent:
            store.ingest(batch)
        expected = store.summary(exp, segment="country").to_dict()
        server.kill()
        shutil.rmtree(server.directory / "data")
        server.start()
        assert store.summary(exp, segment="country").to_dict() == expected
    assert expected == _reference(tmp_path, sent)
