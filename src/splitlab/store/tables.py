"""The embedded store's tables, and bringing a file written by an older splitlab up to date.

``exposures`` and ``metric_events`` hold the events as loaded (one row per ``eventId``), with
the ``clusterId`` of cluster and switchback designs in the nullable ``cluster_id`` column;
``unit_keys`` numbers the unit ids (see :mod:`splitlab.store.loader`); ``splitlab_log_position``
records how far the log is loaded, in the same transactions as the rows.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS exposures (
    event_id VARCHAR NOT NULL,
    experiment_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    ts BIGINT NOT NULL,
    attributes JSON,
    unit_key BIGINT NOT NULL,
    cluster_id VARCHAR
);
CREATE TABLE IF NOT EXISTS metric_events (
    event_id VARCHAR NOT NULL,
    experiment_id VARCHAR NOT NULL,
    variant VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    metric VARCHAR NOT NULL,
    value DOUBLE NOT NULL,
    ts BIGINT NOT NULL,
    unit_key BIGINT NOT NULL,
    cluster_id VARCHAR
);
CREATE TABLE IF NOT EXISTS unit_keys (
    unit_id VARCHAR NOT NULL,
    unit_key BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS splitlab_log_position (
    log_id VARCHAR PRIMARY KEY,
    segment BIGINT NOT NULL,
    "offset" BIGINT NOT NULL
);
"""


def create_tables(con: Any) -> None:
    """Create the tables if missing, and bring the event tables of an older file up to date.

    Each upgrade runs in one transaction, so an interrupted one leaves the file as it was.
    """
    con.execute(SCHEMA)
    _add_unit_keys(con)
    _add_cluster_ids(con)


def _missing_column(con: Any, column: str) -> list[str]:
    """The event tables (sorted) that lack `column`."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_name IN "
        "('exposures', 'metric_events') AND table_schema = 'main' GROUP BY table_name "
        "HAVING count(CASE WHEN column_name = $column THEN 1 END) = 0 ORDER BY table_name",
        {"column": column},
    ).fetchall()
    return [row[0] for row in rows]


def _add_cluster_ids(con: Any) -> None:
    """Add the nullable ``cluster_id`` column to a file that predates it (rows keep NULL)."""
    tables = _missing_column(con, "cluster_id")
    if not tables:
        return
    logger.info("adding cluster ids to %s (a file from an older splitlab)", ", ".join(tables))
    con.execute("BEGIN TRANSACTION")
    try:
        for table in tables:
            con.execute(f"ALTER TABLE {table} ADD COLUMN cluster_id VARCHAR")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _add_unit_keys(con: Any) -> None:
    """Add ``unit_key`` to a file that predates it.

    An older file's event tables are rebuilt with the column, after every stored unit got its
    key, in one transaction.
    """
    tables = _missing_column(con, "unit_key")
    if not tables:
        return
    logger.info("adding unit keys to %s (a file from an older splitlab)", ", ".join(tables))
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO unit_keys SELECT unit_id, (SELECT coalesce(max(unit_key), 0) "
            "FROM unit_keys) + row_number() OVER (ORDER BY unit_id) FROM (SELECT unit_id "
            "FROM exposures UNION SELECT unit_id FROM metric_events) ANTI JOIN unit_keys "
            "USING (unit_id)"
        )
        for table in tables:
            con.execute(f"ALTER TABLE {table} RENAME TO {table}_before_unit_keys")
        con.execute(SCHEMA)  # the event tables again, now with the column
        for table in tables:
            # the old columns and the key, by name (newer columns are NULL)
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT o.*, k.unit_key "
                f"FROM {table}_before_unit_keys o JOIN unit_keys k ON o.unit_id = k.unit_id"
            )
            con.execute(f"DROP TABLE {table}_before_unit_keys")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
