"""``clusterId`` in ClickHouse: loaded into ``cluster_id``, and added to older tables."""

from __future__ import annotations

from pathlib import Path

from splitlab.store.clickhouse import ClickHouseClient, ClickHouseStore, LocalServer
from splitlab.tracking.events import Event
from tests.clickhouse.simulate import T_BASE

EVENTS = [
    Event("x1", "exposure", "exp", "a", "u1", T_BASE, cluster_id="acct-1"),
    Event("x2", "exposure", "exp", "b", "u2", T_BASE, attributes={"c": "US"}),
    Event("m1", "metric", "exp", "a", "u1", T_BASE + 1, "buy", 2.0, cluster_id="acct-1"),
    Event("m2", "metric", "exp", "b", "u2", T_BASE + 1, "buy", 3.0),
]

#: The tables as splitlab created them before cluster ids.
OLD_TABLES = (
    """CREATE TABLE {db}.exposures (event_id String, experiment_id String, variant String,
    unit_id String, ts Int64, attr_keys Array(String), attr_values Array(String))
    ENGINE = ReplacingMergeTree() ORDER BY (experiment_id, unit_id, ts, event_id)""",
    """CREATE TABLE {db}.metric_events (event_id String, experiment_id String, variant String,
    unit_id String, metric String, value Float64, ts Int64)
    ENGINE = ReplacingMergeTree() ORDER BY (experiment_id, metric, unit_id, ts, event_id)""",
)


def _stored(client: ClickHouseClient, db: str) -> list[tuple[str, str | None]]:
    _, rows = client.query(
        f"SELECT event_id, cluster_id FROM {db}.exposures UNION ALL "
        f"SELECT event_id, cluster_id FROM {db}.metric_events"
    )
    return sorted((str(r[0]), r[1]) for r in rows)


def test_cluster_id_reaches_both_tables(clickhouse: LocalServer, tmp_path: Path) -> None:
    """The loader writes ``clusterId`` to ``cluster_id``; an event without one stores NULL."""
    with ClickHouseStore(clickhouse.url, tmp_path / "log", database="cids") as store:
        store.ingest(EVENTS)
        store.flush()
    client = ClickHouseClient(clickhouse.url)
    try:
        assert _stored(client, "cids") == [
            ("m1", "acct-1"), ("m2", None), ("x1", "acct-1"), ("x2", None)
        ]  # fmt: skip
    finally:
        client.close()


def test_tables_from_before_cluster_ids_get_the_column(
    clickhouse: LocalServer, tmp_path: Path
) -> None:
    """Older tables get a NULL ``cluster_id`` on every row; new events fill it; twice is once."""
    client = ClickHouseClient(clickhouse.url)
    try:
        client.execute("CREATE DATABASE old_cids")
        for statement in OLD_TABLES:
            client.execute(statement.format(db="old_cids"))
        client.execute(
            "INSERT INTO old_cids.exposures SELECT concat('old-x', toString(number)), 'exp', "
            "'a', concat('u', toString(number)), $t + number, [], [] FROM system.numbers "
            "LIMIT 300",
            {"t": T_BASE},
        )
        client.execute(
            "INSERT INTO old_cids.metric_events SELECT concat('old-m', toString(number)), "
            "'exp', 'a', concat('u', toString(number % 300)), 'buy', number / 4, $t + number "
            "FROM system.numbers LIMIT 900",
            {"t": T_BASE},
        )
        for attempt in range(2):  # the second store finds the column already there
            with ClickHouseStore(
                clickhouse.url, tmp_path / f"log{attempt}", database="old_cids"
            ) as store:
                store.ingest(EVENTS)
                store.flush()
        stored = _stored(client, "old_cids")
        _, types = client.query(
            "SELECT table, type FROM system.columns WHERE database = 'old_cids' "
            "AND name = 'cluster_id' ORDER BY table"
        )
    finally:
        client.close()
    old = [cid for eid, cid in stored if eid.startswith("old-")]
    assert len(old) == 1200 and set(old) == {None}
    assert ("x1", "acct-1") in stored and ("m1", "acct-1") in stored
    assert types == [["exposures", "Nullable(String)"], ["metric_events", "Nullable(String)"]]
