"""Benchmark: the switchback summary (cell table) beside the classic summary of the same events.

Data: 8 regions switched hourly over 4 weeks (672 periods, 5,376 cells), 10,000,000 metric
events (orders, revenue, delivery minutes) from 1,000,000 customers, each with the region as
its ``cluster_id`` and the variant of its cell, plus one exposure per customer; generated
with DuckDB SQL straight into the store's tables. Cases, run alternately (bench/harness.py):

* ``switchback summary``: ``store.summary`` of the switchback definition: the cell queries
  (window and units, per-cell aggregates with burn-in, claimed variants), the grid with the
  variants from the assignment function, and the sums over cells;
* ``switchback look analysis``: ``analyze`` on those sums (HT for 4 metrics, the regression
  with period fixed effects on the cell table, SRM on cells), to show what the statistics add;
* ``classic summary``: ``store.summary`` of the same metrics as a classic experiment on the
  same events (first exposure per customer, per-customer aggregates).

Run: ``.venv/bin/python bench/switchback.py [--events N] [--customers N] [--rounds N]``.
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
from splitlab.stats import analyze
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.switchback_standin import switchback_variant

EXPERIMENT = "bench-sb"
HOUR_MS = 3_600_000
START_MS = 1_767_571_200_000  # 2026-01-05T00:00:00Z
PERIODS = 4 * 7 * 24
REGIONS = [f"region-{i}" for i in range(8)]

METRICS: dict[str, Any] = {
    "primary": {"name": "orders", "type": "continuous", "aggregation": "count"},
    "secondary": [
        {"name": "buyers", "type": "conversion", "event": "orders"},
        {"name": "revenue", "type": "continuous"},
        {"name": "minutes", "type": "ratio", "numerator": "minutes", "denominator": "orders"},
    ],
}
SWITCHBACK: dict[str, Any] = {
    "experimentId": EXPERIMENT,
    "status": "running",
    "variants": ["control", "dispatch-v2"],
    "assignment": {"salt": "bench"},
    "design": {"type": "switchback", "unit": "region", "periodSeconds": 3600,
               "burnInSeconds": 600, "origin": "2026-01-05T00:00:00Z"},
    "metrics": METRICS,
    "evaluation": {"minSampleSize": 2000},
}  # fmt: skip
CLASSIC = {k: v for k, v in SWITCHBACK.items() if k != "design"}


def generate(store: DuckDBStore, customers: int, events: int) -> None:
    """Cells' variants from the assignment function, then events in SQL."""
    experiment = load_experiment(SWITCHBACK)
    con = store.connection
    rows = [
        (r, k, switchback_variant(experiment, region, k))
        for r, region in enumerate(REGIONS)
        for k in range(PERIODS)
    ]
    with store.lock:
        con.execute("CREATE TEMP TABLE cell_variant (r INTEGER, k BIGINT, variant VARCHAR)")
        con.executemany("INSERT INTO cell_variant VALUES (?, ?, ?)", rows)
        origin_k = START_MS // HOUR_MS
        con.execute(
            "INSERT INTO metric_events SELECT 'e' || ev.i, $exp, cv.variant, 'c' || ev.c, "
            "['orders', 'revenue', 'minutes'][1 + (ev.i % 3)::INT], (hash(ev.i) % 5000) / 100.0, "
            "ev.ts, ev.c + 1, $regions[1 + ev.r::INT] "
            "FROM (SELECT i, hash(i * 7) % $customers AS c, hash(i * 7) % 8 AS r, "
            "  $start + (hash(i * 3) % ($periods::BIGINT * $hour))::BIGINT AS ts FROM range($events) t(i)) ev "
            "JOIN cell_variant cv ON cv.r = ev.r AND cv.k = ev.ts // $hour - $origin_k",
            {"exp": EXPERIMENT, "customers": customers, "events": events, "start": START_MS,
             "periods": PERIODS, "hour": HOUR_MS, "regions": REGIONS, "origin_k": origin_k},
        )  # fmt: skip
        con.execute(
            "INSERT INTO exposures SELECT 'x' || c, $exp, 'control', 'c' || c, $start + c, "
            "NULL, c + 1, $regions[1 + (hash(c * 7) % 8)::INT] FROM range($customers) t(c)",
            {"exp": EXPERIMENT, "customers": customers, "start": START_MS, "regions": REGIONS},
        )
        con.execute(
            "INSERT INTO unit_keys SELECT 'c' || i, i + 1 FROM range($n) t(i)", {"n": customers}
        )
        con.execute("DROP TABLE cell_variant")
        con.execute("CHECKPOINT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    switchback, classic = load_experiment(SWITCHBACK), load_experiment(CLASSIC)
    cutoff = datetime.fromtimestamp((START_MS + PERIODS * HOUR_MS) / 1000, UTC)
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-") as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        try:
            generate(store, args.customers, args.events)
            sums = store.summary(switchback, cutoff)
            cases = {
                "switchback summary (cells, burn-in)": lambda: store.summary(switchback, cutoff),
                "switchback analysis (HT + regression)": lambda: analyze(switchback, sums),
                "classic summary (same events)": lambda: store.summary(classic, cutoff),
            }
            measured = compare(cases, 1, rounds=args.rounds)
            report(
                f"Switchback: {len(REGIONS)} regions x {PERIODS} hourly periods, "
                f"{args.events:,} metric events, {args.customers:,} customers, 4 metrics",
                measured,
                baseline="classic summary (same events)",
            )
            design = analyze(switchback, sums).to_dict()["design"]
            print(f"cells {design['cells']}, units {design['units']}, periods {design['periods']}")
        finally:
            store.close()


if __name__ == "__main__":
    main()
