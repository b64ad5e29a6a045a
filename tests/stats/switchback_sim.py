"""A simulated marketplace for switchback tests: AR(1) demand, carry-over, burn-in.

Every array has the runs first, so that thousands of experiments are drawn at once. Time is
cut into periods of ``slots`` equal slots; the first ``carry_slots`` slots of a period still
feel the previous period's variant (carry-over), and the first ``burn_slots`` slots are left
out of the cell outcome (burn-in), as the store does with ``burnInSeconds``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from splitlab.stats.difference import Difference, NotEstimable
from splitlab.stats.sums import ArmSums
from splitlab.stats.switchback import horvitz_thompson

Array = npt.NDArray[np.float64]


def ar1_demand(
    rng: np.random.Generator, runs: int, units: int, periods: int, phi: float, sd: float
) -> Array:
    """Log-demand shocks, AR(1) across periods (stationary from the first period)."""
    eps = rng.normal(0.0, sd, (runs, units, periods))
    shock = np.empty_like(eps)
    shock[..., 0] = eps[..., 0] / np.sqrt(1.0 - phi * phi)
    for t in range(1, periods):
        shock[..., t] = phi * shock[..., t - 1] + eps[..., t]
    return shock


@dataclass(frozen=True)
class Marketplace:
    """Cell outcomes with burn-in (``y``), without (``y_all``), the variants and the truth."""

    variant: npt.NDArray[np.int64]  # (runs, units, periods)
    y: Array
    y_all: Array
    true_effect: Array  # (runs,): mean over cells of Y_c(1) - Y_c(0) in the kept window


def marketplace(
    rng: np.random.Generator,
    runs: int,
    units: int,
    periods: int,
    probabilities: tuple[float, ...],
    lift: float,
    *,
    slots: int = 6,
    carry_slots: int = 1,
    burn_slots: int = 2,
    phi: float = 0.7,
    sd: float = 0.3,
) -> Marketplace:
    """Orders per cell; variant 1 multiplies demand by ``1 + lift`` (the others by 1)."""
    level = 40.0 * np.exp(
        ar1_demand(rng, runs, units, periods, phi, sd)
        + rng.normal(0.0, 0.5, (runs, units, 1))  # regions differ in size
        + 0.5 * np.sin(2 * np.pi * np.arange(periods) / 24.0)  # a daily pattern
    )
    variant = rng.choice(len(probabilities), size=(runs, units, periods), p=probabilities)
    before = rng.choice(len(probabilities), size=(runs, units, 1), p=probabilities)
    previous = np.concatenate([before, variant[..., :-1]], axis=-1)
    slot = np.arange(slots)
    in_effect = np.where(slot < carry_slots, (previous == 1)[..., None], (variant == 1)[..., None])
    base = level[..., None] / slots * rng.gamma(4.0, 0.25, (runs, units, periods, slots))
    observed = base * (1.0 + lift * in_effect)
    kept = base[..., burn_slots:].sum(-1)
    return Marketplace(
        variant,
        observed[..., burn_slots:].sum(-1),
        observed.sum(-1),
        (kept * lift).mean(axis=(1, 2)),
    )


def ht_runs(
    y: Array, variant: npt.NDArray[np.int64], probabilities: tuple[float, ...], treated: int = 1
) -> list[Difference | NotEstimable]:
    """The production HT estimator on each run's cells (variant `treated` against 0)."""
    out: list[Difference | NotEstimable] = []
    runs = y.shape[0]
    flat_y = y.reshape(runs, -1)
    flat_v = variant.reshape(runs, -1)
    cells = float(flat_y.shape[1])
    sums = {}
    for arm in (0, treated):
        mask = flat_v == arm
        sums[arm] = (mask.sum(1), (flat_y * mask).sum(1), (flat_y**2 * mask).sum(1))
    for r in range(runs):
        c = ArmSums(float(sums[0][0][r]), float(sums[0][1][r]), float(sums[0][2][r]))
        t = ArmSums(*(float(s[r]) for s in sums[treated]))
        out.append(horvitz_thompson(c, t, probabilities[0], probabilities[treated], cells))
    return out
