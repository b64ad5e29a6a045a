"""Benchmark: a SQL metric over a Parquet file against the same rows as events, DuckDB store.

Data: 1,000,000 exposed units (2 variants, exposures over one day) and 10,000,000 orders of
those units over 20 days (5 of them before the exposures, for CUPED), written twice: as
metric events ``revenue`` in the store, and with DuckDB's ``COPY`` as a Parquet file
``orders.parquet`` (columns ``customer``, ``placed_at`` TIMESTAMP, ``amount``) read by a
``files`` source. One continuous metric, the per-unit sum, with CUPED (14 days back).

Cases, run alternately (bench/harness.py), each the store's summary of one look:

* ``events``: the metric over the events (the baseline);
* ``sql (parquet)``: the same metric defined in SQL over the Parquet file.

Both give the same sums (checked before timing). Peak memory: each case also runs once in a
fresh process of its own, which prints the growth of its peak resident set (``ru_maxrss``)
over the summary.

Run: ``.venv/bin/python bench/sql_metric.py [--units N] [--rows N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import compare, report
from splitlab.config import Experiment, load_experiment
from splitlab.config.source_loading import load_sources
from splitlab.store.duckdb_store import DuckDBStore

EXPERIMENT = "exp-sql-bench"
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
CUTOFF = datetime(2026, 2, 1, tzinfo=UTC)
QUERY = "SELECT customer AS unit_id, placed_at AS timestamp, amount AS value FROM orders"


def definition(sql: bool) -> dict[str, Any]:
    metric: dict[str, Any] = {"name": "revenue", "type": "continuous", "cuped": True}
    if sql:
        metric["sql"] = {"source": "lake", "query": QUERY}
    return {
        "experimentId": EXPERIMENT,
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {"salt": "sql-bench"},
        "evaluation": {"cupedLookbackDays": 14},
        "metrics": {"primary": metric},
    }


def generate(folder: Path, units: int, rows: int) -> None:
    """The store (exposures, events, unit keys) and orders.parquet with the same rows."""
    store = DuckDBStore(folder / "bench.duckdb")
    con = store.connection
    parquet = str(folder / "orders.parquet")
    params = {"exp": EXPERIMENT, "units": units, "rows": rows, "start": START_MS, "day": DAY_MS}
    with store.lock:
        con.execute(
            f"""COPY (
  SELECT 'u' || u AS customer, epoch_ms($start - 5 * $day
           + (hash(i * 3) % (20 * $day))::BIGINT) AS placed_at,
         (hash(i) % 1000) / 100.0 AS amount
  FROM (SELECT i, hash(i * 7) % $units AS u FROM range($rows) t(i))
) TO '{parquet}' (FORMAT parquet)""",
            params,
        )
        con.execute(
            "INSERT INTO exposures SELECT 'x' || i, $exp, "
            "['control', 'treatment'][1 + (hash(i) % 2)::INT], 'u' || i, "
            "$start + (hash(i * 11) % $day)::BIGINT, NULL, i + 1, NULL FROM range($units) t(i)",
            {k: params[k] for k in ("exp", "units", "start", "day")},
        )
        con.execute(
            f"""INSERT INTO metric_events
SELECT 'e' || row_number() OVER (), $exp, 'control', customer, 'revenue', amount,
       epoch_ms(placed_at), CAST(substring(customer, 2) AS BIGINT) + 1, NULL
FROM read_parquet('{parquet}')""",
            {"exp": EXPERIMENT},
        )
        con.execute("INSERT INTO unit_keys SELECT 'u' || i, i + 1 FROM range($units) t(i)", params)
        con.execute("CHECKPOINT")
    store.close()
    catalog = {"sources": {"lake": {"type": "files", "tables": {"orders": {"path": parquet}}}}}
    (folder / "sources.json").write_text(json.dumps(catalog))


def open_store(folder: Path) -> DuckDBStore:
    return DuckDBStore(folder / "bench.duckdb", sources=load_sources(folder / "sources.json"))


def peak_growth(folder: Path, case: str) -> None:
    """One summary of `case` in this (fresh) process: prints the growth of the peak RSS."""
    store = open_store(folder)
    experiment = load_experiment(definition(case == "sql"))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    store.summary(experiment, CUTOFF)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    store.close()
    print(
        json.dumps(
            {"case": case, "before_mib": before / 1024, "growth_mib": (after - before) / 1024}
        )
    )


def sums(store: DuckDBStore, experiment: Experiment) -> dict[str, Any]:
    result = store.summary(experiment, CUTOFF)
    return {arm: s.to_dict() for arm, s in result.metrics["revenue"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--peak", nargs=2, metavar=("FOLDER", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peak:
        peak_growth(Path(args.peak[0]), args.peak[1])
        return
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-") as tmp:
        folder = Path(tmp)
        generate(folder, args.units, args.rows)
        size = (folder / "orders.parquet").stat().st_size
        print(f"orders.parquet: {size / 2**20:.0f} MiB, {args.rows:,} rows")
        events, sql = load_experiment(definition(False)), load_experiment(definition(True))
        store = open_store(folder)
        try:
            by_events, by_sql = sums(store, events), sums(store, sql)
            same = json.dumps(by_events, sort_keys=True) == json.dumps(by_sql, sort_keys=True)
            print(f"same sums: {same}")
            if not same:
                print(json.dumps({"events": by_events, "sql": by_sql}, indent=1))
            cases = {
                "events": lambda: store.summary(events, CUTOFF),
                "sql (parquet)": lambda: store.summary(sql, CUTOFF),
            }
            measured = compare(cases, 1, rounds=args.rounds)
        finally:
            store.close()
        title = (
            f"SQL metric: one summary, {args.units:,} exposed units, {args.rows:,} rows "
            "(continuous sum with CUPED), as events vs a SQL metric over Parquet"
        )
        report(title, measured, baseline="events")
        for case in ("events", "sql"):
            out = subprocess.run(
                [sys.executable, __file__, "--peak", tmp, case],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            peak = json.loads(out.strip().splitlines()[-1])
            print(
                f"peak RSS growth over one summary, {case:<6}: {peak['growth_mib']:8.0f} MiB"
                f" (process at {peak['before_mib']:.0f} MiB before)"
            )


if __name__ == "__main__":
    main()
