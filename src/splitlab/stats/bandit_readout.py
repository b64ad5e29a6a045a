"""A bandit's readout: each arm against the control, valid under adaptive allocation.

A bandit changes its allocation with the data, so the pooled difference of means is biased
and its usual interval does not cover at the stated rate (least of all when arms are nearly
tied). The readout uses the batched OLS statistic of Zhang, Janson & Murphy (2020),
"Inference for batched bandits", NeurIPS: within one batch (units first exposed between two
updates) the allocation is fixed, so the per-batch difference ``d_t`` of arm and control means,
divided by its standard error ``se_t``, is asymptotically N(0, 1) given the past; the sum over
the T batches divided by ``sqrt(T)`` is then N(0, 1) as well, whatever the allocation did.
Inverting

    | sum_t (d_t - delta) / se_t | <= z * sqrt(T)

gives the estimate ``sum(d_t / se_t) / sum(1 / se_t)`` and the interval ``estimate +-
z sqrt(T) / sum(1 / se_t)``.

``se_t = sqrt(s_a^2 / n_{a,t} + s_c^2 / n_{c,t})`` uses each arm's within-batch reward
variance ``s^2`` pooled over *all* its batches (the residual variance of the batch-wise fit;
the BOLS normality needs a consistent variance estimate, and the batch sizes ``n_{a,t}``
carry the adaptivity). Studentising each batch by its own sample
variance instead makes the weights ``1 / se_t`` depend on the batch's own outcomes: for a
conversion, a batch whose control converted less has a smaller variance, a larger weight and
a larger difference, and an arm at the exploration floor has a handful of units per batch.
With the default exploration (floor 0.02) and two tied arms at 0.1 with 1,000 units per
batch, that version covered 91.6 % instead of 95 % (tests/stats/test_bandit_readout_check.py).
The price is an assumption: each arm's reward variance is the same in every batch (as
Thompson sampling's posterior already assumes a stationary mean). When a conversion rate
rose from 5 % to 41 % over 10 batches the interval covered 89 %; with variances pooled over
both arms within each batch instead it covered 95 % there, but 93 % for continuous rewards
whose arms' variances differ by a factor of 4, which the per-arm version covers at 95 %.
A batch where either arm has no unit is left out (T counts the batches used); without any
variance in either arm there is no interval.

The estimated regret is ``sum_t sum_a n_{a,t} (best mean - mean_a)`` with the arms' overall
observed means: the reward given up against serving the best-looking arm to every unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from splitlab.stats.bandit import EMPTY, ArmBatch, totals

__all__ = ["METHOD", "NOTE", "Comparison", "Readout", "batched_difference", "readout"]

METHOD = "batched OLS (Zhang, Janson & Murphy 2020, Inference for batched bandits)"
NOTE = (
    "A bandit optimises the reward: it moves traffic to the arm that looks best. It does not "
    "test a hypothesis at a fixed error rate; the readout's intervals are valid under its "
    "adaptive allocation, but no ship decision is taken from them."
)


@dataclass(frozen=True, slots=True)
class Comparison:
    arm: str
    control: str
    estimate: float | None
    lower: float | None
    upper: float | None
    batches: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "control": self.control,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "batches": self.batches,
        }


@dataclass(frozen=True, slots=True)
class Readout:
    method: str
    comparisons: list[Comparison]
    regret: float
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "regret": self.regret,
            "note": self.note,
        }


def _pooled_var(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each arm's within-batch reward variance pooled over all its batches (shape (...,) from
    (..., T, 3)): ``sum_t (ss_t - s_t^2 / n_t) / (sum_t n_t - batches with units)``, the
    residual variance of the per-batch means, so a baseline that drifts between batches
    does not inflate it."""
    n, s, ss = x[..., 0], x[..., 1], x[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        within = np.where(n > 0, ss - s * s / np.where(n > 0, n, 1.0), 0.0).sum(axis=-1)
        df = n.sum(axis=-1) - (n > 0).sum(axis=-1)
        var = np.where(df > 0, within / np.where(df > 0, df, 1.0), np.nan)
    return np.asarray(np.maximum(var, 0.0), dtype=np.float64)


def batched_difference(
    arm: NDArray[np.float64], control: NDArray[np.float64], alpha: float = 0.05
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Estimate, lower, upper and batches used, vectorised.

    `arm` and `control` have shape (..., T, 3): per batch ``n, sum, sum_sq``. NaN where no
    batch is usable.
    """
    na, nc = arm[..., 0], control[..., 0]
    va = _pooled_var(arm)[..., None]
    vc = _pooled_var(control)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        d_all = arm[..., 1] / na - control[..., 1] / nc
        se = np.sqrt(va / na + vc / nc)
        usable = (na >= 1) & (nc >= 1) & (se > 0) & np.isfinite(se)
        inv = np.where(usable, 1.0 / np.where(usable, se, 1.0), 0.0)
        d = np.where(usable, d_all, 0.0)
        weight = inv.sum(axis=-1)
        t = usable.sum(axis=-1)
        estimate = (d * inv).sum(axis=-1) / weight
        half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(t) / weight
    nan = np.nan
    estimate = np.where(t > 0, estimate, nan)
    half = np.where(t > 0, half, nan)
    return estimate, estimate - half, estimate + half, t


def _as_array(batches: Sequence[Mapping[str, ArmBatch]], arm: str) -> NDArray[np.float64]:
    return np.array(
        [[b.get(arm, EMPTY).n, b.get(arm, EMPTY).sum, b.get(arm, EMPTY).sum_sq] for b in batches],
        dtype=np.float64,
    ).reshape(len(batches), 3)


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def readout(
    batches: Sequence[Mapping[str, ArmBatch]], arms: Sequence[str], alpha: float = 0.05
) -> Readout:
    """Each arm against the control (the first arm), and the estimated regret."""
    control = arms[0]
    c = _as_array(batches, control)
    comparisons = []
    for arm in arms[1:]:
        est, lo, hi, t = batched_difference(_as_array(batches, arm), c, alpha)
        comparisons.append(
            Comparison(arm, control, _num(float(est)), _num(float(lo)), _num(float(hi)), int(t))
        )
    return Readout(METHOD, comparisons, regret(batches, arms), NOTE)


def regret(batches: Sequence[Mapping[str, ArmBatch]], arms: Sequence[str]) -> float:
    """The estimated regret (see the module docstring); 0 without data."""
    total = totals(batches, arms)
    means = {a: total[a].sum / total[a].n for a in arms if total[a].n}
    if not means:
        return 0.0
    best = max(means.values())
    return float(sum(total[a].n * (best - means[a]) for a in means))
