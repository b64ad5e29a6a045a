"""``clusterId`` from the event to the ``cluster_id`` column, and files and logs that predate it."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from splitlab.store import DuckDBStore
from splitlab.store.log import AppendLog
from splitlab.tracking.events import Event

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _events() -> list[Event]:
    """Exposures and metric events, with and without a cluster id."""
    return [
        Event("x1", "exposure", "exp", "a", "u1", T0, cluster_id="acct-1"),
        Event("x2", "exposure", "exp", "b", "u2", T0, attributes={"c": "US"}),
        Event("m1", "metric", "exp", "a", "u1", T0 + 1, "buy", 2.0, cluster_id="acct-1"),
        Event("m2", "metric", "exp", "b", "u2", T0 + 1, "buy", 3.0),
    ]


def _stored(store: DuckDBStore) -> list[tuple[str, str | None]]:
    with store.lock:
        rows = store.connection.execute(
            "SELECT event_id, cluster_id FROM exposures UNION ALL "
            "SELECT event_id, cluster_id FROM metric_events ORDER BY event_id"
        ).fetchall()
    return [(str(r[0]), r[1]) for r in rows]


def test_cluster_id_reaches_both_tables(tmp_path: Path) -> None:
    """The loader copies ``clusterId`` into ``cluster_id``; an event without one stores NULL."""
    with DuckDBStore(tmp_path / "e.duckdb") as store:
        store.ingest(_events())
        store.flush()
        assert _stored(store) == [
            ("m1", "acct-1"), ("m2", None), ("x1", "acct-1"), ("x2", None)
        ]  # fmt: skip


def test_log_records_written_before_cluster_ids_still_load(tmp_path: Path) -> None:
    """A log segment of records without the field (an older splitlab) loads with NULLs."""
    log_dir = tmp_path / "e.duckdb.log"
    old = AppendLog(log_dir)
    records = [
        {"eventId": "old-x", "type": "exposure", "experimentId": "exp", "variant": "a",
         "unitId": "u1", "timestamp": T0, "attributes": {"c": "FR"}},
        {"eventId": "old-m", "type": "metric", "experimentId": "exp", "variant": "a",
         "unitId": "u1", "timestamp": T0 + 5, "metric": "buy", "value": 1.5},
    ]  # fmt: skip
    old.append(b"".join(json.dumps(r).encode() + b"\n" for r in records))
    old.close()
    with DuckDBStore(tmp_path / "e.duckdb") as store:  # replays the log on start
        store.ingest(_events())
        store.flush()
        stored = _stored(store)
    assert ("old-m", None) in stored and ("old-x", None) in stored
    assert ("x1", "acct-1") in stored and len(stored) == 6


#: The event tables as splitlab wrote them with unit keys but before cluster ids.
BEFORE_CLUSTER_IDS = """
CREATE TABLE exposures (event_id VARCHAR NOT NULL, experiment_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL, unit_id VARCHAR NOT NULL, ts BIGINT NOT NULL, attributes JSON,
    unit_key BIGINT NOT NULL);
CREATE TABLE metric_events (event_id VARCHAR NOT NULL, experiment_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL, unit_id VARCHAR NOT NULL, metric VARCHAR NOT NULL,
    value DOUBLE NOT NULL, ts BIGINT NOT NULL, unit_key BIGINT NOT NULL);
CREATE TABLE unit_keys (unit_id VARCHAR NOT NULL, unit_key BIGINT NOT NULL);
CREATE TABLE splitlab_log_position (log_id VARCHAR PRIMARY KEY, segment BIGINT NOT NULL,
    "offset" BIGINT NOT NULL);
"""


def test_file_from_before_cluster_ids_keeps_every_row(tmp_path: Path) -> None:
    """Opening an older file adds a NULL ``cluster_id`` to every row; new events fill it."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(BEFORE_CLUSTER_IDS)
    con.execute(
        "INSERT INTO exposures SELECT 'old-x' || i, 'exp', 'a', 'u' || i, $t + i, "
        '\'{"c": "US"}\', i + 1 FROM range(500) t(i)',
        {"t": T0},
    )
    con.execute(
        "INSERT INTO metric_events SELECT 'old-m' || i, 'exp', 'a', 'u' || (i % 500), 'buy', "
        "i / 4, $t + i, (i % 500) + 1 FROM range(1500) t(i)",
        {"t": T0},
    )
    con.execute("INSERT INTO unit_keys SELECT 'u' || i, i + 1 FROM range(500) t(i)")
    before = {
        table: con.execute(f"SELECT * FROM {table} ORDER BY event_id").fetchall()
        for table in ("exposures", "metric_events")
    }
    con.close()
    with DuckDBStore(path) as store:
        with store.lock:
            con = store.connection
            after = {
                table: con.execute(
                    f"SELECT * EXCLUDE (cluster_id) FROM {table} ORDER BY event_id"
                ).fetchall()
                for table in ("exposures", "metric_events")
            }
            nulls = con.execute(
                "SELECT (SELECT count(*) FROM exposures WHERE cluster_id IS NULL), "
                "(SELECT count(*) FROM metric_events WHERE cluster_id IS NULL)"
            ).fetchone()
        store.ingest(_events())
        store.flush()
        stored = dict(_stored(store))
    assert after == before and nulls == (500, 1500)
    assert stored["x1"] == "acct-1" and stored["m1"] == "acct-1"
    with DuckDBStore(path) as store:  # opening it again changes nothing
        assert dict(_stored(store)) == stored
