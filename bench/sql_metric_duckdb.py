"""Benchmark: a SQL metric over a Parquet file against the same metric as metric events, in
the embedded store.

Data: N units exposed over a week (2 variants), M rows ``(unit, timestamp, value)`` from a day
before to a week after each unit's exposure, written both as metric events in the store and
as a Parquet file of a ``files`` source. Cases, run alternately (bench/harness.py), each one
store summary of a continuous sum metric with CUPED:

* ``events``: the metric from the store's metric events (baseline);
* ``sql over parquet``: ``SELECT u AS unit_id, t AS timestamp, v AS value FROM orders`` run
  in the files sandbox, its rows handed to the store as Arrow and summed as events are.

Run: ``.venv/bin/python bench/sql_metric_duckdb.py [--units N] [--rows N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import compare, report
from splitlab.config import load_experiment
from splitlab.config.sources import FilesSource, FileTable, SourceCatalog
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.tables import create_tables

T0 = 1_780_000_000_000
DAY = 86_400_000
QUERY = "SELECT u AS unit_id, t AS timestamp, v AS value FROM orders"


def generate(folder: Path, units: int, rows: int) -> None:
    """The store file (exposures and metric events) and the Parquet file of the same rows."""
    rng = np.random.default_rng(1)
    ids = np.array([f"u{i}" for i in range(units)])
    t0 = T0 + rng.integers(0, 7 * DAY, units)
    variant = np.where(rng.integers(0, 2, units) == 0, "control", "b")
    which = rng.integers(0, units, rows)
    ts = t0[which] + rng.integers(-DAY, 7 * DAY, rows)
    values = rng.uniform(0, 100, rows)
    table = pa.table({"u": ids[which], "t": pa.array(ts, pa.timestamp("ms")), "v": values})
    pq.write_table(table, folder / "orders.parquet")
    con = duckdb.connect(str(folder / "bench.duckdb"))
    create_tables(con)
    con.register("x", pa.table({"id": ids, "k": np.arange(units), "ts": t0, "var": variant}))
    con.register("m", pa.table({"k": which, "ts": ts, "v": values}))
    con.execute("INSERT INTO unit_keys SELECT id, k FROM x")
    con.execute("INSERT INTO exposures SELECT 'e' || k, 'bench', var, id, ts, NULL, k, NULL FROM x")
    con.execute(
        "INSERT INTO metric_events SELECT 'm' || row_number() OVER (), 'bench', x.var, x.id, "
        "'revenue', m.v, m.ts, x.k, NULL FROM m JOIN x ON m.k = x.k"
    )
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    base = {"experimentId": "bench", "variants": ["control", "b"],
            "assignment": {"salt": "s"}, "evaluation": {"cupedLookbackDays": 7}}  # fmt: skip
    metric = {"name": "revenue", "type": "continuous", "cuped": True}
    by_events = load_experiment(base | {"metrics": {"primary": metric}})
    sql = {"source": "lake", "query": QUERY}
    by_sql = load_experiment(base | {"metrics": {"primary": metric | {"sql": sql}}})
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-") as tmp:
        folder = Path(tmp)
        generate(folder, args.units, args.rows)
        table = FileTable(path=str(folder / "orders.parquet"), format="parquet")
        catalog = SourceCatalog(
            sources={"lake": FilesSource(type="files", tables={"orders": table})}
        )
        with DuckDBStore(folder / "bench.duckdb", sources=catalog) as store:
            a = store.summary(by_events).metrics["revenue"]["control"]
            b = store.summary(by_sql).metrics["revenue"]["control"]
            print(f"control sums: events {a.sum:.6f}, sql {b.sum:.6f} (n {a.n:g}, {b.n:g})")
            cases = {
                "events": lambda: store.summary(by_events),
                "sql over parquet": lambda: store.summary(by_sql),
            }
            measured = compare(cases, 1, rounds=args.rounds)
        title = (
            f"SQL metric: one summary, {args.units:,} units, {args.rows:,} rows, "
            "2 variants, 1 continuous metric with CUPED"
        )
        report(title, measured, baseline="events")


if __name__ == "__main__":
    main()
