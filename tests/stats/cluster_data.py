"""Users within accounts for the cluster tests: raw rows and the cluster sums the store sends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from splitlab.stats import ArmSums


@dataclass(frozen=True)
class Rows:
    """One row per analysis unit: its cluster, the cluster's arm, and per-unit values."""

    cluster: np.ndarray  # cluster index per row (0..G-1)
    treated: np.ndarray  # 0/1 per row (constant within a cluster)
    y: np.ndarray
    x: np.ndarray  # pre-exposure covariate per row
    den: np.ndarray  # ratio metrics: per-row denominator


def users_in_accounts(
    rng: np.random.Generator,
    clusters: tuple[int, int] = (40, 45),
    mean_size: float = 8.0,
    icc: float = 0.2,
    effect: float = 0.0,
    binary: bool = False,
) -> Rows:
    """Accounts of Poisson-varying size (>= 1), a random account effect giving `icc`."""
    g = sum(clusters)
    sizes = 1 + rng.poisson(mean_size - 1, g)
    treated_c = np.r_[np.zeros(clusters[0]), np.ones(clusters[1])]
    cluster = np.repeat(np.arange(g), sizes)
    treated = treated_c[cluster]
    u = rng.normal(0.0, np.sqrt(icc), g)[cluster]
    x = u + rng.normal(0.0, np.sqrt(1 - icc), cluster.size) + 3.0
    y = 0.7 * (x - 3.0) + 0.5 * u + rng.normal(0.0, 0.8, cluster.size) + 5.0 + effect * treated
    if binary:
        y = (rng.random(cluster.size) < 1 / (1 + np.exp(-(y - 5.5)))).astype(float)
    den = 1.0 + rng.poisson(2.0 + np.abs(u), cluster.size)
    return Rows(cluster, treated, y, x, den.astype(float))


def totals(rows: Rows, values: np.ndarray) -> np.ndarray:
    """Per-cluster totals of per-row values."""
    return np.bincount(rows.cluster, weights=values, minlength=int(rows.cluster.max()) + 1)


def arm_sums(
    rows: Rows, arm: int, ratio: bool = False, covariate: bool = False
) -> tuple[ArmSums, ArmSums]:
    """Contract 2's sums of one arm (metric, and cluster sizes) from the raw rows."""
    in_arm = totals(rows, (rows.treated == arm).astype(float)) > 0
    y_c = totals(rows, rows.y)[in_arm]
    m_c = totals(rows, np.ones_like(rows.y))[in_arm]
    d_c = totals(rows, rows.den)[in_arm] if ratio else m_c
    x_c = totals(rows, rows.x)[in_arm] if covariate else None
    return ArmSums.from_values(y_c, x_c, d_c), ArmSums.from_values(m_c)
