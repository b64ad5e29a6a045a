"""splitlab.stats.spillover: the design estimates and the test of their difference
(Saveski et al. 2017), with a simulation on a graph (tests/stats/spillover_sim.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats import proportion

from splitlab.stats import ArmSums, ExperimentSums, analyze
from splitlab.stats.spillover import (
    DesignEstimate,
    SpilloverError,
    design_estimate,
    spillover_test,
)
from tests.stats.spillover_sim import CLUSTER, INDIVIDUAL, Graph, experiment, make_graph, simulate

# --- the test on fixed numbers ---------------------------------------------------------


def test_z_and_p_against_scipy_norm() -> None:
    """Both df infinite: z = (1.3 - 0.9) / sqrt(0.04 + 0.01) = 1.78885..., p = 2 Phi(-|z|)
    (reference: scipy.stats.norm); the Chebyshev bound is 1/z^2 = 0.3125."""
    t = spillover_test(DesignEstimate(1.3, 0.04), DesignEstimate(0.9, 0.01), alpha=0.05)
    z = 0.4 / math.sqrt(0.05)
    assert t.difference == pytest.approx(0.4, rel=1e-12)
    assert t.variance == pytest.approx(0.05, rel=1e-12)
    assert t.statistic == pytest.approx(z, rel=1e-12)
    assert math.isinf(t.df)
    assert t.p_value == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)
    assert t.p_value == pytest.approx(0.073638, abs=1e-6)  # 2*norm.sf(1.788854) (scipy)
    assert t.chebyshev_p_value == pytest.approx(0.3125, rel=1e-12)
    assert not t.detected and t.verdict.startswith("no spillover detected")


def test_negative_difference_and_detection() -> None:
    """A negative difference gives the same two-sided p as its mirror image."""
    t = spillover_test(DesignEstimate(-0.5, 0.01), DesignEstimate(0.1, 0.0125))
    z = -0.6 / math.sqrt(0.0225)  # = -4
    assert t.statistic == pytest.approx(z, rel=1e-12)
    assert t.p_value == pytest.approx(2 * stats.norm.cdf(z), rel=1e-10)
    assert t.chebyshev_p_value == pytest.approx(1 / 16, rel=1e-12)
    assert t.detected and t.verdict.startswith("spillover detected")
    assert t.to_dict()["detected"] is True and t.to_dict()["df"] is None


def test_finite_df_uses_welch_satterthwaite_and_student_t() -> None:
    """Cluster df 40, individual df infinite: df = 0.05^2 / (0.04^2 / 40) = 62.5, and the
    p-value is Student's t with that df (reference: scipy.stats.t)."""
    t = spillover_test(DesignEstimate(1.3, 0.04, 40.0), DesignEstimate(0.9, 0.01))
    assert t.df == pytest.approx(62.5, rel=1e-12)
    assert t.p_value == pytest.approx(2 * stats.t.sf(0.4 / math.sqrt(0.05), 62.5), rel=1e-12)
    both = spillover_test(DesignEstimate(1.3, 0.04, 40.0), DesignEstimate(0.9, 0.01, 200.0))
    expected_df = 0.05**2 / (0.04**2 / 40 + 0.01**2 / 200)
    assert both.df == pytest.approx(expected_df, rel=1e-12)


@pytest.mark.parametrize(
    ("cluster", "individual", "alpha", "field"),
    [
        (DesignEstimate(math.nan, 0.1), DesignEstimate(0.0, 0.1), 0.05, "cluster.estimate"),
        (DesignEstimate(0.0, -0.1), DesignEstimate(0.0, 0.1), 0.05, "cluster.variance"),
        (DesignEstimate(0.0, 0.1), DesignEstimate(0.0, math.inf), 0.05, "individual.variance"),
        (DesignEstimate(0.0, 0.1, 0.0), DesignEstimate(0.0, 0.1), 0.05, "cluster.df"),
        (DesignEstimate(0.0, 0.0), DesignEstimate(1.0, 0.0), 0.05, "expected a positive total"),
        (DesignEstimate(0.0, 0.1), DesignEstimate(0.0, 0.1), 1.0, "alpha"),
        ((0.0, 0.1), DesignEstimate(0.0, 0.1), 0.05, "cluster: expected a DesignEstimate"),
    ],
)
def test_bad_input_names_the_field(
    cluster: DesignEstimate, individual: DesignEstimate, alpha: float, field: str
) -> None:
    with pytest.raises(SpilloverError, match="expected") as info:
        spillover_test(cluster, individual, alpha)
    assert field in str(info.value)


# --- design estimates ------------------------------------------------------------------


def test_conversion_design_estimate_is_the_wald_test() -> None:
    """A classic conversion metric: the unpooled Wald z test (reference: statsmodels
    test_proportions_2indep(method='wald'))."""
    conversion = experiment(False, "conversion")
    sums = ExperimentSums(
        {"control": 2000, "treatment": 2000},
        {"m": {"control": ArmSums(2000, 200, 200), "treatment": ArmSums(2000, 250, 250)}},
    )
    got = design_estimate(conversion, sums, "m")
    ref = proportion.test_proportions_2indep(250, 2000, 200, 2000, method="wald", compare="diff")
    assert got.estimate == pytest.approx(0.025, rel=1e-12)
    assert got.estimate / math.sqrt(got.variance) == pytest.approx(ref.statistic, rel=1e-9)
    assert math.isinf(got.df)


def test_design_estimate_refuses_what_it_cannot_use() -> None:
    no_den = ExperimentSums(
        {"control": 5, "treatment": 5},
        {"m": {"control": ArmSums(5, 10, 30), "treatment": ArmSums(5, 12, 40)}},
    )
    with pytest.raises(SpilloverError, match=r"sums\.metrics\.m\.control\.denominator"):
        design_estimate(CLUSTER, no_den, "m")
    with pytest.raises(SpilloverError, match="metric: expected a metric of 'exp-users'"):
        design_estimate(INDIVIDUAL, no_den, "nope")
    with pytest.raises(SpilloverError, match="variant: expected one of 'treatment'"):
        design_estimate(INDIVIDUAL, no_den, "m", "control")
    per_cluster = CLUSTER.model_copy(
        update={
            "metrics": CLUSTER.metrics.model_copy(
                update={"primary": CLUSTER.metrics.primary.model_copy(update={"level": "cluster"})}
            )
        }
    )
    with pytest.raises(SpilloverError, match="expected a per-unit metric"):
        design_estimate(per_cluster, no_den, "m")


def test_cluster_conversion_is_a_ratio_of_converted_users_to_users() -> None:
    """A conversion metric of a cluster design: Y_c converted users of m_c; the estimate is
    the difference of sum Y / sum m, the variance the cluster experiment's own: per arm the
    CR0 variance sum (Y_c - R m_c)^2 / (sum m)^2, times the CR1 factor
    G/(G - 1) * (N - 1)/(N - 2) (Cameron & Miller 2015), df G - 1 (numpy by hand)."""
    y_c, m_c = np.array([3.0, 5, 2, 4, 6]), np.array([10.0, 12, 8, 9, 15])
    y_t, m_t = np.array([6.0, 4, 7, 5]), np.array([11.0, 10, 14, 9])
    sums = ExperimentSums(
        {"control": 5, "treatment": 4},
        {
            "m": {
                "control": ArmSums.from_values(y_c, denominator=m_c),
                "treatment": ArmSums.from_values(y_t, denominator=m_t),
            }
        },
    )
    got = design_estimate(experiment(True, "conversion"), sums, "m")

    def ratio_and_cr0(y: np.ndarray, m: np.ndarray) -> tuple[float, float]:
        r = y.sum() / m.sum()
        return r, float(((y - r * m) ** 2).sum() / m.sum() ** 2)

    (rc, vc), (rt, vt) = ratio_and_cr0(y_c, m_c), ratio_and_cr0(y_t, m_t)
    g, n = 9, m_c.sum() + m_t.sum()
    cr1 = g / (g - 1) * (n - 1) / (n - 2)
    assert got.estimate == pytest.approx(rt - rc, rel=1e-12)
    assert got.variance == pytest.approx((vc + vt) * cr1, rel=1e-10)
    assert got.df == g - 1


# --- simulation on a graph -------------------------------------------------------------

RUNS = 2000
ALPHA = 0.05


@pytest.fixture(scope="module")
def graph() -> Graph:
    return make_graph()


def test_no_interference_false_positive_rate(graph: Graph) -> None:
    """Without spillover, 2,000 replications reject at most alpha + 3 Monte Carlo s.e.
    (measured: 0.0515; 0.0385 with seed 11); the differences centre on 0 and their spread
    matches the summed variance estimates; the Chebyshev bound rejects less often than
    alpha (measured: never)."""
    runs = simulate(graph, 0.0, seed=1, runs=RUNS, alpha=ALPHA)
    rate = np.mean([t.detected for t in runs])
    assert rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / RUNS)
    diffs = np.array([t.difference for t in runs])
    variances = np.array([t.variance for t in runs])
    assert abs(diffs.mean()) <= 3 * diffs.std() / math.sqrt(RUNS)
    # var(diff) against the mean variance estimate: relative s.e. of a sample variance
    # of a normal is sqrt(2 / (R - 1)) ~ 3.2%, so 3 s.e. ~ 10%.
    assert variances.mean() / diffs.var(ddof=1) >= 1 - 3 * math.sqrt(2 / (RUNS - 1))
    assert np.mean([t.chebyshev_p_value <= ALPHA for t in runs]) <= ALPHA


def test_interference_is_detected(graph: Graph) -> None:
    """A spillover of 0.3 (outcome rises by 0.3 when all of a user's friends are treated;
    the direct effect is 0.2): the cluster design's estimate is about 0.2 + 0.3 x 0.91, the
    individual design's about 0.2, and 2,000 replications detect it in 86% of runs
    (measured: 0.8635; 0.86 with seed 12; the Chebyshev bound, for comparison, in 11%). The
    bound asserted, 0.7, is far above alpha and 20 Monte Carlo s.e. below the rate."""
    runs = simulate(graph, 0.3, seed=2, runs=RUNS, alpha=ALPHA)
    rate = np.mean([t.detected for t in runs])
    assert rate >= 0.7
    assert np.mean([t.difference for t in runs]) > 0.2
    assert np.mean([t.individual.estimate for t in runs]) == pytest.approx(0.2, abs=0.01)


def test_design_estimates_agree_with_analyze_for_a_classic_experiment() -> None:
    """design_estimate's Welch estimate for a classic continuous metric gives the p-value
    that analyze reports for the same sums."""
    rng = np.random.default_rng(5)
    yc, yt = rng.normal(1.0, 1.0, 300), rng.normal(1.2, 1.5, 400)
    sums = ExperimentSums(
        {"control": 300, "treatment": 400},
        {"m": {"control": ArmSums.from_values(yc), "treatment": ArmSums.from_values(yt)}},
    )
    got = design_estimate(INDIVIDUAL, sums, "m")
    p = 2 * stats.t.sf(abs(got.estimate) / math.sqrt(got.variance), got.df)
    assert analyze(INDIVIDUAL, sums).metric("m").comparisons[0].p_value == pytest.approx(p)
