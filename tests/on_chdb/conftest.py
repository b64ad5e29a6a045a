"""chDB (the ClickHouse 26 engine in-process) standing in for the ClickHouse server.

The ``clickhouse`` fixture has the one attribute the parity tests of tests/clickhouse use,
``url``: here ``chdb:DIR``, which makes ``ClickHouseStore`` run its SQL in-process on chDB
(splitlab.store.clickhouse.chdb_backend). Each test module uses a database of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class ChdbEngine:
    """Where the chDB data lives, as the address a ClickHouseStore takes."""

    url: str


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbEngine]:
    yield ChdbEngine("chdb:" + str(tmp_path_factory.mktemp("chdb")))
