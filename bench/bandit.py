"""One bandit update's statistics against the same draws in bare numpy, side by side; then
the SQL and the registry write of an update, timed separately.

    .venv/bin/python bench/bandit.py [--arms 5] [--draws 10000] [--units 100000]

The statistics are :func:`splitlab.stats.bandit.thompson_update` (posteriors from per-batch
sums, ``draws`` joint Beta draws, P(best), exploration floor and weights); the baseline is
the same Beta draws, argmax and bincount written directly in numpy. The SQL is
``DuckDBStore.bandit_data`` over ``units`` exposed units in 10 batches; the write is
``BanditUpdater.update`` minus both.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from splitlab.config import load_experiment
from splitlab.evaluation.bandit import BanditUpdater
from splitlab.stats.bandit import ArmBatch, thompson_update
from splitlab.store import DuckDBStore
from splitlab.store.registry import Registry
from splitlab.tracking.events import Event

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stats_side_by_side(arms: int, draws: int, repeat: int) -> None:
    rng = np.random.default_rng(1)
    names = [f"arm{k}" for k in range(arms)]
    batches = [
        {a: ArmBatch(n := int(rng.integers(500, 2000)), float(rng.binomial(n, 0.1)), 0.0)
         for a in names}
        for _ in range(10)
    ]  # fmt: skip
    for b in batches:
        for a in names:
            b[a] = ArmBatch(b[a].n, b[a].sum, b[a].sum)

    def ours() -> object:
        return thompson_update(
            batches, names, "conversion", t=3, burn_in_updates=1, initial=0.2, decay=0.9,
            minimum=0.02, draws=draws, seed=7,
        )  # fmt: skip

    def bare() -> object:
        n = np.array([sum(b[a].n for b in batches) for a in names], dtype=float)
        s = np.array([sum(b[a].sum for b in batches) for a in names])
        x = np.random.default_rng(7).beta(1 + s, 1 + n - s, size=(draws, arms))
        p = np.bincount(np.argmax(x, axis=1), minlength=arms) / draws
        eps = max(0.02, 0.2 * 0.9**3)
        return (1 - eps) * p + eps / arms

    ours()
    bare()
    a, b = best_of(ours, repeat), best_of(bare, repeat)
    print(f"statistics of one update ({arms} arms, {draws} draws, median of {repeat}):")
    print(f"  splitlab thompson_update   {a * 1000:8.2f} ms")
    print(f"  bare numpy (same draws)    {b * 1000:8.2f} ms")
    print(f"  ratio                      {a / b:8.2f}x")


def sql_and_write(arms: int, units: int) -> None:
    names = [f"arm{k}" for k in range(arms)]
    raw = {
        "experimentId": "bench-bandit",
        "status": "running",
        "variants": names,
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
        "metrics": {"primary": {"name": "buy", "type": "conversion", "windowHours": 1}},
        "design": {"type": "bandit"},
    }
    rng = np.random.default_rng(2)
    events: list[Event] = []
    span = 10 * 3_600_000
    base = int(T0.timestamp() * 1000)
    for i in range(units):
        arm = names[i % arms]
        ts = base + int(rng.integers(0, span))
        events.append(Event(f"x{i}", "exposure", "bench-bandit", arm, f"u{i}", ts))
        if rng.random() < 0.1:
            events.append(Event(f"m{i}", "metric", "bench-bandit", arm, f"u{i}", ts + 60_000,
                                metric="buy", value=1.0))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, DuckDBStore(Path(tmp) / "b.duckdb") as store:
        for k in range(0, len(events), 50_000):
            store.ingest(events[k : k + 50_000])
        registry = Registry.for_store(store)
        registry.create(load_experiment(raw), at=T0)
        experiment = registry.get("bench-bandit")
        boundaries = [base + h * 3_600_000 for h in range(1, 10)]
        now = T0 + timedelta(hours=11)
        store.flush()
        sql = best_of(lambda: store.bandit_data(experiment, boundaries, now), 5)
        updater = BanditUpdater(store, registry, clock=lambda: now)
        start = time.perf_counter()
        updater.update(experiment, now)
        whole = time.perf_counter() - start
    print(f"one update over {units} units in 10 batches:")
    print(f"  SQL (bandit_data, median of 5)         {sql * 1000:8.1f} ms")
    print(f"  whole update (SQL + stats + write)     {whole * 1000:8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arms", type=int, default=5)
    parser.add_argument("--draws", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    stats_side_by_side(args.arms, args.draws, args.repeat)
    sql_and_write(args.arms, args.units)


if __name__ == "__main__":
    main()
