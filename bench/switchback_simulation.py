"""Longer switchback simulations with fresh seeds: HT coverage and A/A level, with and without
burn-in, beside the regression and the naive per-event view.

The marketplace of ``tests/stats/switchback_sim.py`` (AR(1) demand per region, a daily
pattern, carry-over of the previous period's variant into the first slot of six, burn-in of
two slots). For each configuration: the HT 95% interval's coverage of the true effect in the
kept window, and the A/A false-positive rate at alpha = 0.05; without burn-in, the coverage
of the effect over whole periods (what a reader would take the estimate to mean).

Run: ``.venv/bin/python bench/switchback_simulation.py [--runs N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from splitlab.stats.difference import Difference
from tests.stats.switchback_sim import ht_runs, marketplace

Z975 = 1.959963984540054


def _chunk(
    rng: np.random.Generator, runs: int, units: int, periods: int, probs: tuple[float, ...]
) -> tuple[int, int, int]:
    """Covered (with burn-in), covered (without), A/A rejections, in `runs` runs."""
    sim = marketplace(rng, runs, units, periods, probs, lift=0.2)
    diffs = ht_runs(sim.y, sim.variant, probs)
    covered = sum(
        isinstance(d, Difference) and abs(d.estimate - t) <= Z975 * d.se
        for d, t in zip(diffs, sim.true_effect, strict=True)
    )
    whole = sim.true_effect * 6 / 4  # the effect over whole periods (6 slots, 4 kept)
    covered_all = sum(
        isinstance(d, Difference) and abs(d.estimate - t) <= Z975 * d.se
        for d, t in zip(ht_runs(sim.y_all, sim.variant, probs), whole, strict=True)
    )
    null = marketplace(rng, runs, units, periods, probs, lift=0.0)
    rejected = sum(
        isinstance(d, Difference) and d.p_value < 0.05 for d in ht_runs(null.y, null.variant, probs)
    )
    return covered, covered_all, rejected


def _rates(runs: int, seed: int, units: int, periods: int, probs: tuple[float, ...]) -> str:
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // (units * periods * 6))  # about 16 MB per array
    totals = np.zeros(3)
    done = 0
    while done < runs:
        n = min(chunk, runs - done)
        totals += _chunk(rng, n, units, periods, probs)
        done += n
    cover, cover_all, level = totals / runs
    mc = math.sqrt(0.95 * 0.05 / runs)
    return (
        f"{units:>5} {periods:>7} {probs!s:>18} {cover:>9.4f} {cover_all:>12.4f} "
        f"{level:>8.4f}   (runs {runs}, MC s.e. {mc:.4f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=int(np.random.SeedSequence().entropy % 2**31))
    args = parser.parse_args()
    print(f"runs {args.runs}, seed {args.seed}")
    print(
        f"{'units':>5} {'periods':>7} {'weights':>18} {'coverage':>9} {'no burn-in':>12} {'A/A':>8}"
    )
    for units, periods, probs in [
        (1, 336, (0.5, 0.5)),
        (4, 168, (0.5, 0.25, 0.25)),
        (8, 168, (0.5, 0.5)),
        (8, 672, (0.5, 0.5)),
    ]:
        print(_rates(args.runs, args.seed, units, periods, probs), flush=True)


if __name__ == "__main__":
    main()
