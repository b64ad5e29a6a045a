"""Each version path of splitlab.store.clickhouse.dialect is needed: 18.16 refuses the setting
that current ClickHouse needs, and current ClickHouse refuses the SQL without it."""

from __future__ import annotations

import importlib
from typing import Any

import httpx

from splitlab.store.clickhouse import ClickHouseClient, LocalServer

#: The shape of the summary's joins: two unnamed subqueries joined with USING.
JOIN = "SELECT x FROM (SELECT 1 AS k, 2 AS x) ANY LEFT JOIN (SELECT 1 AS k, 3 AS y) USING k"


def test_an_1816_server_gets_no_settings_and_refuses_the_current_one(
    clickhouse: LocalServer,
) -> None:
    client = ClickHouseClient(clickhouse.url)
    try:
        assert client.dialect().version == (18, 16)
        assert client.dialect().settings == {}
        assert client.query(JOIN) == (["x"], [[2]])
    finally:
        client.close()
    refused = httpx.post(
        clickhouse.url, params={"joined_subquery_requires_alias": "0"}, content=b"SELECT 1"
    )
    assert refused.status_code != 200 and "setting" in refused.text.lower()


def test_current_clickhouse_refuses_the_joins_without_the_setting() -> None:
    chdb_session: Any = importlib.import_module("chdb.session")
    session = chdb_session.Session(":memory:")
    try:
        try:
            session.query(JOIN, "CSV")
        except RuntimeError as exc:
            assert "ALIAS_REQUIRED" in str(exc)
        else:
            raise AssertionError("ClickHouse accepted unnamed joined subqueries by default")
        session.query("SET joined_subquery_requires_alias = 0")
        assert session.query(JOIN, "CSV").bytes() == b"2\n"
    finally:
        session.close()
