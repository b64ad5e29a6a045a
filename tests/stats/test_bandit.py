"""Thompson sampling, the exploration floor, the sequential SRM test and the batched readout,
each against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from splitlab.stats.bandit import (
    ArmBatch,
    epsilon,
    log_bayes_factor,
    p_best,
    posteriors,
    sequential_srm,
    thompson_update,
    weights_from,
)
from splitlab.stats.bandit_readout import METHOD, batched_difference, readout, regret


def test_beta_posterior_and_p_best_match_numerical_integration() -> None:
    """P(B > A) for Beta posteriors, by quadrature: P = int f_B(x) F_A(x) dx (scipy)."""
    sums = {"A": ArmBatch(200, 20.0, 20.0), "B": ArmBatch(200, 30.0, 30.0)}
    post = posteriors(sums, ["A", "B"], "conversion")
    assert (post["A"].a, post["A"].b) == (21.0, 181.0)  # Beta(1 + s, 1 + f)
    a, b = stats.beta(21, 181), stats.beta(31, 171)
    exact, _ = integrate.quad(lambda x: b.pdf(x) * a.cdf(x), 0, 1)
    got = p_best("beta", np.array([21.0, 31.0]), np.array([181.0, 171.0]), 200_000,
                 np.random.default_rng(3))  # fmt: skip
    se = math.sqrt(exact * (1 - exact) / 200_000)
    assert abs(got[1] - exact) < 4 * se
    assert got.sum() == pytest.approx(1.0)


def test_normal_posterior_p_best_matches_the_closed_form() -> None:
    """Two normals: P(B > A) = Phi((mB - mA) / sqrt(sA^2 + sB^2))."""
    sums = {
        "A": ArmBatch(100, 100 * 5.0, 100 * (25.0 + 4.0 * 99 / 100)),
        "B": ArmBatch(100, 100 * 5.3, 100 * (5.3**2 + 4.0 * 99 / 100)),
    }
    post = posteriors(sums, ["A", "B"], "continuous")
    assert post["A"].a == pytest.approx(5.0)
    assert post["A"].b == pytest.approx(math.sqrt(4.0 / 100))  # sd of the mean, var / n
    exact = stats.norm.cdf(0.3 / math.sqrt(0.04 + 0.04))
    got = p_best("normal", np.array([5.0, 5.3]), np.array([0.2, 0.2]), 200_000,
                 np.random.default_rng(4))  # fmt: skip
    assert abs(got[1] - exact) < 4 * math.sqrt(exact * (1 - exact) / 200_000)


def test_epsilon_and_weights() -> None:
    assert epsilon(0.2, 0.9, 0.02, 0) == 0.2
    assert epsilon(0.2, 0.9, 0.02, 3) == pytest.approx(0.2 * 0.729)
    assert epsilon(0.2, 0.9, 0.02, 100) == 0.02
    best = np.array([0.0, 0.25, 0.75])
    w = weights_from(best, 0.3, burn_in=False)
    assert w == pytest.approx([0.1, 0.7 * 0.25 + 0.1, 0.7 * 0.75 + 0.1])
    assert weights_from(best, 0.3, burn_in=True) == pytest.approx([1 / 3] * 3)
    # The floor: every arm keeps at least eps / K.
    assert w.min() >= 0.3 / 3


def test_update_is_replayable_and_burn_in_keeps_equal_weights() -> None:
    batches = [{"A": ArmBatch(100, 10.0, 10.0), "B": ArmBatch(100, 20.0, 20.0)}]
    kw = dict(burn_in_updates=1, initial=0.2, decay=0.9, minimum=0.02, draws=5000)
    first = thompson_update(batches, ["A", "B"], "conversion", t=0, seed=7, **kw)  # type: ignore[arg-type]
    assert first.burn_in and first.weights == {"A": 0.5, "B": 0.5}
    second = thompson_update(batches, ["A", "B"], "conversion", t=1, seed=7, **kw)  # type: ignore[arg-type]
    again = thompson_update(batches, ["A", "B"], "conversion", t=1, seed=7, **kw)  # type: ignore[arg-type]
    assert second.p_best == again.p_best and not second.burn_in
    assert second.weights["B"] == pytest.approx(0.82 * second.p_best["B"] + 0.09)


def test_srm_bayes_factor_by_hand_and_against_scipy() -> None:
    """BF = DirMult(x; c p) / Mult(x; p); checked by hand with lgamma for a 2-arm case and
    against scipy.stats.dirichlet_multinomial / multinomial for 3 arms."""
    # By hand: x = (60, 40), p = (0.5, 0.5), alpha = (50, 50).
    by_hand = (
        math.lgamma(100) - math.lgamma(200)
        + math.lgamma(110) - math.lgamma(50) + math.lgamma(90) - math.lgamma(50)
        - 100 * math.log(0.5)
    )  # fmt: skip
    assert log_bayes_factor([60, 40], [0.5, 0.5]) == pytest.approx(by_hand, rel=1e-12)
    x, p = np.array([30, 50, 20]), np.array([0.3, 0.5, 0.2])
    ref = stats.dirichlet_multinomial.logpmf(x, 100 * p, 100) - stats.multinomial.logpmf(x, 100, p)
    assert log_bayes_factor(x, p) == pytest.approx(ref, rel=1e-10)


def test_sequential_srm_detects_a_mismatch_and_not_a_match() -> None:
    ok = sequential_srm({"A": 5010, "B": 4990}, {"A": 0.5, "B": 0.5}, 0.01)
    assert ok.p_value == 1.0 or ok.p_value > 0.01
    assert not ok.detected
    bad = sequential_srm({"A": 5300, "B": 4700}, {"A": 0.5, "B": 0.5}, 0.01)
    assert bad.detected and bad.p_value is not None and bad.p_value < 1e-6
    # Carried across periods: the product of Bayes factors.
    two = sequential_srm({"A": 60, "B": 40}, {"A": 0.5, "B": 0.5}, 0.01, bad.log_bayes_factor)
    assert two.log_bayes_factor == pytest.approx(
        bad.log_bayes_factor + log_bayes_factor([60, 40], [0.5, 0.5])
    )
    # A unit in an arm whose weight was 0 is a mismatch by itself.
    assert sequential_srm({"A": 3, "B": 1}, {"A": 1.0, "B": 0.0}, 0.01).detected
    empty = sequential_srm({}, {"A": 0.5, "B": 0.5}, 0.01)
    assert empty.p_value is None and not empty.detected


def test_a_detection_is_not_undone_by_a_later_balanced_period() -> None:
    """The statistics review's example: after a 560/440 period p = 0.0047 (detected); after a
    further balanced 20,000/20,000 period the product's 1/BF rises to 0.094, but the reported
    anytime-valid p-value is the running minimum, so the detection stands."""
    half = {"A": 0.5, "B": 0.5}
    first = sequential_srm({"A": 560, "B": 440}, half, 0.01)
    assert first.detected and first.p_value is not None
    by_hand = math.exp(-log_bayes_factor([560, 440], [0.5, 0.5]))
    assert first.p_value == pytest.approx(by_hand, rel=1e-12)
    later = sequential_srm(
        {"A": 20_000, "B": 20_000},
        half,
        0.01,
        first.log_bayes_factor,
        first.max_log_bayes_factor,
    )
    assert math.exp(-later.log_bayes_factor) > 0.01  # the product alone would clear it
    assert later.p_value == pytest.approx(first.p_value, rel=1e-12)
    assert later.detected


def test_sequential_srm_false_alarm_rate_is_below_alpha() -> None:
    """Under the null, P(any of 10 periods' running p < 0.05) <= 0.05 (Ville): 2,000 runs."""
    rng = np.random.default_rng(11)
    runs, alarms = 2000, 0
    shares = np.array([0.2, 0.3, 0.5])
    counts = rng.multinomial(300, shares, size=(runs, 10))
    for r in range(runs):
        log_bf = 0.0
        for period in counts[r]:
            log_bf += log_bayes_factor(period, shares)
            if log_bf > math.log(1 / 0.05):
                alarms += 1
                break
    rate = alarms / runs
    assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)


def test_batched_difference_by_hand() -> None:
    """Two batches: estimate sum(d/se)/sum(1/se), half-width 1.96 sqrt(2) / sum(1/se), with
    se_t from each arm's within-batch variance pooled over its batches (numpy by hand)."""
    arm = np.array([[10, 30.0, 100.0], [20, 50.0, 140.0]])
    ctl = np.array([[10, 20.0, 50.0], [5, 10.0, 22.0]])

    def pooled(x: np.ndarray) -> float:  # within-batch sum of squares over n - batches
        within = sum(ss - s * s / n for n, s, ss in x)
        return float(within / (x[:, 0].sum() - len(x)))

    va, vc = pooled(arm), pooled(ctl)
    ds, ses = [], []
    for a, c in zip(arm, ctl, strict=True):
        ds.append(a[1] / a[0] - c[1] / c[0])
        ses.append(math.sqrt(va / a[0] + vc / c[0]))
    w = sum(1 / s for s in ses)
    est = sum(d / s for d, s in zip(ds, ses, strict=True)) / w
    half = stats.norm.ppf(0.975) * math.sqrt(2) / w
    e, lo, hi, t = batched_difference(arm, ctl)
    assert (float(e), float(lo), float(hi), int(t)) == pytest.approx(
        (est, est - half, est + half, 2)
    )


def test_readout_names_its_method_and_regret() -> None:
    batches = [
        {"A": ArmBatch(100, 10.0, 10.0), "B": ArmBatch(100, 20.0, 20.0)},
        {"A": ArmBatch(10, 1.0, 1.0), "B": ArmBatch(190, 38.0, 38.0)},
    ]
    out = readout(batches, ["A", "B"]).to_dict()
    assert out["method"] == METHOD and "Zhang" in METHOD
    assert "does not test a hypothesis" in out["note"]
    (c,) = out["comparisons"]
    assert c["arm"] == "B" and c["control"] == "A" and c["lower"] < c["estimate"] < c["upper"]
    # Regret: 110 units of A at 0.1 against the best mean 0.2 (B: 58/290).
    assert regret(batches, ["A", "B"]) == pytest.approx(110 * (0.2 - 0.1))
    assert readout([], ["A", "B"]).comparisons[0].estimate is None
