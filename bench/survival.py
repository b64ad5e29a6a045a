"""Kaplan-Meier, RMST with its variance and the drawn curve of one arm, beside lifelines.

Per arm size n: exponential times (mean 40 h), staggered entry over a week (follow-up
uniform 0-168 h), horizon 72 h, durations at millisecond resolution (so nearly every unit has
its own time). splitlab works on the arm's survival table (what the store returns); the
baseline is lifelines' KaplanMeierFitter on the units' durations followed by
restricted_mean_survival_time (the estimate only: lifelines has no variance of the
estimator). The table is built once, outside the timing, as the store builds it. Both
estimates are printed so that they can be compared.

    .venv/bin/python bench/survival.py [--rounds 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from functools import partial

import numpy as np
from lifelines import KaplanMeierFitter
from lifelines.utils import restricted_mean_survival_time

from splitlab.stats.survival import km_curve, rmst
from splitlab.stats.survival_table import SurvivalTable

TAU = 72.0


def data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    event = rng.exponential(40.0, n)
    limit = np.minimum(rng.uniform(0.0, 168.0, n), TAU)
    return np.round(np.minimum(event, limit), 6), event <= limit


def table(t: np.ndarray, seen: np.ndarray) -> SurvivalTable:
    times, inv = np.unique(t, return_inverse=True)
    return SurvivalTable(
        tuple(times.tolist()),
        tuple(np.bincount(inv, weights=seen).tolist()),
        tuple(np.bincount(inv, weights=~seen).tolist()),
    )


def ours(tab: SurvivalTable) -> float:
    r = rmst(tab, TAU)
    km_curve(tab, TAU)
    return r.estimate


def baseline(t: np.ndarray, seen: np.ndarray) -> float:
    kmf = KaplanMeierFitter().fit(t, event_observed=seen)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(restricted_mean_survival_time(kmf, t=TAU))


def timed(fn: Callable[[], float], rounds: int) -> tuple[float, float]:
    """(median seconds, last value)."""
    spent: list[float] = []
    value = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        value = fn()
        spent.append(time.perf_counter() - start)
    return statistics.median(spent), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"seed {args.seed}, tau {TAU:g} h, medians of {args.rounds} rounds")
    head = f"{'units':>10} {'times':>10} {'case':<44} {'seconds':>9} {'vs lifelines':>13}"
    print(head + f" {'RMST (h)':>12}")
    for n in (10_000, 100_000, 1_000_000):
        t, seen = data(rng, n)
        tab = table(t, seen)

        base_s, base_v = timed(partial(baseline, t, seen), args.rounds)
        ours_s, ours_v = timed(partial(ours, tab), args.rounds)
        rows = [
            ("lifelines fit + RMST (no variance)", base_s, base_v),
            ("splitlab rmst + variance + km_curve", ours_s, ours_v),
        ]
        for case, sec, value in rows:
            ratio = f"{sec / base_s:.2f}x time"
            print(
                f"{n:>10,} {len(tab.times):>10,} {case:<44} {sec:>9.3f} {ratio:>13} {value:>12.6f}"
            )


if __name__ == "__main__":
    main()
