"""Simulations with a seeded generator: error rates under peeking, and interval coverage."""

from __future__ import annotations

import numpy as np
import pytest

from splitlab.stats import ArmSums, ExperimentSums, analyze
from splitlab.stats.difference import Difference, compare
from splitlab.stats.moments import mean_view
from tests.stats.helpers import experiment

SIMS = 1500
LOOKS = 5
PER_LOOK = 200
# Monte Carlo sd of a rate near 0.05 over 1500 runs is 0.0056; allow about 3.5 sd.
TOLERANCE = 0.02


def _aa_runs(seed: int) -> np.ndarray:
    """Cumulative (n, sum, sumSq) per run, look and arm for A/A data: shape (S, K, 2, 3)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(10.0, 3.0, size=(SIMS, LOOKS, 2, PER_LOOK))
    per_look = np.stack(
        [np.full(y.shape[:-1], PER_LOOK, float), y.sum(-1), (y * y).sum(-1)], axis=-1
    )
    return np.cumsum(per_look, axis=1)


def _false_positive_rate(runs: np.ndarray, method: str, spending: str = "obrien_fleming") -> float:
    exp = experiment(
        variants=["control", "variant-a"],
        metrics={
            "primary": {"name": "revenue", "type": "continuous"},
            "secondary": [],
            "guardrails": [],
        },
        evaluation={
            "correction": "none",
            "maxPeeks": LOOKS,
            "minSampleSize": LOOKS * PER_LOOK,
            "sequential": {"method": method, "spending": spending},
        },
    )
    hits = 0
    for run in runs:
        for k in range(LOOKS):
            arms = {v: ArmSums(*run[k, i]) for i, v in enumerate(("control", "variant-a"))}
            units = {v: a.n for v, a in arms.items()}
            sums = ExperimentSums(units, {"revenue": arms}, "exp-stats", k + 1)
            comp = analyze(exp, sums).comparison("revenue", "variant-a")
            if comp.significant:
                hits += 1
                break
    return hits / len(runs)


@pytest.mark.slow
def test_aa_with_five_looks_keeps_alpha_only_with_sequential_methods() -> None:
    """A/A, 5 looks, alpha 0.05: naive repeated testing rejects in about 14% of runs
    (Armitage, McPherson & Rowe 1969); OBF and Pocock spending stay near 5%; mSPRT at or
    below 5% (Ville's inequality)."""
    runs = _aa_runs(2024)
    naive = _false_positive_rate(runs, "none")
    obf = _false_positive_rate(runs, "alpha_spending", "obrien_fleming")
    pocock = _false_positive_rate(runs, "alpha_spending", "pocock")
    always = _false_positive_rate(runs, "always_valid")
    assert naive > 0.10, naive
    assert abs(obf - 0.05) < TOLERANCE, obf
    assert abs(pocock - 0.05) < TOLERANCE, pocock
    assert always < 0.05 + TOLERANCE, always


@pytest.mark.slow
def test_welch_interval_covers_the_true_difference_95_percent() -> None:
    """Skewed data, unequal arms: the 95% Welch interval covers the truth in ~95% of runs."""
    rng = np.random.default_rng(7)
    cover = 0
    sims = 3000
    truth = 2.0 * 3.0 - 2.0 * 2.5  # gamma means: shape * scale
    for _ in range(sims):
        c = rng.gamma(2.0, 2.5, 60)
        t = rng.gamma(2.0, 3.0, 90)
        d = compare(
            mean_view(ArmSums.from_values(c), False, False),
            mean_view(ArmSums.from_values(t), False, False),
            "welch",
        )
        assert isinstance(d, Difference)
        q = d.critical(0.05)
        cover += d.estimate - q * d.se <= truth <= d.estimate + q * d.se
    assert abs(cover / sims - 0.95) < 0.013  # Monte Carlo sd 0.004


@pytest.mark.slow
def test_relative_lift_interval_covers_95_percent() -> None:
    """Conversion 10% vs 12%: the delta-method interval of the lift covers +20% ~95%."""
    from splitlab.stats.relative import delta_interval

    rng = np.random.default_rng(8)
    sims, n = 3000, 4000
    xc = rng.binomial(n, 0.10, sims)
    xt = rng.binomial(n, 0.12, sims)
    cover = 0
    for a, b in zip(xc, xt, strict=True):
        d = compare(
            mean_view(ArmSums(n, a, a), True, False),
            mean_view(ArmSums(n, b, b), True, False),
            "proportions",
        )
        assert isinstance(d, Difference)
        interval = delta_interval(d, d.critical(0.05))
        assert interval is not None
        cover += interval.lower <= 0.2 <= interval.upper
    assert abs(cover / sims - 0.95) < 0.013
