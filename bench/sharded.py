"""The summary on a two-shard ClickHouse cluster, beside one server, chDB and DuckDB.

The events of bench/clickhouse.py (``--units`` units in 3 variants, ``--events`` metric
events over 5 metrics, 5% sent twice) are ingested through four stores: ``DuckDBStore``,
``ClickHouseStore`` on one throwaway Debian ``clickhouse-server`` (18.16), ``ClickHouseStore``
on chDB (the ClickHouse 26 engine in-process, ``chdb:DIR``), and ``ShardedClickHouseStore``
on two throwaway 18.16 servers forming a two-shard cluster (rows sharded by
``cityHash64(unit_id)`` through ``Distributed`` tables; the summary runs on each shard's local
tables in parallel and the sums are added). Then the summary is timed on all four,
alternately (bench/harness.py), after checking that they agree (counts exact, sums within
1e-12 relative). On one machine the two shards share its cores, so the cluster shows the
cost of the layout, not the speed-up of a second machine.

    .venv/bin/python bench/sharded.py [--units 100000] [--events 1000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from clickhouse import experiment, generate
from harness import compare, report
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseStore, LocalServer
from splitlab.store.clickhouse.sharded import LocalCluster, ShardedClickHouseStore


def close_enough(actual: Any, expected: Any, where: str = "$") -> None:
    """Counts (and texts) equal, other numbers within 1e-12 relative (AssertionError)."""
    if isinstance(expected, dict):
        assert set(actual) == set(expected), where
        for key in expected:
            close_enough(actual[key], expected[key], f"{where}.{key}")
    elif not isinstance(expected, int | float) or where.endswith(".n") or ".units." in where:
        assert actual == expected, (where, actual, expected)
    else:
        assert math.isclose(actual, expected, rel_tol=1e-12, abs_tol=0.0), (where, actual)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    exp = experiment()
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-sharded-") as tmp:
        work = Path(tmp)
        with LocalServer(work / "server") as server, LocalCluster(work / "cluster") as cluster:
            stores: dict[str, Any] = {
                "DuckDBStore": DuckDBStore(work / "bench.duckdb"),
                "ClickHouse 18.16, one server": ClickHouseStore(server.url, work / "log1"),
                "ClickHouse 26 on chDB": ClickHouseStore(f"chdb:{work / 'chdb'}", work / "log2"),
                "ClickHouse 18.16, two shards": ShardedClickHouseStore(
                    cluster.urls, work / "log3", cluster=cluster.name
                ),
            }
            try:
                print(f"\nIngest + load ({args.units:,} units, {args.events:,} metric events):")
                for name, store in stores.items():
                    start = time.perf_counter()
                    for batch in generate(1, args.units, args.events):
                        store.ingest(batch)
                    store.flush(timeout=3600)
                    print(f"  {name:<32} {time.perf_counter() - start:>7.1f} s")
                reference = stores["DuckDBStore"].summary(exp).to_dict()
                for name, store in stores.items():
                    close_enough(store.summary(exp).to_dict(), reference, name)
                print("  all four summaries agree (counts exact, sums within 1e-12 relative)\n")
                cases = {
                    name: (lambda s=store: s.summary(exp, segment="country"))
                    for name, store in stores.items()
                }
                report(
                    f"Summary by country over {args.events:,} metric events, {args.units:,} "
                    f"units (median of {args.rounds})",
                    compare(cases, 1, rounds=args.rounds),
                    baseline="DuckDBStore",
                )
            finally:
                for store in stores.values():
                    store.close()


if __name__ == "__main__":
    main()
