"""A real ClickHouse server for the session, started on a free loopback port in a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from splitlab.store.clickhouse import LocalServer
from splitlab.store.clickhouse.local import INSTALL_HINT, find_binary
from splitlab.store.clickhouse.sharded import LocalCluster


def new_server(directory: Path) -> LocalServer:
    """A started ClickHouse server under `directory`; the test fails if none is installed."""
    if find_binary() is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    server = LocalServer(directory)
    server.start()
    return server


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    """One ClickHouse server shared by the session; each test uses a database of its own."""
    server = new_server(tmp_path_factory.mktemp("clickhouse"))
    yield server
    server.stop(timeout=5.0)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Two clickhouse-server processes on loopback, one shard each, no ZooKeeper, named
    ``two_shards`` (shared by the session's sharded tests; each uses a database of its own)."""
    if find_binary() is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    local = LocalCluster(tmp_path_factory.mktemp("cluster"), shards=2, name="two_shards")
    local.start()
    yield local
    local.stop(timeout=5.0)
