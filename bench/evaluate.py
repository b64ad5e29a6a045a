"""Benchmark: a full look against the bare SQL aggregation of the same events.

Data: 1,000,000 units exposed to 3 variants and 10,000,000 metric events over 5 metrics, all
with CUPED (a 14-day pre-exposure window), generated with DuckDB SQL straight into the store's
tables. Cases, run alternately (bench/harness.py):

* ``run_look``: the full look: registry reads, the store's summary SQL and data-quality SQL,
  the analysis (CUPED, sequential boundary, corrections, guardrail), the decision and the
  ledger write (the look's JSON document with sums, results and definition);
* ``store SQL only``: the two store queries of a look (summary and data quality), to show
  what the evaluation itself adds (analysis, decision, ledger);
* ``bare SQL``: a hand-written query computing the same per-variant sums (first exposure per
  unit, per-unit aggregates after exposure and in the pre-period, sums of squares and
  cross-products), fetched and nothing else: the floor for any look.

Run: ``.venv-bench/bin/python bench/evaluate.py [--units N] [--events N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import compare, report
from splitlab.config import load_experiment
from splitlab.evaluation import Registry, run_look
from splitlab.store.duckdb_store import DuckDBStore

EXPERIMENT = "bench-eval"
DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: first exposure day
METRICS = ("purchase", "signup", "revenue", "pageviews", "errors")

DEFINITION: dict[str, Any] = {
    "experimentId": EXPERIMENT,
    "name": "Evaluation benchmark",
    "status": "running",
    "variants": ["control", "a", "b"],
    "assignment": {"strategy": "consistent_hash", "salt": "bench"},
    "metrics": {
        "primary": {"name": "purchase", "type": "conversion", "cuped": True},
        "secondary": [
            {"name": "signup", "type": "conversion", "cuped": True},
            {"name": "revenue", "type": "continuous", "cuped": True},
            {"name": "pageviews", "type": "continuous", "aggregation": "count", "cuped": True},
        ],
        "guardrails": [
            {"name": "errors", "type": "continuous", "threshold": 0.5, "cuped": True},
        ],
    },
    "evaluation": {"maxPeeks": 1000, "minSampleSize": 300_000, "cupedLookbackDays": 14},
}

BARE_SQL = """
WITH exposed AS (
  SELECT unit_key, min(ts) AS t0, arg_min(variant, ts) AS variant
  FROM exposures WHERE experiment_id = $exp
  GROUP BY unit_key HAVING count(DISTINCT variant) = 1
), unit_values AS (
  SELECT me.unit_key,
    max(1) FILTER (WHERE me.metric = 'purchase' AND me.ts >= e.t0) AS y0,
    max(1) FILTER (WHERE me.metric = 'purchase' AND me.ts < e.t0) AS x0,
    max(1) FILTER (WHERE me.metric = 'signup' AND me.ts >= e.t0) AS y1,
    max(1) FILTER (WHERE me.metric = 'signup' AND me.ts < e.t0) AS x1,
    sum(me.value) FILTER (WHERE me.metric = 'revenue' AND me.ts >= e.t0) AS y2,
    sum(me.value) FILTER (WHERE me.metric = 'revenue' AND me.ts < e.t0) AS x2,
    count(*) FILTER (WHERE me.metric = 'pageviews' AND me.ts >= e.t0) AS y3,
    count(*) FILTER (WHERE me.metric = 'pageviews' AND me.ts < e.t0) AS x3,
    sum(me.value) FILTER (WHERE me.metric = 'errors' AND me.ts >= e.t0) AS y4,
    sum(me.value) FILTER (WHERE me.metric = 'errors' AND me.ts < e.t0) AS x4
  FROM metric_events me JOIN exposed e USING (unit_key)
  WHERE me.ts >= e.t0 - $lookback
  GROUP BY me.unit_key
), filled AS (
  SELECT e.variant,
    coalesce(y0, 0)::DOUBLE AS y0, coalesce(x0, 0)::DOUBLE AS x0,
    coalesce(y1, 0)::DOUBLE AS y1, coalesce(x1, 0)::DOUBLE AS x1,
    coalesce(y2, 0)::DOUBLE AS y2, coalesce(x2, 0)::DOUBLE AS x2,
    coalesce(y3, 0)::DOUBLE AS y3, coalesce(x3, 0)::DOUBLE AS x3,
    coalesce(y4, 0)::DOUBLE AS y4, coalesce(x4, 0)::DOUBLE AS x4
  FROM exposed e LEFT JOIN unit_values v USING (unit_key)
)
SELECT variant, count(*),
  sum(y0), sum(y0*y0), sum(x0), sum(x0*x0), sum(y0*x0),
  sum(y1), sum(y1*y1), sum(x1), sum(x1*x1), sum(y1*x1),
  sum(y2), sum(y2*y2), sum(x2), sum(x2*x2), sum(y2*x2),
  sum(y3), sum(y3*y3), sum(x3), sum(x3*x3), sum(y3*x3),
  sum(y4), sum(y4*y4), sum(x4), sum(x4*x4), sum(y4*x4)
FROM filled GROUP BY variant ORDER BY variant
"""


def generate(store: DuckDBStore, units: int, events: int) -> None:
    """Exposures over one day and metric events over 20 days (5 of them before exposure)."""
    con = store.connection
    with store.lock:
        con.execute(
            "INSERT INTO exposures SELECT 'x' || i, $exp, "
            "['control', 'a', 'b'][1 + (hash(i) % 3)::INT], 'u' || i, "
            "$start + (hash(i * 11) % $day)::BIGINT, NULL, i + 1, NULL FROM range($units) t(i)",
            {"exp": EXPERIMENT, "units": units, "start": START_MS, "day": DAY_MS},
        )
        con.execute(
            "INSERT INTO metric_events SELECT 'e' || i, $exp, "
            "['control', 'a', 'b'][1 + (hash(u) % 3)::INT], 'u' || u, "
            "$metrics[1 + (i % 5)::INT], (hash(i) % 1000) / 100.0, "
            "$start - 5 * $day + (hash(i * 3) % (20 * $day))::BIGINT, u + 1, NULL "
            "FROM (SELECT i, hash(i * 7) % $units AS u FROM range($events) t(i))",
            {
                "exp": EXPERIMENT,
                "units": units,
                "events": events,
                "start": START_MS,
                "day": DAY_MS,
                "metrics": list(METRICS),
            },
        )
        # the unit keys the loader would have given (docs/storage.md)
        con.execute(
            "INSERT INTO unit_keys SELECT 'u' || i, i + 1 FROM range($units) t(i)",
            {"units": units},
        )
        con.execute("CHECKPOINT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    experiment = load_experiment(DEFINITION)
    cutoff = datetime(2026, 2, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-") as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        try:
            generate(store, args.units, args.events)
            registry = Registry.for_store(store)
            registry.create(experiment, at=cutoff)
            params = {"exp": EXPERIMENT, "lookback": 14 * DAY_MS}

            def look() -> object:
                return run_look(store, registry, EXPERIMENT, cutoff=cutoff, triggered_by="bench")

            def store_sql() -> object:
                return store.summary(experiment, cutoff), store.data_quality(experiment, cutoff)

            def bare() -> object:
                with store.lock:
                    return store.connection.execute(BARE_SQL, params).fetchall()

            cases = {
                "run_look (full look)": look,
                "store SQL only (summary + data quality)": store_sql,
                "bare SQL aggregation": bare,
            }
            measured = compare(cases, 1, rounds=args.rounds)
            title = (
                f"Evaluation: one look, {args.units:,} units, {args.events:,} metric events, "
                "3 variants, 5 metrics with CUPED"
            )
            report(title, measured, baseline="bare SQL aggregation")
            last = registry.looks(EXPERIMENT)[-1].to_dict()
            print(f"last look: decision {last['decision']['action']}, "
                  f"units {last['results']['units']}")  # fmt: skip
        finally:
            store.close()


if __name__ == "__main__":
    main()
