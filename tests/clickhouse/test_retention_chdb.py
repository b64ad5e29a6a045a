"""The retention and time-to-event SQL of the ClickHouse store also runs on current
ClickHouse (chDB, in-process) and gives DuckDB's sums: the store's queries, bound the way
the HTTP client binds them, over the same rows the store's loader writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from chdb import session

from splitlab.store import DuckDBStore
from splitlab.store.clickhouse.http import bind
from splitlab.store.clickhouse.schema import SCHEMA, RowEncoder
from splitlab.store.clickhouse.sql import as_grouping_rows, plan_clickhouse_summary
from splitlab.store.clickhouse.survival_sql import clickhouse_curve, clickhouse_time_to_event
from splitlab.store.summary_sql import NO_CUTOFF, cutoff_millis, sums_from_rows
from splitlab.store.survival_sql import survival_sums
from tests.clickhouse.test_retention_clickhouse import _same
from tests.store.survival_data import CUTOFF, experiment, simulate

#: Current ClickHouse wants an alias on every joined subquery unless told otherwise.
SETTINGS = (
    "\nSETTINGS output_format_json_quote_64bit_integers = 0, joined_subquery_requires_alias = 0"
)


def test_chdb_equals_duckdb(tmp_path: Path) -> None:
    events = simulate(np.random.default_rng(7))
    duck = DuckDBStore(tmp_path / "events.duckdb", load_interval_s=0.05)
    chdb = session.Session(str(tmp_path / "chdb"))
    try:
        duck.ingest(events)
        for statement in SCHEMA:
            chdb.query(statement.format(db="r"))
        payload = b"".join(msgspec.json.encode(e) + b"\n" for e in events)
        exposures, metrics = RowEncoder().rows([payload])
        chdb.query("INSERT INTO r.exposures FORMAT JSONEachRow\n" + exposures.decode())
        chdb.query("INSERT INTO r.metric_events FORMAT JSONEachRow\n" + metrics.decode())

        def run(sql: str, params: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
            result = json.loads(chdb.query(bind(sql, params) + SETTINGS, "JSONCompact").bytes())
            return [m["name"] for m in result["meta"]], result["data"]

        exp = experiment()
        for cutoff in (datetime.fromtimestamp(CUTOFF / 1000, tz=UTC), None):
            millis = cutoff_millis(cutoff)
            plan = plan_clickhouse_summary("r", exp, millis, ["region"])
            columns, rows = as_grouping_rows(plan, *run(plan.sql, plan.params))
            sums = sums_from_rows(exp, plan, columns, rows)
            sums = survival_sums(
                exp, sums, plan.metrics, millis, run, ["region"],
                curve=partial(clickhouse_curve, "r", "final"),
                time_to_event=partial(clickhouse_time_to_event, "r", "final"),
            )  # fmt: skip
            _same(sums, duck.summary(exp, cutoff, "region"))
            if millis == NO_CUTOFF:  # every window closed: every unit eligible
                assert sums.metrics["d7"]["a"].n == sums.units["a"]
    finally:
        chdb.close()
        duck.close()
