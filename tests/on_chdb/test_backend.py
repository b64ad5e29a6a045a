"""The chDB client and the version paths of splitlab.store.clickhouse.dialect."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitlab.store.clickhouse import ClickHouseError, ClickHouseStore
from splitlab.store.clickhouse.connection import connect
from splitlab.store.clickhouse.dialect import Dialect
from tests.clickhouse.simulate import T_BASE
from tests.clickhouse.test_cluster_ids import EVENTS, OLD_TABLES
from tests.on_chdb.conftest import ChdbEngine


def test_versions_take_their_own_path() -> None:
    """18.16 gets no settings and a plain ADD COLUMN; 20.1 and later the newer forms."""
    old, new = Dialect.parse("18.16.1"), Dialect.parse("26.9.2.1")
    assert old.settings == {} and new.settings == {"joined_subquery_requires_alias": "0"}
    assert old.add_column("d.t", "c", "String") == "ALTER TABLE d.t ADD COLUMN c String"
    assert "ADD COLUMN IF NOT EXISTS c" in new.add_column("d.t", "c", "String")
    with pytest.raises(ValueError, match=r"needs 18\.16 or later"):
        Dialect.parse("18.14.9")
    with pytest.raises(ValueError, match=r"expected MAJOR\.MINOR"):
        Dialect.parse("dev")


def test_chdb_is_current_clickhouse(clickhouse: ChdbEngine) -> None:
    client = connect(clickhouse.url)
    try:
        assert client.dialect().version >= (24, 0)
        assert client.query("SELECT toInt64(9007199254740993) AS x") == (
            ["x"], [[9007199254740993]]
        )  # fmt: skip
        with pytest.raises(ClickHouseError, match="UNKNOWN_IDENTIFIER"):
            client.query("SELECT no_such_column")
    finally:
        client.close()
    with pytest.raises(ClickHouseError, match="expected chdb:PATH"):
        connect("chdb:")


def test_older_tables_get_the_column_with_if_not_exists(
    clickhouse: ChdbEngine, tmp_path: Path
) -> None:
    """Tables without ``cluster_id`` get it on chDB too (the ``IF NOT EXISTS`` path), twice."""
    client = connect(clickhouse.url)
    try:
        client.execute("CREATE DATABASE old_cids")
        for statement in OLD_TABLES:
            client.execute(statement.format(db="old_cids"))
        client.execute(
            "INSERT INTO old_cids.exposures SELECT concat('old-x', toString(number)), 'exp', "
            "'a', concat('u', toString(number)), $t + number, [], [] FROM numbers(30)",
            {"t": T_BASE},
        )
        for attempt in range(2):  # the second store finds the column there (FINAL: once)
            with ClickHouseStore(
                clickhouse.url, tmp_path / f"log{attempt}", database="old_cids"
            ) as store:
                store.ingest(EVENTS)
                store.flush()
        _, rows = client.query(
            "SELECT countIf(isNull(cluster_id)), countIf(cluster_id = 'acct-1') "
            "FROM old_cids.exposures FINAL"
        )
    finally:
        client.close()
    assert rows == [[31, 1]]
