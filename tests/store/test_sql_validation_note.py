"""What ``splitlab validate --sources`` says it did: a query on a ``clickhouse`` source is
checked but not run by the embedded store's validation, and the line says so instead of
claiming a dry run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from splitlab.config import load_experiment
from splitlab.config.sources import ClickHouseSource, FilesSource, FileTable, SourceCatalog
from splitlab.store.sql_validation import validate_sql_metrics

QUERY = "SELECT u AS unit_id, t AS timestamp, v AS value FROM {table}"


def definition(*sources: str) -> dict[str, Any]:
    metrics = [
        {"name": f"m{k}", "type": "continuous", "sql": {"source": s, "query": QUERY.format(
            table="orders" if s == "lake" else "shop.orders")}}
        for k, s in enumerate(sources)
    ]  # fmt: skip
    return {
        "experimentId": "exp-note",
        "variants": ["control", "treatment"],
        "assignment": {"salt": "note"},
        "metrics": {"primary": metrics[0], "secondary": metrics[1:]},
    }


def catalog(tmp_path: Path) -> SourceCatalog:
    path = tmp_path / "orders.parquet"
    table = pa.table({"u": ["a"], "t": pa.array([0], pa.timestamp("ms")), "v": [1.0]})
    pq.write_table(table, path)
    lake = FilesSource(type="files", tables={"orders": FileTable(path=str(path))})
    return SourceCatalog(sources={"lake": lake, "house": ClickHouseSource(type="clickhouse")})


def test_files_queries_are_dry_run(tmp_path: Path) -> None:
    found = validate_sql_metrics(load_experiment(definition("lake", "lake")), catalog(tmp_path))
    assert found.problems == [] and found.not_run == 0
    assert found.note == "2 SQL metrics: checked and dry-run on their sources"


def test_clickhouse_queries_are_said_to_be_checked_only(tmp_path: Path) -> None:
    found = validate_sql_metrics(load_experiment(definition("house")), catalog(tmp_path))
    assert found.problems == [] and found.not_run == 1
    assert found.note == (
        "1 SQL metric: checked; 1 on a clickhouse source not dry-run here (only the ClickHouse "
        "store can run it: ClickHouseStore.validate_sql_metrics)"
    )


def test_a_mix_says_how_many_of_each(tmp_path: Path) -> None:
    experiment = load_experiment(definition("lake", "house", "house"))
    found = validate_sql_metrics(experiment, catalog(tmp_path))
    assert found.problems == [] and found.not_run == 2
    assert found.note is not None
    assert found.note.startswith(
        "3 SQL metrics: checked; 1 dry-run on its source, 2 on a clickhouse source not dry-run"
    )
