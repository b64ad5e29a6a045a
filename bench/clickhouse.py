"""ClickHouse against DuckDB: the same generated events through both stores, in one run.

A throwaway ``clickhouse-server`` (Debian's 18.16) is started in a temporary directory (or
``--url`` names a running one). The same events (``--units`` units in 3 variants, one
exposure each and a few in two variants, ``--events`` metric events over 5 metrics, 5% of
them sent a second time much later) are ingested through ``ClickHouseStore`` and
``DuckDBStore``: both acknowledge from an fsync'd log and load in the background, and the
time to "everything loaded" is reported. Then the summary (conversion with CUPED,
continuous sum with CUPED, count in a window, max, ratio) is timed on both, alternately
(bench/harness.py), and on ClickHouse with each way of deduplicating by ``event_id``: ``FINAL`` on
the ``ReplacingMergeTree`` (the store's default), ``LIMIT 1 BY event_id``, and none at all
(wrong with duplicates present: the floor). The stores' results are checked to be equal.

    .venv-bench/bin/python bench/clickhouse.py [--units 300000] [--events 3000000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from harness import compare, report
from splitlab.config import load_experiment
from splitlab.config.models import Experiment
from splitlab.store import DuckDBStore
from splitlab.store.clickhouse import ClickHouseClient, ClickHouseStore, LocalServer
from splitlab.tracking.events import Event

EXPERIMENT_ID = "bench-ch"
VARIANTS = ("control", "a", "b")
METRICS = ("m0", "m1", "m2", "m3", "m4")
T0 = 1_767_225_600_000
DAY = 86_400_000
CHUNK = 100_000


def experiment() -> Experiment:
    return load_experiment(
        {
            "experimentId": EXPERIMENT_ID,
            "name": "ClickHouse bench",
            "status": "running",
            "trafficAllocation": 1.0,
            "variants": list(VARIANTS),
            "assignment": {"strategy": "consistent_hash", "salt": "bench"},
            "evaluation": {"minSampleSize": 1000},
            "metrics": {
                "primary": {"name": "m0", "type": "conversion", "cuped": True},
                "secondary": [
                    {"name": "m1", "type": "continuous", "cuped": True},
                    {"name": "m2", "type": "continuous", "aggregation": "count",
                     "windowHours": 72},
                    {"name": "m3", "type": "continuous", "aggregation": "max"},
                    {"name": "m1_per_m4", "type": "ratio", "numerator": "m1",
                     "denominator": "m4"},
                ],
            },
        }
    )  # fmt: skip


def generate(seed: int, units: int, events: int) -> Iterator[list[Event]]:
    """Batches of events: exposures first, then metric events, then 5% again (duplicates)."""
    rng = np.random.default_rng(seed)
    t0 = T0 + rng.integers(0, 14 * DAY, units)
    arm = rng.integers(0, 3, units)
    for start in range(0, units, CHUNK):
        batch = [
            Event(f"x{u}", "exposure", EXPERIMENT_ID, VARIANTS[arm[u]], f"u{u}", int(t0[u]),
                  attributes={"country": ("US", "DE", "JP")[u % 3]})
            for u in range(start, min(units, start + CHUNK))
        ]  # fmt: skip
        twice = range(start, min(units, start + CHUNK), 100)
        batch += [
            Event(f"y{u}", "exposure", EXPERIMENT_ID, VARIANTS[(arm[u] + 1) % 3], f"u{u}",
                  int(t0[u]) + DAY)
            for u in twice
        ]  # fmt: skip
        yield batch
    again: list[Event] = []
    for start in range(0, events, CHUNK):
        n = min(CHUNK, events - start)
        unit = rng.integers(0, units, n)
        metric = rng.integers(0, 5, n)
        ts = t0[unit] + rng.integers(-7 * DAY, 7 * DAY, n)
        value = rng.integers(0, 400, n) / 4
        batch = [
            Event(f"e{start + i}", "metric", EXPERIMENT_ID, VARIANTS[arm[unit[i]]],
                  f"u{unit[i]}", int(ts[i]), METRICS[metric[i]], float(value[i]))
            for i in range(n)
        ]  # fmt: skip
        again += batch[::20]
        yield batch
    for start in range(0, len(again), CHUNK):
        yield again[start : start + CHUNK]


def ingest(store: DuckDBStore | ClickHouseStore, seed: int, args: argparse.Namespace) -> float:
    """Seconds from the first event to everything acknowledged and loaded."""
    start = time.perf_counter()
    for batch in generate(seed, args.units, args.events):
        store.ingest(batch)
    store.flush(timeout=3600)
    return time.perf_counter() - start


def generation_only(seed: int, args: argparse.Namespace) -> float:
    start = time.perf_counter()
    for _ in generate(seed, args.units, args.events):
        pass
    return time.perf_counter() - start


def bytes_on_disk(client: ClickHouseClient, db: str) -> int:
    _, rows = client.query(
        f"SELECT sum(bytes) FROM system.parts WHERE database = '{db}' AND active"
    )
    return int(rows[0][0])


def run(url: str, workdir: Path, args: argparse.Namespace) -> None:
    exp = experiment()
    duck = DuckDBStore(workdir / "bench.duckdb")
    house = ClickHouseStore(url, workdir / "ch-log", database="bench")
    stores: dict[str, Any] = {}
    try:
        gen_s = generation_only(1, args)
        duck_s = ingest(duck, 1, args)
        house_s = ingest(house, 1, args)
        total = args.units * 1.01 + args.events * 1.05
        print(f"\nIngest + load ({total:,.0f} events incl. duplicates; generating them in "
              f"Python alone takes {gen_s:.1f} s):")  # fmt: skip
        for name, seconds in (("DuckDBStore", duck_s), ("ClickHouseStore", house_s)):
            print(f"  {name:<18} {seconds:>7.1f} s   {total / seconds:>10,.0f} events/s")
        client = ClickHouseClient(url)
        print(f"  on disk: DuckDB file {(workdir / 'bench.duckdb').stat().st_size / 1e6:,.0f} MB, "
              f"ClickHouse parts {bytes_on_disk(client, 'bench') / 1e6:,.0f} MB")  # fmt: skip
        for dedup in ("limit_by", "none"):
            stores[dedup] = ClickHouseStore(
                url, workdir / f"ch-{dedup}", database="bench", dedup=dedup
            )
        reference = duck.summary(exp).to_dict()
        # Values are multiples of 1/4: both engines' sums are exact, so equal as they are.
        assert house.summary(exp).to_dict() == reference, "the stores disagree"
        assert stores["limit_by"].summary(exp).to_dict() == reference, "LIMIT BY disagrees"
        cases = {
            "DuckDBStore.summary": lambda: duck.summary(exp),
            "ClickHouseStore.summary (FINAL)": lambda: house.summary(exp),
            "ClickHouse, dedup by LIMIT 1 BY event_id": lambda: stores["limit_by"].summary(exp),
            "ClickHouse, no dedup (floor, wrong)": lambda: stores["none"].summary(exp),
            "DuckDBStore.summary, by country": lambda: duck.summary(exp, segment="country"),
            "ClickHouseStore.summary, by country": lambda: house.summary(exp, segment="country"),
        }
        print()
        report(
            f"Summary over {args.events:,} metric events, {args.units:,} units "
            f"(median of {args.rounds})",
            compare(cases, 1, rounds=args.rounds),
            baseline="DuckDBStore.summary",
        )
        client.close()
    finally:
        for store in stores.values():
            store.close()
        house.close()
        duck.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=300_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", help="a running ClickHouse server (default: start one)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="splitlab-bench-ch-") as tmp:
        workdir = Path(tmp)
        if args.url:
            run(args.url, workdir, args)
            return
        with LocalServer(workdir / "server", max_memory=4 << 30) as server:
            run(server.url, workdir, args)


if __name__ == "__main__":
    main()
