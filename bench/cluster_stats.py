"""Long simulation of the cluster estimator with fresh seeds (the suite runs fixed seeds).

Runs the A/A and coverage simulations of tests/stats/test_cluster_simulation.py (accounts of
Poisson sizes, mean 10 users, ICC 0.2; cluster sums analysed by splitlab.stats.cluster, CR1
with t(G - 1)) with more runs and a random seed, for several numbers of accounts per arm, and
prints the false-positive rate (cluster and naive per-user test) and the 95% coverage.

    .venv/bin/python bench/cluster_stats.py [RUNS] [CLUSTERS ...]
"""

from __future__ import annotations

import math
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from tests.stats import test_cluster_simulation as sim


def main(argv: list[str]) -> None:
    sim.RUNS = int(argv[0]) if argv else 20_000
    for clusters in [int(a) for a in argv[1:]] or [20, 30, 50, 100]:
        sim.CLUSTERS = clusters
        for binary in (False, True):
            seed = secrets.randbits(32)
            effect = 0.05 if binary else 0.3
            p, naive, _, _ = sim._simulate(seed, binary, 0.0)
            _, _, lower, upper = sim._simulate(seed + 1, binary, effect)
            fpr, naive_fpr = float(np.mean(p < 0.05)), float(np.mean(naive < 0.05))
            coverage = float(np.mean((lower <= effect) & (effect <= upper)))
            se = math.sqrt(0.05 * 0.95 / sim.RUNS)
            print(
                f"{clusters:>4} accounts/arm {'conversion' if binary else 'continuous':>10}: "
                f"false positives {fpr:.4f} (+-{se:.4f}), naive {naive_fpr:.4f}, "
                f"coverage {coverage:.4f} (seed {seed})",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])
