"""Benchmark: the summary of a cluster design (sums over clusters) against the classic summary
of the same events.

Data: 1,000,000 users in 100,000 accounts (each user in a random account, so account sizes
vary around 10), accounts randomised to 3 variants, and 10,000,000 metric events over 5
metrics, all with CUPED (a 14-day pre-exposure window); every event carries its account as
``cluster_id``. Generated with DuckDB SQL straight into the store's tables. Cases, run
alternately (bench/harness.py), both through ``DuckDBStore.summary``:

* ``clustered summary``: the experiment with ``design: {"type": "cluster", ...}``: per-unit
  values, then per-cluster totals, then sums over clusters (docs/storage.md, "Cluster
  designs");
* ``unclustered summary``: the same experiment without the design: sums over users.

``--segment`` adds a country attribute to the exposures and a segment to both summaries.

Run: ``.venv-bench/bin/python bench/cluster_summary.py [--users N] [--accounts N]
[--events N] [--rounds N] [--segment]``.
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
from splitlab.store.duckdb_store import DuckDBStore

EXPERIMENT = "bench-cluster"
DAY_MS = 86_400_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: first exposure day
METRICS = ("purchase", "signup", "revenue", "pageviews", "errors")


def definition(clustered: bool, segment: bool) -> dict[str, Any]:
    """The benchmark experiment, with or without the cluster design."""
    raw: dict[str, Any] = {
        "experimentId": EXPERIMENT,
        "name": "Cluster summary benchmark",
        "status": "running",
        "variants": ["control", "a", "b"],
        "assignment": {"strategy": "consistent_hash", "hashKey": "accountId", "salt": "bench"},
        "metrics": {
            "primary": {"name": "purchase", "type": "conversion", "cuped": True},
            "secondary": [
                {"name": "signup", "type": "conversion", "cuped": True},
                {"name": "revenue", "type": "continuous", "cuped": True},
                {"name": "pageviews", "type": "continuous", "aggregation": "count",
                 "cuped": True},
                {"name": "errors", "type": "ratio", "numerator": "errors",
                 "denominator": "pageviews", "cuped": True},
            ],
        },
        "evaluation": {"minSampleSize": 1000, "cupedLookbackDays": 14},
    }  # fmt: skip
    if clustered:
        raw["design"] = {"type": "cluster", "analysisUnit": "userId"}
    if segment:
        raw["segments"] = ["country"]
    return raw


def generate(store: DuckDBStore, users: int, accounts: int, events: int, segment: bool) -> None:
    """One exposure per user over one day; metric events over 20 days (5 before exposure)."""
    con = store.connection
    account = "(hash(u * 13) % $accounts)"
    variant = f"['control', 'a', 'b'][1 + (hash({account} * 7) % 3)::INT]"
    attributes = "json_object('country', ['US', 'DE', 'JP', 'BR'][1 + (u % 4)::INT])"
    params = {"exp": EXPERIMENT, "users": users, "accounts": accounts, "start": START_MS,
              "day": DAY_MS}  # fmt: skip
    with store.lock:
        con.execute(
            f"INSERT INTO exposures SELECT 'x' || u, $exp, {variant}, 'u' || u, "
            f"$start + (hash(u * 11) % $day)::BIGINT, {attributes if segment else 'NULL'}, "
            f"u + 1, 'acct' || {account} FROM range($users) t(u)",
            params,
        )
        con.execute(
            f"INSERT INTO metric_events SELECT 'e' || i, $exp, {variant}, 'u' || u, "
            "$metrics[1 + (i % 5)::INT], (hash(i) % 1000) / 100.0, "
            "$start - 5 * $day + (hash(i * 3) % (20 * $day))::BIGINT, u + 1, "
            f"'acct' || {account} "
            "FROM (SELECT i, hash(i * 7) % $users AS u FROM range($events) t(i))",
            {**params, "events": events, "metrics": list(METRICS)},
        )
        # the unit keys the loader would have given (docs/storage.md)
        con.execute(
            "INSERT INTO unit_keys SELECT 'u' || i, i + 1 FROM range($users) t(i)",
            {"users": users},
        )
        con.execute("CHECKPOINT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--segment", action="store_true", help="a country segment in both")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    clustered = load_experiment(definition(True, args.segment))
    classic = load_experiment(definition(False, args.segment))
    segment = "country" if args.segment else None
    cutoff = datetime(2026, 2, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-") as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        try:
            generate(store, args.users, args.accounts, args.events, args.segment)
            cases = {
                "clustered summary": lambda: store.summary(clustered, cutoff, segment),
                "unclustered summary": lambda: store.summary(classic, cutoff, segment),
            }
            measured = compare(cases, 1, rounds=args.rounds)
            title = (
                f"Cluster summary: {args.users:,} users in {args.accounts:,} accounts, "
                f"{args.events:,} metric events, 3 variants, 5 metrics with CUPED"
                f"{', one segment' if segment else ''}"
            )
            report(title, measured, baseline="unclustered summary")
            sums = store.summary(clustered, cutoff, segment)
            sizes = sums.cluster_sizes or {}
            counts = [f"{v} {int(n):,} ({sizes[v].sum:,.0f} users)" for v, n in sums.units.items()]
            print("clusters per variant: " + ", ".join(counts))
        finally:
            store.close()


if __name__ == "__main__":
    main()
