"""A vectorised simulator of many Bernoulli bandits at once (the simulation tests' engine).

Each of ``runs`` bandits gets ``batch`` new units per period, split by the weights in force;
their rewards are all observed before the next update (closed windows). Policies: Thompson
sampling as :func:`splitlab.stats.bandit.thompson_update` computes it (same P(best) estimate,
same exploration floor and burn-in), uniform allocation, and epsilon-greedy with a fixed
epsilon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from splitlab.stats.bandit import epsilon, p_best, weights_from

Policy = Literal["thompson", "uniform", "egreedy"]


@dataclass(frozen=True)
class Sim:
    n: NDArray[np.int64]  # (runs, periods, K) units
    s: NDArray[np.int64]  # (runs, periods, K) successes
    w: NDArray[np.float64]  # (runs, periods, K) weights in force

    def regret(self, means: NDArray[np.float64]) -> NDArray[np.float64]:
        """Expected cumulative regret per run: sum of n * (best mean - mean)."""
        gap = means.max() - means
        return np.asarray((self.n * gap).sum(axis=(1, 2)), dtype=np.float64)

    def batches(self, arm: int) -> NDArray[np.float64]:
        """(runs, periods, 3): n, sum, sum_sq of one arm (Bernoulli: sum_sq = sum)."""
        n, s = self.n[..., arm], self.s[..., arm]
        return np.stack([n, s, s], axis=-1).astype(np.float64)


def simulate(
    means: NDArray[np.float64],
    *,
    runs: int,
    periods: int,
    batch: int,
    policy: Policy,
    seed: int,
    initial: float = 0.2,
    decay: float = 0.9,
    minimum: float = 0.02,
    burn_in: int = 1,
    fixed_eps: float = 0.1,
    draws: int = 1000,
) -> Sim:
    rng = np.random.default_rng(seed)
    k = len(means)
    n = np.zeros((runs, periods, k), dtype=np.int64)
    s = np.zeros((runs, periods, k), dtype=np.int64)
    w = np.zeros((runs, periods, k))
    weights = np.full((runs, k), 1.0 / k)
    for t in range(periods):
        w[:, t] = weights
        n[:, t] = rng.multinomial(batch, weights)
        s[:, t] = rng.binomial(n[:, t], means)
        total_n, total_s = n[:, : t + 1].sum(axis=1), s[:, : t + 1].sum(axis=1)
        if policy == "uniform":
            continue
        if policy == "egreedy":
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(total_n > 0, total_s / np.maximum(total_n, 1), np.inf)
            greedy = np.eye(k)[np.argmax(mean, axis=1)]
            weights = (1 - fixed_eps) * greedy + fixed_eps / k
            continue
        # The update at the end of period t is update number t (0-based).
        best = p_best(
            "beta", 1.0 + total_s.astype(float), 1.0 + (total_n - total_s).astype(float),
            draws, rng,
        )  # fmt: skip
        weights = weights_from(best, epsilon(initial, decay, minimum, t), t < burn_in)
    return Sim(n, s, w)
