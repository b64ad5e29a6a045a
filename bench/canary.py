"""Benchmark: one canary judgment (10 metrics) against the bare SQL of the same aggregation.

Data: ``--requests`` requests (default 1,000,000) from ``--units`` units (default 100,000)
exposed to a baseline and a canary, in one 50 % ramp step of 6 five-minute intervals; each
request has one event of each of 10 canary metrics (4 proportions, 3 means, 2 quantiles and
1 Mann-Whitney shift, so 3 of the 10 also need the values' sketch), so 10 x requests metric
events. Generated with DuckDB SQL straight into the store's tables. Cases, run alternately
(bench/harness.py):

* ``judgment``: ``DuckDBStore.interval_data`` for each metric (per-interval unit sums and, for
  the 3 sketch metrics, the bucket counts), then ``splitlab.stats.canary.judge``: what the
  canary monitor does at each interval, the ledger write aside;
* ``bare SQL``: the same queries executed and fetched, without the Python around them.

Run: ``.venv/bin/python bench/canary.py [--requests N] [--units N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import compare, report
from splitlab.config import load_experiment
from splitlab.config.adaptive import CanaryDesign
from splitlab.stats.canary import judge
from splitlab.store.canary_sql import plan_intervals
from splitlab.store.duckdb_store import DuckDBStore

EXPERIMENT = "bench-canary"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
SPAN_MS = 30 * 60_000
KINDS = ["proportion"] * 4 + ["mean"] * 3 + ["quantile"] * 2 + ["mann_whitney"]


def definition() -> dict[str, Any]:
    metrics: list[dict[str, Any]] = []
    for i, kind in enumerate(KINDS):
        m: dict[str, Any] = {"name": f"m{i}", "kind": kind, "tolerance": 0.1}
        if kind == "quantile":
            m["quantile"] = 0.99
        metrics.append(m)
    return {
        "experimentId": EXPERIMENT,
        "status": "running",
        "variants": ["baseline", "canary"],
        "assignment": {"salt": "bench"},
        "metrics": {"primary": {"name": "m0", "type": "continuous"}},
        "design": {
            "type": "canary",
            "intervalMinutes": 5,
            "ramp": [{"percent": 50, "minMinutes": 30}, {"percent": 100}],
            "metrics": metrics,
            "stepStartedAt": "2026-03-02T09:00:00.000000Z",
        },
    }


def generate(store: DuckDBStore, units: int, requests: int) -> None:
    """One exposure per unit before the step; each request an event of every metric: 0/1 for
    proportions, a lognormal-ish latency in ms for the others."""
    con = store.connection
    variant = "['baseline', 'canary'][1 + (u % 2)::INT]"
    params = {"exp": EXPERIMENT, "units": units, "start": START_MS}
    with store.lock:
        con.execute(
            f"INSERT INTO exposures SELECT 'x' || u, $exp, {variant}, 'u' || u, $start - 1000, "
            "NULL, u + 1, NULL FROM range($units) t(u)",
            params,
        )
        for i, kind in enumerate(KINDS):
            value = (
                "CASE WHEN hash(r * 31 + $i) % 100 = 0 THEN 1.0 ELSE 0.0 END"
                if kind == "proportion"
                else "round(exp(4.0 + 0.5 * ((hash(r * 17 + $i) % 2000) / 1000.0 - 1.0)))"
            )
            con.execute(
                f"INSERT INTO metric_events SELECT 'e' || $i || '-' || r, $exp, {variant}, "
                f"'u' || u, 'm' || $i, {value}, $start + (hash(r * 3) % $span)::BIGINT, u + 1, "
                "NULL FROM (SELECT r, hash(r * 7) % $units AS u FROM range($requests) t(r))",
                {**params, "i": i, "requests": requests, "span": SPAN_MS},
            )
        con.execute(
            "INSERT INTO unit_keys SELECT 'u' || i, i + 1 FROM range($units) t(i)", {"units": units}
        )
        con.execute("CHECKPOINT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    experiment = load_experiment(definition())
    design = experiment.design
    assert isinstance(design, CanaryDesign)
    end = START + timedelta(minutes=30)
    window = {"start": START, "end": end, "interval_seconds": 300}
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-") as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        try:
            generate(store, args.units, args.requests)

            def judgment() -> object:
                data = {}
                for m in design.metrics:
                    per = store.interval_data(experiment, m, **window)  # type: ignore[arg-type]
                    data[m.name] = [per[k] for k in sorted(per)]
                return judge(design, data, alpha=0.05, step=0, baseline="baseline",
                             canary="canary")  # fmt: skip

            plans = [plan_intervals(experiment, m, START, end, 300) for m in design.metrics]

            def bare() -> object:
                with store.lock:
                    for plan in plans:
                        store.connection.execute(plan.moments_sql, plan.params).fetchall()
                        if plan.sketch_sql is not None:
                            store.connection.execute(plan.sketch_sql, plan.params).fetchall()
                return None

            measured = compare({"judgment": judgment, "bare SQL": bare}, 1, rounds=args.rounds)
            report(
                f"Canary judgment: {args.requests:,} requests from {args.units:,} units, 10 "
                f"metrics ({10 * args.requests:,} metric events), 6 intervals",
                measured,
                baseline="bare SQL",
            )
            result: Any = judgment()
            print("verdicts: " + ", ".join(f"{m.name} {m.verdict}" for m in result.metrics))
        finally:
            store.close()


if __name__ == "__main__":
    main()
