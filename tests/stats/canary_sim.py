"""Vectorised canary simulations: per-interval sums of many runs, judged by the same code as
``splitlab.stats.canary.judge`` (the per-kind array functions, the boundary, the verdict)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from splitlab.stats import canary_boundary as cb
from splitlab.stats import canary_means as cm
from splitlab.stats.canary import verdict_codes

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]


def proportion_sums(
    rng: np.random.Generator, runs: int, intervals: int, requests: int, p: float
) -> tuple[Floats, Floats]:
    """Cumulative (n, errors) per run and look: one 0/1 event per request."""
    x = np.cumsum(rng.binomial(requests, p, (runs, intervals)), axis=1).astype(float)
    n = np.broadcast_to(np.arange(1, intervals + 1, dtype=float) * requests, x.shape)
    return np.array(n), x


def normal_sums(
    rng: np.random.Generator, runs: int, intervals: int, requests: int, mean: float, sd: float
) -> tuple[Floats, Floats, Floats]:
    """Cumulative (n, sum, sum of squares) per run and look of normal values, drawn exactly:
    per interval the sum is N(m mu, m sd^2) and the centred sum of squares sd^2 chi2_{m-1},
    independent of it (Cochran's theorem)."""
    total = rng.normal(requests * mean, sd * np.sqrt(requests), (runs, intervals))
    centred = sd * sd * rng.chisquare(requests - 1, (runs, intervals))
    squares = centred + total * total / requests
    n = np.broadcast_to(np.arange(1, intervals + 1, dtype=float) * requests, total.shape)
    return np.array(n), np.cumsum(total, axis=1), np.cumsum(squares, axis=1)


def judge_mean_kind(
    baseline: cm.ArmArrays,
    canary: cm.ArmArrays,
    *,
    proportion: bool,
    relative: bool,
    tolerance: float,
    bad_direction: str,
    level: float,
    min_requests: int,
) -> Ints:
    """Verdict codes per run and look (FAIL -1, MARGINAL 0, PASS 1)."""
    est, var, _, _ = cm.effect(baseline, canary, proportion, relative)
    r = cb.information_ratio(
        cb.effective_n(baseline.n, canary.n), cb.target_effective_n(min_requests), level
    )
    half = cb.critical(r, level) * np.sqrt(var)
    return verdict_codes(est - half, est + half, tolerance, bad_direction)


def share_with_se(hits: NDArray[np.bool_]) -> tuple[float, float]:
    """The share of runs with a hit and its Monte Carlo standard error."""
    share = float(np.mean(hits))
    return share, float(np.sqrt(max(share * (1 - share), 1e-12) / hits.size))
