"""Benchmark: one canary judgment (10 metrics) against the bare SQL of the same aggregation.

Data: ``--requests`` requests (default 1,000,000) from ``--units`` units (default 100,000)
exposed to a baseline and a canary, in one 50 % ramp step of 6 five-minute intervals,
generated with DuckDB SQL straight into the store's tables. Two shapes:

* ``middleware`` (what a real canary looks like): each request records the two events of the
  request-metrics middleware (``request_latency_ms``, ``request_error``), and one request in
  ten an application event (``checkout``, 0/1, and ``cart_value``). The 10 metrics: error
  rate (proportion), mean latency, latency Mann-Whitney shift, latency p50, p90, p95, p99 and
  p99.9 (quantiles) on the two middleware events, checkout failure rate (proportion) and mean
  cart value on the application events: 4 event names, 2.2 events per request.
* ``distinct``: every request has one event of each of 10 metrics with 10 different event
  names (4 proportions, 3 means, 2 quantiles, 1 Mann-Whitney): 10 events per request, the
  worst case, kept for honesty.

Cases, run alternately (bench/harness.py):

* ``judgment``: ``DuckDBStore.canary_intervals`` for the whole canary (each event name read
  once: bucket counts, then interval sums and step totals per unit with the quantiles'
  clustered counts), then ``splitlab.stats.canary.judge``: what the canary monitor does at each
  interval, the ledger write aside;
* ``bare SQL``: the same two queries (bucket counts; interval sums and step totals with the
  clustered counts at the thresholds found from the buckets) executed and fetched, without
  the Python around them;
* ``per-metric reads`` (middleware shape only): ``canary_intervals`` metric by metric, then
  the judge, i.e. what the monitor did before it read each event once.

Run: ``.venv/bin/python bench/canary.py [--requests N] [--units N] [--rounds N]
[--shapes middleware,distinct]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import compare, report
from splitlab.config import load_experiment
from splitlab.config.adaptive import CanaryDesign
from splitlab.config.models import Experiment
from splitlab.stats.canary import judge
from splitlab.store.canary_sql import (
    duckdb_buckets_sql,
    duckdb_sql,
    plan_canary,
    sketches_from_rows,
    thresholds,
)
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.summary_sql import used_params

EXPERIMENT = "bench-canary"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
SPAN_MS = 30 * 60_000
VARIANT = "['baseline', 'canary'][1 + (u % 2)::INT]"
#: A latency in whole ms: lognormal-like (median about e^4 = 55 ms) from a hash of ``r``.
LATENCY = (
    "round(exp(4.0 + 0.6 * (((hash(r * 17 + $i) % 1000) + (hash(r * 19 + $i) % 1000) "
    "+ (hash(r * 23 + $i) % 1000)) / 1000.0 - 1.5) * 2.0))"
)
FLAG = "CASE WHEN hash(r * 31 + $i) % 100 = 0 THEN 1.0 ELSE 0.0 END"

MIDDLEWARE: list[dict[str, Any]] = [
    {"name": "error_rate", "event": "request_error", "kind": "proportion", "tolerance": 0.005,
     "toleranceType": "absolute"},
    {"name": "latency_mean", "event": "request_latency_ms", "kind": "mean", "tolerance": 0.1},
    {"name": "latency_shift", "event": "request_latency_ms", "kind": "mann_whitney",
     "tolerance": 0.1},
    *({"name": f"latency_p{label}", "event": "request_latency_ms", "kind": "quantile",
       "quantile": q, "tolerance": 0.25}
      for label, q in (("50", 0.5), ("90", 0.9), ("95", 0.95), ("99", 0.99), ("999", 0.999))),
    {"name": "checkout_failed", "event": "checkout", "kind": "proportion", "tolerance": 0.02,
     "toleranceType": "absolute"},
    {"name": "cart_value", "kind": "mean", "tolerance": 0.1},
]  # fmt: skip
DISTINCT_KINDS = ["proportion"] * 4 + ["mean"] * 3 + ["quantile"] * 2 + ["mann_whitney"]


def definition(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "experimentId": EXPERIMENT,
        "status": "running",
        "variants": ["baseline", "canary"],
        "assignment": {"salt": "bench"},
        "metrics": {"primary": {"name": "latency", "type": "continuous"}},
        "design": {
            "type": "canary",
            "intervalMinutes": 5,
            "ramp": [{"percent": 50, "minMinutes": 30}, {"percent": 100}],
            "metrics": metrics,
            "stepStartedAt": "2026-03-02T09:00:00.000000Z",
        },
    }


def distinct_metrics() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i, kind in enumerate(DISTINCT_KINDS):
        m: dict[str, Any] = {"name": f"m{i}", "kind": kind, "tolerance": 0.1}
        if kind == "quantile":
            m["quantile"] = 0.99
        out.append(m)
    return out


def generate(store: DuckDBStore, units: int, requests: int, events: list[tuple[str, str]]) -> int:
    """One exposure per unit before the step; per request the events ``(name, value SQL)``
    (an app event's SQL may be NULL for requests without it). Returns the number of events."""
    con = store.connection
    params = {"exp": EXPERIMENT, "units": units, "start": START_MS}
    with store.lock:
        con.execute(
            f"INSERT INTO exposures SELECT 'x' || u, $exp, {VARIANT}, 'u' || u, $start - 1000, "
            "NULL, u + 1, NULL FROM range($units) t(u)",
            params,
        )
        for i, (name, value) in enumerate(events):
            con.execute(
                f"INSERT INTO metric_events SELECT 'e' || $i || '-' || r, $exp, {VARIANT}, "
                f"'u' || u, $name, v, $start + (hash(r * 3) % $span)::BIGINT, u + 1, NULL "
                f"FROM (SELECT r, hash(r * 7) % $units AS u, {value} AS v "
                "FROM range($requests) t(r)) WHERE v IS NOT NULL",
                {**params, "i": i, "name": name, "requests": requests, "span": SPAN_MS},
            )
        con.execute(
            "INSERT INTO unit_keys SELECT 'u' || i, i + 1 FROM range($units) t(i)", {"units": units}
        )
        con.execute("CHECKPOINT")
        (count,) = con.execute("SELECT count(*) FROM metric_events").fetchone() or (0,)
    return int(count)


def cases(
    store: DuckDBStore, experiment: Experiment, per_metric: bool
) -> dict[str, Callable[[], object]]:
    design = experiment.design
    assert isinstance(design, CanaryDesign)
    metrics = design.metrics
    end = START + timedelta(minutes=30)
    window: dict[str, Any] = {"start": START, "end": end, "interval_seconds": 300}
    judged = {"alpha": 0.05, "step": 0, "baseline": "baseline", "canary": "canary"}

    def judgment() -> object:
        data = store.canary_intervals(experiment, metrics, **window)
        ordered = {name: [iv[k] for k in sorted(iv)] for name, iv in data.intervals.items()}
        return judge(design, ordered, **judged, step_totals=data.steps, clustered=data.clustered)

    plan = plan_canary(experiment, metrics, START, end, 300)
    buckets_sql = duckdb_buckets_sql(plan) if plan.sketch_events else None
    with store.lock:
        rows = [] if buckets_sql is None else store.connection.execute(
            buckets_sql, used_params(buckets_sql, plan.params)
        ).fetchall()  # fmt: skip
    found = thresholds(metrics, sketches_from_rows(experiment, rows), ["baseline", "canary"])
    main_sql = duckdb_sql(plan, found)

    def bare() -> object:
        with store.lock:
            if buckets_sql is not None:
                store.connection.execute(buckets_sql, used_params(buckets_sql, plan.params))
                store.connection.fetchall()
            store.connection.execute(*main_sql).fetchall()
        return None

    def old() -> object:
        data = {}
        steps, clustered = {}, {}
        for m in metrics:
            one = store.canary_intervals(experiment, [m], **window)
            data[m.name] = [one.intervals[m.name][k] for k in sorted(one.intervals[m.name])]
            steps.update(one.steps)
            clustered.update(one.clustered)
        return judge(design, data, **judged, step_totals=steps, clustered=clustered)

    out: dict[str, Callable[[], object]] = {"judgment": judgment, "bare SQL": bare}
    if per_metric:
        out["per-metric reads (before)"] = old
    return out


def _cpu_seconds(fn: Callable[[], object], rounds: int = 3) -> float:
    """The median process CPU time of ``fn`` over ``rounds`` calls."""
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def run_shape(shape: str, args: argparse.Namespace) -> None:
    if shape == "middleware":
        experiment = load_experiment(definition(MIDDLEWARE))
        app = "CASE WHEN hash(r * 41) % 10 = 0 THEN {} END"
        events = [
            ("request_latency_ms", LATENCY),
            ("request_error", FLAG),
            ("checkout", app.format("CASE WHEN hash(r * 43) % 50 = 0 THEN 1.0 ELSE 0.0 END")),
            ("cart_value", app.format("round(20 + hash(r * 47) % 200)")),
        ]
    else:
        experiment = load_experiment(definition(distinct_metrics()))
        events = [
            (f"m{i}", FLAG if kind == "proportion" else LATENCY)
            for i, kind in enumerate(DISTINCT_KINDS)
        ]
    design = experiment.design
    assert isinstance(design, CanaryDesign)
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-") as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        try:
            count = generate(store, args.units, args.requests, events)
            timed = cases(store, experiment, per_metric=shape == "middleware")
            measured = compare(timed, 1, rounds=args.rounds)
            names = sorted({m.event_name for m in design.metrics})
            report(
                f"Canary judgment, {shape} shape: {args.requests:,} requests from "
                f"{args.units:,} units, {len(design.metrics)} metrics on {len(names)} event "
                f"names ({count:,} metric events), 6 intervals",
                measured,
                baseline="bare SQL",
            )
            cpu = {name: _cpu_seconds(fn) for name, fn in timed.items()}
            print(
                "CPU time per op (process time, all DuckDB threads; what contention from other "
                "work cannot inflate much): "
                + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in cpu.items())
            )
            result: Any = timed["judgment"]()
            print("metrics: " + ", ".join(f"{m.name} ({m.kind}, {m.event_name})"
                                          for m in design.metrics))  # fmt: skip
            print("verdicts: " + ", ".join(f"{m.name} {m.verdict}" for m in result.metrics))
            print()
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shapes", default="middleware,distinct")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    for shape in args.shapes.split(","):
        if shape not in ("middleware", "distinct"):
            parser.error(f"--shapes: expected middleware and/or distinct (got {shape!r})")
        run_shape(shape, args)


if __name__ == "__main__":
    main()
