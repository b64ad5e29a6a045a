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

``--design capped``: m1 capped at its 99th percentile (value and CUPED covariate): on two
shards the caps are an exact order statistic found in two rounds over every shard's units,
then the summary runs with them (docs/clickhouse.md, "Percentile caps").

``--design cluster``: the same events with every unit in one of ``--units / 10`` accounts
(``clusterId``; an account's exposures all in one variant, the repeated exposures in
another), summarised as a cluster design (sums over accounts). On two shards each shard
sends its per-account partial totals, which are added per account and summed on the entry
(docs/clickhouse.md, "A sharded cluster").

    .venv/bin/python bench/sharded.py [--units 100000] [--events 1000000] [--rounds 5]
        [--design classic|cluster|capped]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from clickhouse import VARIANTS, experiment, generate
from harness import compare, report
from splitlab.config import load_experiment
from splitlab.config.models import Experiment
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


def cluster_experiment() -> Experiment:
    """bench/clickhouse.py's experiment as a cluster design (accounts randomised)."""
    raw = experiment().model_dump(by_alias=True, exclude_none=True, mode="json")
    raw["design"] = {"type": "cluster", "analysisUnit": "userId"}
    raw["assignment"]["hashKey"] = "accountId"
    return load_experiment(raw)


def capped_experiment() -> Experiment:
    """bench/clickhouse.py's experiment with m1 (CUPED) capped at its 99th percentile, value
    and covariate (two percentile caps found over every unit)."""
    raw = experiment().model_dump(by_alias=True, exclude_none=True, mode="json")
    m1 = raw["metrics"]["secondary"][0]
    m1["cap"] = {"type": "percentile", "percentile": 99}
    m1["covariateCap"] = {"type": "percentile", "percentile": 99}
    return load_experiment(raw)


def in_accounts(batches: Iterator[list[Any]], accounts: int) -> Iterator[list[Any]]:
    """The events with unit ``u{k}`` in account ``a{k % accounts}``; first exposures in the
    account's variant (the repeated ones keep theirs: those units' accounts are dropped)."""
    for batch in batches:
        out = []
        for e in batch:
            account = int(e.unit_id[1:]) % accounts
            variant = e.variant
            if e.type == "exposure" and e.event_id.startswith("x"):
                variant = VARIANTS[account % len(VARIANTS)]
            out.append(msgspec.structs.replace(e, cluster_id=f"a{account}", variant=variant))
        yield out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--design", choices=["classic", "cluster", "capped"], default="classic")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    clustered = args.design == "cluster"
    exp = {"classic": experiment, "cluster": cluster_experiment, "capped": capped_experiment}[
        args.design
    ]()
    accounts = max(args.units // 10, 1)
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
                    batches = generate(1, args.units, args.events)
                    for batch in in_accounts(batches, accounts) if clustered else batches:
                        store.ingest(batch)
                    store.flush(timeout=3600)
                    print(f"  {name:<32} {time.perf_counter() - start:>7.1f} s")
                duck = stores["DuckDBStore"].summary(exp)
                reference, caps = duck.to_dict(), [c.to_dict() for c in duck.capping]
                for name, store in stores.items():
                    sums = store.summary(exp)
                    close_enough(sums.to_dict(), reference, name)
                    assert [c.to_dict() for c in sums.capping] == caps, name
                print("  all four summaries agree (counts exact, sums within 1e-12 relative)")
                arms = ", ".join(f"{v} {n:,.0f}" for v, n in reference["units"].items())
                print(f"  {'clusters' if clustered else 'units'} per arm: {arms}\n")
                cases = {
                    name: (lambda s=store: s.summary(exp, segment="country"))
                    for name, store in stores.items()
                }
                what = f"{accounts:,} accounts of " if clustered else ""
                report(
                    f"{args.design.capitalize()} summary by country over {args.events:,} "
                    f"metric events, {what}{args.units:,} units (median of {args.rounds})",
                    compare(cases, 1, rounds=args.rounds),
                    baseline="DuckDBStore",
                )
            finally:
                for store in stores.values():
                    store.close()


if __name__ == "__main__":
    main()
