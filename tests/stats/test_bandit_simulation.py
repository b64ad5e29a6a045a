"""Simulations of Thompson-sampling bandits (2,000 runs each, fixed seeds, 3-s.e. bands).

Exploration in every Thompson run: initial 0.2, decay 0.9, minimum 0.02, burn-in 1 update,
1,000 posterior draws per update (unless a test states otherwise).
"""

from __future__ import annotations

import math

import numpy as np

from splitlab.stats.bandit_readout import batched_difference
from tests.stats.bandit_sim import simulate

RUNS = 2000


def _below(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of a - b and its standard error (independent runs)."""
    diff = a.mean() - b.mean()
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float(diff), se


def test_three_arms_regret_below_uniform_and_epsilon_greedy_best_arm_gets_80_percent() -> None:
    """Arms 0.10, 0.12, 0.15 (gaps 0.05 and 0.03 to the best); 24 periods of 500 units.

    Epsilon-greedy keeps a fixed epsilon of 0.2 (Thompson's initial one). After 8 updates
    (the weights of period 8) the best arm's weight averages at least 0.8.
    """
    means = np.array([0.10, 0.12, 0.15])
    kw = dict(runs=RUNS, periods=24, batch=500)
    ts = simulate(means, policy="thompson", seed=1, **kw)  # type: ignore[arg-type]
    uni = simulate(means, policy="uniform", seed=2, **kw)  # type: ignore[arg-type]
    eg = simulate(means, policy="egreedy", seed=3, fixed_eps=0.2, **kw)  # type: ignore[arg-type]
    for other in (uni, eg):
        diff, se = _below(ts.regret(means), other.regret(means))
        assert diff + 3 * se < 0, (diff, se)
    best_weight = ts.w[:, 8, 2]  # the weights of period 8: written by update 8 (index 7)
    assert best_weight.mean() - 3 * best_weight.std(ddof=1) / math.sqrt(RUNS) >= 0.8


def test_five_arms_regret_below_uniform_and_epsilon_greedy() -> None:
    """Arms 0.05, 0.06, 0.07, 0.08, 0.10; 20 periods of 1,000 units; epsilon-greedy 0.2.

    After 10 updates the best arm's weight averages at least 0.8.
    """
    means = np.array([0.05, 0.06, 0.07, 0.08, 0.10])
    kw = dict(runs=RUNS, periods=20, batch=1000)
    ts = simulate(means, policy="thompson", seed=11, **kw)  # type: ignore[arg-type]
    uni = simulate(means, policy="uniform", seed=12, **kw)  # type: ignore[arg-type]
    eg = simulate(means, policy="egreedy", seed=13, fixed_eps=0.2, **kw)  # type: ignore[arg-type]
    for other in (uni, eg):
        diff, se = _below(ts.regret(means), other.regret(means))
        assert diff + 3 * se < 0, (diff, se)
    best_weight = ts.w[:, 10, 4]
    assert best_weight.mean() - 3 * best_weight.std(ddof=1) / math.sqrt(RUNS) >= 0.8


def _coverage(means: np.ndarray, arm: int, seed: int) -> tuple[float, float]:
    """Share of runs whose 95 % readout interval for arm - control (arm 0) covers the truth.

    Exploration floor 0.1 (initial 0.3, decay 0.9) so that every arm gets at least 1/30 of
    each period's 3,000 units: the per-batch normal approximation needs units in every arm.
    """
    sim = simulate(
        means, runs=RUNS, periods=8, batch=3000, policy="thompson", seed=seed,
        initial=0.3, decay=0.9, minimum=0.1,
    )  # fmt: skip
    _, lo, hi, t = batched_difference(sim.batches(arm), sim.batches(0))
    assert (t == 8).all()
    truth = means[arm] - means[0]
    covered = float(((lo <= truth) & (truth <= hi)).mean())
    return covered, 3 * math.sqrt(0.95 * 0.05 / RUNS)


def test_readout_interval_covers_the_true_difference() -> None:
    covered, band = _coverage(np.array([0.30, 0.33, 0.36]), arm=2, seed=21)
    assert abs(covered - 0.95) <= band, covered
    covered, band = _coverage(np.array([0.30, 0.33, 0.36]), arm=1, seed=22)
    assert abs(covered - 0.95) <= band, covered


def test_readout_interval_covers_with_two_tied_arms() -> None:
    """Control and arm 1 tied at the best mean: the allocation flips between them with the
    noise, which is where the pooled difference goes wrong."""
    covered, band = _coverage(np.array([0.40, 0.40, 0.30]), arm=1, seed=31)
    assert abs(covered - 0.95) <= band, covered


def bandit_definition(weights: list[float], version: int) -> dict[str, object]:
    return {
        "experimentId": "exp-bandit",
        "status": "running",
        "variants": [
            {"name": n, "weight": w} for n, w in zip(["a", "b", "c"], weights, strict=True)
        ],
        "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "s"},
        "metrics": {"primary": {"name": "buy", "type": "conversion", "windowHours": 24}},
        "design": {"type": "bandit", "weightsVersion": version},
    }


def test_no_exposed_unit_changes_arm_across_updates() -> None:
    """10,000 units assigned through the real service with a sticky store, then 4 weight
    updates (each re-assigning everyone and 2,500 new units): 0 units change arm, and the
    new units follow the new weights."""
    from splitlab.assignment import ExperimentAssignmentService
    from splitlab.assignment.sticky import MemoryStickyStore
    from splitlab.config import load_experiment

    store = MemoryStickyStore()
    service = ExperimentAssignmentService(
        [load_experiment(bandit_definition([1 / 3, 1 / 3, 1 / 3], 0))], sticky=store
    )
    units = [f"u{i}" for i in range(10_000)]
    first = dict(
        zip(units, (a.variant for a in service.assign_many("exp-bandit", units)), strict=True)
    )
    schedule = [[0.1, 0.2, 0.7], [0.05, 0.05, 0.9], [0.8, 0.1, 0.1], [0.02, 0.96, 0.02]]
    changed = 0
    for version, weights in enumerate(schedule, start=1):
        service.update([load_experiment(bandit_definition(weights, version))])
        again = service.assign_many("exp-bandit", units)
        changed += sum(a.variant != first[u] for u, a in zip(units, again, strict=True))
        new = [f"v{version}-{i}" for i in range(2500)]
        got = [a.variant for a in service.assign_many("exp-bandit", new)]
        top = ["a", "b", "c"][int(np.argmax(weights))]
        assert got.count(top) / 2500 > max(weights) - 0.05
        units += new
        first.update(zip(new, got, strict=True))
    assert changed == 0
