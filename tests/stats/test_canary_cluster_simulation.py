"""A/A canaries whose units (users) send many requests, with a user random effect: the
false-fail rate of the proportion and quantile kinds with the step totals grouped by unit and
the clustered quantile correction, against the same data judged as independent requests.

An A/A canary with a tolerance of (almost) zero fails exactly when its interval lies wholly on
the harmful side of 0: a false rollback, which the judgment keeps below ``alpha`` (one step,
one metric, one look: the level is ``alpha`` itself). Fixed seeds, 2,000 runs, bands of 3
Monte Carlo standard errors; the arrays go through the same code as ``judge``
(``canary_means.effect``, ``canary_ranks.quantile_effect`` with the boundary's critical value).
"""

from __future__ import annotations

import numpy as np

from splitlab.stats import canary_boundary as cb
from splitlab.stats import canary_means as cm
from splitlab.stats.canary import FAIL, verdict_codes
from splitlab.stats.canary_ranks import quantile_effect
from splitlab.stats.quantile import clustered_sums, quantile_bucket
from splitlab.stats.sketch import Sketch
from tests.stats.canary_sim import share_with_se

RUNS = 2000
ALPHA = 0.05
USERS = 300  # per arm
REQUESTS = 60.0  # mean requests per user in the step (Poisson, plus 1)
INTERVALS = 6
TOLERANCE = 1e-9  # "no harm at all": a fail is an interval wholly above 0
#: Every request counted, so the boundary's information ratio is the optimal one.
TARGET = cb.target_effective_n(int(USERS * (REQUESTS + 1)))


def _critical(n_b: np.ndarray, n_c: np.ndarray) -> np.ndarray:
    return cb.critical(cb.information_ratio(cb.effective_n(n_b, n_c), TARGET, ALPHA), ALPHA)


def _error_arm(rng: np.random.Generator) -> tuple[cm.ArmArrays, cm.ArmArrays, cm.ArmArrays]:
    """One arm over RUNS runs: (step totals grouped by unit, the old (unit, interval) groups
    summed, every request independent). Each user's error rate is Beta(0.2, 3.8) (mean 5 %,
    intra-user correlation 1 / (0.2 + 3.8 + 1) = 0.2)."""
    n_u = 1.0 + rng.poisson(REQUESTS, (RUNS, USERS))
    p_u = rng.beta(0.2, 3.8, (RUNS, USERS))
    y_u = rng.binomial(n_u.astype(np.int64), p_u).astype(float)
    unit = cm.ArmArrays(
        np.full(RUNS, float(USERS)), n_u.sum(1), (n_u**2).sum(1), y_u.sum(1),
        (y_u**2).sum(1), (y_u * n_u).sum(1), y_u.sum(1),
    )  # fmt: skip
    # the same user's requests spread evenly at random over the step's intervals
    n_uk = rng.multinomial(n_u.astype(np.int64), [1.0 / INTERVALS] * INTERVALS).astype(float)
    y_k = rng.binomial(n_uk.astype(np.int64), p_u[..., None]).astype(float)
    seen = n_uk > 0
    per_interval = cm.ArmArrays(
        seen.sum((1, 2)).astype(float), n_uk.sum((1, 2)), (n_uk**2).sum((1, 2)),
        y_k.sum((1, 2)), (y_k**2).sum((1, 2)), (y_k * n_uk).sum((1, 2)), y_k.sum((1, 2)),
    )  # fmt: skip
    independent = cm.ArmArrays.per_request(unit.n, unit.sum, unit.sum)
    return unit, per_interval, independent


def _fail_share(b: cm.ArmArrays, c: cm.ArmArrays) -> tuple[float, float]:
    est, var, _, _ = cm.effect(b, c, proportion=True, relative=False)
    half = _critical(b.n, c.n) * np.sqrt(var)
    codes = verdict_codes(est - half, est + half, TOLERANCE, "increase")
    return share_with_se(codes == FAIL)


def test_error_rate_of_users_with_many_requests_keeps_alpha() -> None:
    rng = np.random.default_rng(20261204)
    b_unit, b_old, b_ind = _error_arm(rng)
    c_unit, c_old, c_ind = _error_arm(rng)
    share, se = _fail_share(b_unit, c_unit)
    old, _ = _fail_share(b_old, c_old)
    independent, _ = _fail_share(b_ind, c_ind)
    # measured with this seed: grouped by unit over the step 0.0025; without the fix, the
    # former per-(unit, interval) groups 0.0665 (above alpha: a user's ~10 requests per
    # interval are grouped, not its requests across intervals) and every request independent
    # (judge without step totals) 0.2065, four times alpha
    assert share <= ALPHA + 3 * se, (share, old, independent)
    assert independent > ALPHA + 3 * se, independent


QUANTILE_RUNS = 2000
Q_USERS = 150
Q_REQUESTS = 20.0
P = 0.9


def _latency_arm(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One run's arm: latencies (whole ms) and their users; log-latency = 4 + 0.5 b_u +
    0.4 e (user effect b_u, request noise e, both standard normal)."""
    n_u = 1 + rng.poisson(Q_REQUESTS, Q_USERS)
    users = np.repeat(np.arange(Q_USERS), n_u)
    b_u = rng.standard_normal(Q_USERS)
    log_latency = 4.0 + 0.5 * b_u[users] + 0.4 * rng.standard_normal(users.size)
    return np.round(np.exp(log_latency)) + 1.0, users


def test_latency_quantile_of_users_with_many_requests_keeps_alpha() -> None:
    rng = np.random.default_rng(4)
    fails = np.zeros(QUANTILE_RUNS, dtype=bool)
    naive = np.zeros(QUANTILE_RUNS, dtype=bool)
    for run in range(QUANTILE_RUNS):
        arms = [_latency_arm(rng) for _ in range(2)]
        sketches = [Sketch.from_values(values) for values, _ in arms]
        sums = tuple(
            clustered_sums(values, users, quantile_bucket(sketch, P))
            for (values, users), sketch in zip(arms, sketches, strict=True)
        )
        c = float(_critical(np.asarray(sketches[0].count), np.asarray(sketches[1].count)))
        for clustered, out in ((sums, fails), ((None, None), naive)):
            got = quantile_effect(sketches[0], sketches[1], P, False, c, clustered=clustered)
            assert not isinstance(got, str), got
            out[run] = int(verdict_codes(got[1], got[2], TOLERANCE, "increase")) == FAIL
    share, se = share_with_se(fails)
    independent, _ = share_with_se(naive)
    # measured with seed 4: with the clustered correction 0.0005; without it (every request
    # independent, the former judgment) 0.1085, twice alpha (design effect about 8.6 at p90)
    assert share <= ALPHA + 3 * se, (share, independent)
    assert independent > ALPHA + 3 * se, independent
