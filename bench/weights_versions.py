"""Benchmark: the per weights version sums of a sticky experiment against its summary.

Data: the events of bench/cluster_summary.py (users exposed over one day, metric events over
20 days, 5 metrics with CUPED, 3 variants), generated with DuckDB SQL straight into the
store's tables; the experiment is sticky with no design. Cases, run alternately
(bench/harness.py):

* ``summary``: ``DuckDBStore.summary`` (what every look reads);
* ``version sums``: ``DuckDBStore.weights_version_sums`` with two weights changes during the
  exposure day (three versions): the extra query a look of a reweighted sticky experiment
  runs (docs/storage.md, "Weights versions").

Run: ``.venv/bin/python bench/weights_versions.py [--users N] [--events N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster_summary import DAY_MS, START_MS, definition, generate
from harness import compare, report
from splitlab.config import load_experiment
from splitlab.store.duckdb_store import DuckDBStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    raw = definition(False, False)
    raw["assignment"]["sticky"] = True
    experiment = load_experiment(raw)
    boundaries = [START_MS + DAY_MS // 3, START_MS + 2 * DAY_MS // 3]
    cutoff = datetime(2026, 2, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-") as tmp:
        store = DuckDBStore(Path(tmp) / "bench.duckdb")
        try:
            generate(store, args.users, max(args.users // 10, 1), args.events, False)
            cases = {
                "summary": lambda: store.summary(experiment, cutoff),
                "version sums": lambda: store.weights_version_sums(experiment, boundaries, cutoff),
            }
            measured = compare(cases, 1, rounds=args.rounds)
            title = (
                f"Weights version sums: {args.users:,} users, {args.events:,} metric events, "
                "3 variants, 5 metrics with CUPED, 3 versions"
            )
            report(title, measured, baseline="summary")
            parts = store.weights_version_sums(experiment, boundaries, cutoff)
            print("units per version: " + ", ".join(f"{sum(p.units.values()):,.0f}" for p in parts))
        finally:
            store.close()


if __name__ == "__main__":
    main()
