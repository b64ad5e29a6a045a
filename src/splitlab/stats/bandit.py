"""Thompson sampling for a bandit's weights, and the sample-ratio check of each update.

Inputs are per update batch (units grouped by the period of their first exposure, the
boundaries being the update times) and per arm: the reward sums ``n, sum, sum_sq`` over units
whose reward window has closed (:class:`ArmBatch`). From them:

* the posterior of each arm's mean reward: ``Beta(1 + s, 1 + f)`` for a conversion (s
  successes out of n; the uniform prior), and ``N(mean, var / n)`` for a continuous reward
  (the normal approximation with the sample variance; an arm with fewer than 2 units gets the
  pooled mean and variance of all units, i.e. it is as uncertain as one unit);
* ``P(best)`` per arm: the share of ``draws`` joint posterior draws in which that arm has the
  largest mean (Thompson 1933; Chapelle & Li 2011 use the same Monte Carlo estimate), from a
  recorded seed so that an update can be replayed;
* the weights ``(1 - eps_t) P(best) + eps_t / K`` with ``eps_t = max(minimum, initial *
  decay**t)``, equal weights during burn-in. ``eps_t >= minimum > 0`` keeps every arm's share
  at least ``minimum / K``, which bounds the inverse propensities the readout relies on;
* the SRM check of one period (:func:`sequential_srm`): the units newly exposed in it against
  the weights in force then, with the anytime-valid Dirichlet-multinomial test of Lindon &
  Malek (2022), "Anytime-valid inference for multinomial count data", NeurIPS.

The readout under adaptive allocation is in :mod:`splitlab.stats.bandit_readout`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import special

__all__ = [
    "ArmBatch",
    "Posterior",
    "SrmCheck",
    "ThompsonUpdate",
    "epsilon",
    "p_best",
    "posteriors",
    "sequential_srm",
    "thompson_update",
    "update_seed",
    "weights_from",
]

RewardKind = Literal["conversion", "continuous"]
#: The Dirichlet prior of the SRM test is ``CONCENTRATION * expected shares`` (Lindon & Malek
#: 2022 use a prior centred on the null; larger values detect small imbalances sooner).
CONCENTRATION = 100.0


@dataclass(frozen=True, slots=True)
class ArmBatch:
    """One arm's reward sums in one batch: units (``n``), the sum and the sum of squares."""

    n: int
    sum: float
    sum_sq: float

    def __add__(self, other: ArmBatch) -> ArmBatch:
        return ArmBatch(self.n + other.n, self.sum + other.sum, self.sum_sq + other.sum_sq)

    def to_dict(self) -> dict[str, float]:
        return {"n": self.n, "sum": self.sum, "sumSq": self.sum_sq}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ArmBatch:
        return cls(int(raw["n"]), float(raw["sum"]), float(raw["sumSq"]))


EMPTY = ArmBatch(0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Posterior:
    """An arm's posterior of its mean reward: Beta(a, b) or Normal(mean, sd)."""

    family: Literal["beta", "normal"]
    a: float  # beta: alpha; normal: mean
    b: float  # beta: beta; normal: standard deviation

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b) if self.family == "beta" else self.a

    def to_dict(self) -> dict[str, Any]:
        if self.family == "beta":
            return {"family": "beta", "alpha": self.a, "beta": self.b}
        return {"family": "normal", "mean": self.a, "sd": self.b}


def totals(batches: Sequence[Mapping[str, ArmBatch]], arms: Sequence[str]) -> dict[str, ArmBatch]:
    """Each arm's sums over every batch."""
    out = dict.fromkeys(arms, EMPTY)
    for batch in batches:
        for arm in arms:
            out[arm] = out[arm] + batch.get(arm, EMPTY)
    return out


def posteriors(
    sums: Mapping[str, ArmBatch], arms: Sequence[str], kind: RewardKind
) -> dict[str, Posterior]:
    """Each arm's posterior from its sums over every batch (see the module docstring)."""
    if kind == "conversion":
        return {
            arm: Posterior("beta", 1.0 + sums[arm].sum, 1.0 + sums[arm].n - sums[arm].sum)
            for arm in arms
        }
    n = sum(sums[a].n for a in arms)
    s = sum(sums[a].sum for a in arms)
    ss = sum(sums[a].sum_sq for a in arms)
    pooled_mean = s / n if n else 0.0
    pooled_var = (ss - n * pooled_mean**2) / (n - 1) if n > 1 else 1.0
    pooled_var = pooled_var if pooled_var > 0 else 1.0
    out: dict[str, Posterior] = {}
    for arm in arms:
        k = sums[arm]
        if k.n < 2:
            out[arm] = Posterior("normal", pooled_mean, float(np.sqrt(pooled_var)))
            continue
        mean = k.sum / k.n
        var = max((k.sum_sq - k.n * mean**2) / (k.n - 1), 0.0)
        var = var if var > 0 else pooled_var / k.n  # all equal values: not certainty
        out[arm] = Posterior("normal", mean, float(np.sqrt(var / k.n)))
    return out


def p_best(
    family: Literal["beta", "normal"],
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    draws: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """P(best) per arm from `draws` joint posterior draws; `a`, `b` of shape (..., K).

    Vectorised over leading dimensions (the simulations run thousands of bandits at once).
    """
    shape = (draws, *a.shape)
    samples = rng.beta(a, b, size=shape) if family == "beta" else rng.normal(a, b, size=shape)
    best = np.argmax(samples, axis=-1)
    k = a.shape[-1]
    if a.ndim == 1:
        counts = np.bincount(best, minlength=k)
    else:
        counts = (best[..., None] == np.arange(k)).sum(axis=0)
    return np.asarray(counts / draws, dtype=np.float64)


def epsilon(initial: float, decay: float, minimum: float, t: int) -> float:
    """The exploration share at update ``t`` (0 for the first): ``max(minimum, initial *
    decay**t)``."""
    return float(max(minimum, initial * decay**t))


def weights_from(
    best: NDArray[np.float64], eps: float | NDArray[np.float64], burn_in: bool
) -> NDArray[np.float64]:
    """``(1 - eps) * P(best) + eps / K``, or equal weights in burn-in (shape (..., K))."""
    k = best.shape[-1]
    if burn_in:
        return np.full_like(best, 1.0 / k)
    e = np.asarray(eps, dtype=np.float64)
    if e.ndim:
        e = e[..., None]
    return np.asarray((1.0 - e) * best + e / k, dtype=np.float64)


def update_seed(experiment_id: str, version: int) -> int:
    """A deterministic seed for update `version` of `experiment_id` (recorded with it)."""
    digest = hashlib.sha256(f"{experiment_id}\x00bandit\x00{version}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True, slots=True)
class ThompsonUpdate:
    """One update's outputs: posteriors, P(best) and the new weights, by arm."""

    posterior: dict[str, Posterior]
    p_best: dict[str, float]
    weights: dict[str, float]
    epsilon: float
    burn_in: bool
    seed: int
    draws: int


def thompson_update(
    batches: Sequence[Mapping[str, ArmBatch]],
    arms: Sequence[str],
    kind: RewardKind,
    *,
    t: int,
    burn_in_updates: int,
    initial: float,
    decay: float,
    minimum: float,
    draws: int,
    seed: int,
) -> ThompsonUpdate:
    """The update number `t` (0-based; also the exploration's exponent) from `batches`."""
    post = posteriors(totals(batches, arms), arms, kind)
    family = post[arms[0]].family
    a = np.array([post[arm].a for arm in arms])
    b = np.array([post[arm].b for arm in arms])
    best = p_best(family, a, b, draws, np.random.default_rng(seed))
    eps = epsilon(initial, decay, minimum, t)
    burn_in = t < burn_in_updates
    w = weights_from(best, eps, burn_in)
    return ThompsonUpdate(
        posterior=post,
        p_best={arm: float(p) for arm, p in zip(arms, best, strict=True)},
        weights={arm: float(x) for arm, x in zip(arms, w, strict=True)},
        epsilon=eps,
        burn_in=burn_in,
        seed=seed,
        draws=draws,
    )


@dataclass(frozen=True, slots=True)
class SrmCheck:
    """The SRM check of the units newly exposed in one period (or over all periods)."""

    p_value: float | None
    detected: bool
    counts: dict[str, int]
    expected: dict[str, float]
    log_bayes_factor: float
    #: The largest running log Bayes factor so far: the p-value is ``1 / exp`` of it, the
    #: running minimum of ``1 / Π BF``, so a detection is never undone by later data.
    max_log_bayes_factor: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "pValue": self.p_value,
            "detected": self.detected,
            "counts": dict(self.counts),
            "expected": dict(self.expected),
            "logBayesFactor": self.log_bayes_factor,
            "maxLogBayesFactor": self.max_log_bayes_factor,
        }


def log_bayes_factor(
    counts: Sequence[float], shares: Sequence[float], concentration: float = CONCENTRATION
) -> float:
    """log of the Dirichlet-multinomial mixture over the multinomial likelihood at the null.

    ``BF = Γ(Σα) / Γ(Σα + n) · Π Γ(α_i + x_i) / Γ(α_i) / Π p_i^{x_i}`` with ``α = c · p``
    (Lindon & Malek 2022, eq. for the Dirichlet-multinomial mixture; the multinomial
    coefficients cancel). Under the null it is a nonnegative martingale with mean 1, so
    ``min(1, 1 / BF)`` is an anytime-valid p-value (Ville's inequality). Arms with a zero
    share are left out (a unit in one is an SRM by itself; see :func:`sequential_srm`).
    """
    x = np.asarray(counts, dtype=np.float64)
    p = np.asarray(shares, dtype=np.float64)
    p = p / p.sum()
    alpha = concentration * p
    n = x.sum()
    return float(
        special.gammaln(alpha.sum())
        - special.gammaln(alpha.sum() + n)
        + np.sum(special.gammaln(alpha + x) - special.gammaln(alpha))
        - np.sum(x * np.log(p))
    )


def sequential_srm(
    counts: Mapping[str, int],
    weights: Mapping[str, float],
    threshold: float,
    previous_log_bf: float = 0.0,
    previous_max_log_bf: float = 0.0,
) -> SrmCheck:
    """The SRM check of one period's newly exposed units against that period's weights.

    `previous_log_bf` carries the product of the earlier periods' Bayes factors: each period's
    factor has conditional mean 1 under the null given the past, so the running product is an
    e-process over the whole bandit and its p-value ``min(1, 1 / Π BF)`` stays valid however
    often it is looked at. The result's p-value is the anytime-valid one, ``min over s <= t of
    1 / Π_s BF`` (Ville's inequality bounds the chance that the product EVER reaches 1/alpha),
    carried as `previous_max_log_bf`: a later balanced period cannot undo a detection.
    """
    arms = list(weights)
    total_w = sum(weights.values())
    shares = {a: weights[a] / total_w for a in arms}
    n = sum(counts.get(a, 0) for a in arms)
    expected = {a: n * shares[a] for a in arms}
    obs = {a: int(counts.get(a, 0)) for a in arms}
    if any(shares[a] <= 0 and obs[a] > 0 for a in arms):
        return SrmCheck(0.0, True, obs, expected, float("inf"), float("inf"))
    live = [a for a in arms if shares[a] > 0]
    log_bf = previous_log_bf
    if n > 0:
        log_bf += log_bayes_factor([obs[a] for a in live], [shares[a] for a in live])
    best = max(previous_max_log_bf, log_bf)
    seen = n > 0 or previous_log_bf or previous_max_log_bf
    p = float(min(1.0, np.exp(-best))) if seen else None
    return SrmCheck(p, p is not None and p < threshold, obs, expected, log_bf, best)
