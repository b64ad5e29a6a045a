"""Benchmark: a SQL metric over a Parquet file against the same rows as events, DuckDB store.

Data: 1,000,000 exposed units (2 variants, exposures over one day) and 10,000,000 orders of
those units over 20 days (5 of them before the exposures, for CUPED), written with DuckDB's
``COPY`` as a Parquet file ``orders.parquet`` (columns ``customer``, ``placed_at``
TIMESTAMP, ``amount``) read by a ``files`` source, and as metric events ``revenue``. Two
stores hold the same exposures: ``events.duckdb`` also the orders as events, ``sql.duckdb``
nothing else (as each would be in use). One continuous metric, the per-unit sum, with CUPED (14 days back).

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
    """orders.parquet, and two stores with the same exposures (and unit keys): events.duckdb
    also holds the orders as metric events, sql.duckdb does not (its metric reads the
    Parquet file), as each would be in use."""
    parquet = str(folder / "orders.parquet")
    params = {"exp": EXPERIMENT, "units": units, "rows": rows, "start": START_MS, "day": DAY_MS}
    for name in ("events", "sql"):
        store = DuckDBStore(folder / f"{name}.duckdb")
        con = store.connection
        with store.lock:
            if name == "events":
                con.execute(
                    f"""COPY (
  SELECT 'u' || u AS customer, epoch_ms($start - 5 * $day
           + (hash(i * 3) % (20 * $day))::BIGINT) AS placed_at,
         (hash(i) % 1000) / 100.0 AS amount
  FROM (SELECT i, hash(i * 7) % $units AS u FROM range($rows) t(i))
) TO '{parquet}' (FORMAT parquet)""",
                    {k: params[k] for k in ("units", "rows", "start", "day")},
                )
                con.execute(
                    f"""INSERT INTO metric_events
SELECT 'e' || row_number() OVER (), $exp, 'control', customer, 'revenue', amount,
       epoch_ms(placed_at), CAST(substring(customer, 2) AS BIGINT) + 1, NULL
FROM read_parquet('{parquet}')""",
                    {"exp": EXPERIMENT},
                )
            con.execute(
                "INSERT INTO exposures SELECT 'x' || i, $exp, "
                "['control', 'treatment'][1 + (hash(i) % 2)::INT], 'u' || i, "
                "$start + (hash(i * 11) % $day)::BIGINT, NULL, i + 1, NULL "
                "FROM range($units) t(i)",
                {k: params[k] for k in ("exp", "units", "start", "day")},
            )
            con.execute(
                "INSERT INTO unit_keys SELECT 'u' || i, i + 1 FROM range($units) t(i)",
                {"units": units},
            )
            con.execute("CHECKPOINT")
        store.close()
    catalog = {"sources": {"lake": {"type": "files", "tables": {"orders": {"path": parquet}}}}}
    (folder / "sources.json").write_text(json.dumps(catalog))


def open_store(folder: Path, name: str) -> DuckDBStore:
    sources = load_sources(folder / "sources.json")
    return DuckDBStore(folder / f"{name}.duckdb", sources=sources)


def _status(field: str) -> int:
    """A field of /proc/self/status in KiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_growth(folder: Path, case: str) -> None:
    """One summary of `case` in this (fresh) process, after a first one: prints how far the
    peak resident set (VmHWM, reset just before) rose above the resident set before it."""
    store = open_store(folder, case)
    experiment = load_experiment(definition(case == "sql"))
    store.summary(experiment, CUTOFF)
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current VmRSS
    before = _status("VmRSS")
    store.summary(experiment, CUTOFF)
    peak = _status("VmHWM")
    store.close()
    print(
        json.dumps(
            {"case": case, "before_mib": before / 1024, "growth_mib": (peak - before) / 1024}
        )
    )


def sums(store: DuckDBStore, experiment: Experiment) -> dict[str, Any]:
    result = store.summary(experiment, CUTOFF)
    return {arm: s.to_dict() for arm, s in result.metrics["revenue"].items()}


def close(a: Any, b: Any) -> bool:
    """Equal dicts of numbers, to a relative 1e-9 (the order of summation differs)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return bool(abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0))


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
        stores = {name: open_store(folder, name) for name in ("events", "sql")}
        try:
            by_events = sums(stores["events"], events)
            by_sql = sums(stores["sql"], sql)
            same = close(by_events, by_sql)
            print(f"same sums (to 1e-9, summation order aside): {same}")
            if not same:
                print(json.dumps({"events": by_events, "sql": by_sql}, indent=1))
            cases = {
                "events": lambda: stores["events"].summary(events, CUTOFF),
                "sql (parquet)": lambda: stores["sql"].summary(sql, CUTOFF),
            }
            measured = compare(cases, 1, rounds=args.rounds)
        finally:
            for store in stores.values():
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
