"""Group-sequential boundaries against published constants and an independent integration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from splitlab.stats import sequential
from splitlab.stats.sequential import Plan, boundaries, crossing_probability, make_plan

EQUAL5 = (0.2, 0.4, 0.6, 0.8, 1.0)


def _mvn_crossing(bounds: list[float], fractions: tuple[float, ...]) -> float:
    """Independent reference: 1 - P(all |Z_k| < c_k) by scipy's multivariate normal CDF (Genz),
    with Corr(Z_i, Z_j) = sqrt(t_i / t_j) (Jennison & Turnbull 2000, section 3.1)."""
    t = np.asarray(fractions)
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    b = np.asarray(bounds)
    dist = sps.multivariate_normal(mean=np.zeros(len(t)), cov=cov)
    inside = dist.cdf(b, lower_limit=-b, rng=np.random.default_rng(0))
    return float(1.0 - inside)


def test_obrien_fleming_type_matches_published_boundaries() -> None:
    """Lan-DeMets O'Brien-Fleming type, 5 equally spaced looks, two-sided alpha 0.05:
    4.877, 3.357, 2.680, 2.290, 2.031 (Jennison & Turnbull 2000; gsDesign sfLDOF; rpact)."""
    got = boundaries(np.array([0.05]), "obrien_fleming", Plan(EQUAL5, True), 2)[0]
    assert got == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=1e-3)


def test_pocock_type_spends_exactly_its_alpha() -> None:
    """Lan-DeMets Pocock type, 5 equal looks: 2.438, 2.427, 2.410, 2.397, 2.386 (gsDesign
    sfLDPocock); the cumulative crossing probability at each look equals alpha*(t_k), checked
    with scipy's multivariate normal CDF as the independent reference."""
    got = boundaries(np.array([0.05]), "pocock", Plan(EQUAL5, True), 2)[0]
    assert got == pytest.approx([2.438, 2.427, 2.410, 2.397, 2.386], abs=2e-3)
    for k in range(1, 6):
        want = 0.05 * math.log1p((math.e - 1) * EQUAL5[k - 1])
        assert _mvn_crossing(list(got[:k]), EQUAL5[:k]) == pytest.approx(want, abs=2e-4)


@pytest.mark.parametrize(
    "bounds,source",
    [
        ((2.413,) * 5, "Pocock C_P(5, 0.05) = 2.413, Jennison & Turnbull Table 2.1"),
        (
            tuple(2.040 * math.sqrt(5 / k) for k in range(1, 6)),
            "O'Brien-Fleming C_B(5, 0.05) = 2.040, Jennison & Turnbull Table 2.3",
        ),
    ],
)
def test_classic_designs_have_their_published_level(bounds: tuple[float, ...], source: str) -> None:
    """The recursion gives the published designs their two-sided level of 0.05."""
    assert crossing_probability(bounds, EQUAL5, 2) == pytest.approx(0.05, abs=3e-4), source


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_unequal_looks_spend_the_function_checked_by_mvn(spending: sequential.Spending) -> None:
    """For unequally spaced looks the crossing probability is alpha*(t_k) at every look."""
    fr = (0.1, 0.35, 0.8, 1.0)
    got = list(boundaries(np.array([0.05]), spending, Plan(fr, True), 2)[0])
    for k in range(1, 5):
        want = float(sequential.spent(spending, 0.05, fr[k - 1], 2))
        assert _mvn_crossing(got[:k], fr[:k]) == pytest.approx(want, abs=3e-4)


def test_one_sided_obf_at_0025_is_the_two_sided_design_at_005() -> None:
    """With OBF spending the far tail is negligible, so one-sided 0.025 = two-sided 0.05 to 3
    decimals (the convention of gsDesign/rpact symmetric designs)."""
    one = boundaries(np.array([0.025]), "obrien_fleming", Plan(EQUAL5, True), 1)[0]
    assert one == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=1e-3)


def test_table_p_value_inverts_the_boundary() -> None:
    """The sequential p-value at the boundary for level a is a (so adjusting p is testing)."""
    plan = make_plan(3, 5, 0.6)
    tab = sequential.table("obrien_fleming", plan, 2)
    for a in (0.001, 0.01, 0.05 / 6, 0.05, 0.2):
        c = sequential.boundary(a, "obrien_fleming", plan, 2)
        assert c is not None
        assert tab.p_value(c) == pytest.approx(a, rel=2e-3)
    zs = np.linspace(0.1, 6, 30)
    ps = [tab.p_value(float(z)) for z in zs]
    assert all(a >= b for a, b in itertools.pairwise(ps))


def test_plan_spends_the_rest_at_the_last_planned_look() -> None:
    """At look == maxPeeks all alpha is spent even below the planned sample."""
    plan = make_plan(5, 5, 0.7)
    assert plan.final and plan.spend_fractions[-1] == 1.0
    assert sequential.alpha_spent(0.05, "obrien_fleming", plan) == pytest.approx(0.05)
    early = make_plan(2, 5, 0.4)
    assert not early.final
    assert sequential.alpha_spent(0.05, "obrien_fleming", early) < 0.05


def test_fraction_is_capped_and_full_information_is_final() -> None:
    """Information beyond the plan counts as 1 and makes the look final."""
    plan = make_plan(2, 5, 1.7)
    assert plan.fraction == 1.0 and plan.final


def test_no_alpha_left_means_no_boundary() -> None:
    """Once everything is spent, a later look has no boundary and cannot reject."""
    plan = Plan((0.5, 1.0, 1.0001), True)
    assert sequential.boundary(0.05, "obrien_fleming", plan, 2) is None
    assert sequential.table("obrien_fleming", plan, 2).p_value(10.0) == 1.0


def test_history_must_have_one_fraction_per_earlier_look() -> None:
    """A wrong-length history is refused with a clear message."""
    with pytest.raises(sequential.StatsError, match="needs 2"):
        make_plan(3, 5, 0.6, history=(0.2,))


def test_decision_levels_are_exact_nodes_of_the_table() -> None:
    """At a decision level the table's boundary is the exact boundary (the published OBF
    constants, Jennison & Turnbull) and p <= level exactly when z reaches it."""
    plan = Plan(EQUAL5, True)
    levels = (0.05 / 6, 0.05 / 3, 0.05)
    tab = sequential.table("obrien_fleming", plan, 2, levels)
    assert tab.boundary_at(0.05) == pytest.approx(2.031, abs=1e-3)
    for a in levels:
        c = tab.boundary_at(a)
        assert c is not None
        assert c == pytest.approx(sequential.boundary(a, "obrien_fleming", plan, 2), abs=1e-9)
        assert tab.p_value(c) == pytest.approx(a, rel=1e-12)
        assert tab.p_value(c * (1 + 1e-9)) <= a < tab.p_value(c * (1 - 1e-9))
    with pytest.raises(sequential.StatsError, match="decision levels"):
        tab.boundary_at(0.02)


def test_levels_without_alpha_are_never_reached() -> None:
    """A level with no alpha left at an early OBF look has no boundary, and no z, however
    large, gets a sequential p-value at or below it (no extrapolation past the table)."""
    plan = make_plan(1, 5, 0.01)
    tab = sequential.table("obrien_fleming", plan, 2, (1e-9,))
    assert tab.boundary_at(1e-9) is None
    assert tab.floor >= 1e-9
    assert tab.p_value(1e6) > 1e-9


#: Lan-DeMets O'Brien-Fleming spending, two-sided alpha 0.05, 3 equally spaced looks.
#: R package ldbounds: ``ldBounds(t = c(1/3, 2/3, 1), iuse = 1, alpha = 0.05, sides = 2)``
#: prints upper bounds 3.7103, 2.5114, 1.9930; gsDesign's
#: ``gsDesign(k = 3, test.type = 2, alpha = 0.025, sfu = sfLDOF)$upper$bound`` gives the same
#: 3.7103, 2.5114, 1.9930 (alpha there is per side).
LDBOUNDS_OBF_3 = (3.7103, 2.5114, 1.9930)


def _obf_spent(t: float, alpha: float = 0.05) -> float:
    """Two-sided cumulative alpha by t: each side spends 2 - 2 Phi(z_{1 - alpha/4} / sqrt t)
    of its alpha/2 (Lan & DeMets 1983), written out here rather than taken from the engine."""
    per_side = 2.0 - 2.0 * sps.norm.cdf(sps.norm.ppf(1.0 - alpha / 4.0) / math.sqrt(t))
    return 2.0 * float(per_side)


def _obf_by_quadrature(t: tuple[float, float, float]) -> list[float]:
    """An independent solution of the 3-look design with scipy: Z_k = S(t_k)/sqrt(t_k) for a
    Brownian motion S, so (Z_1, Z_2, Z_3) is a Gaussian Markov chain with
    Z_{k+1} | Z_k = z ~ N(sqrt(t_k/t_{k+1}) z, 1 - t_k/t_{k+1}) (Jennison & Turnbull 2000,
    section 3.1). Each boundary solves P(no earlier crossing, |Z_k| >= c_k) = the alpha spent
    in (t_{k-1}, t_k], by scipy.integrate.quad on the Z scale and scipy.optimize.brentq."""
    from scipy import integrate, optimize

    def step(k: int) -> tuple[float, float]:  # (slope, sd) of Z_{k+1} given Z_k
        r = t[k] / t[k + 1]
        return math.sqrt(r), math.sqrt(1.0 - r)

    def exits(z: float, k: int, c: float) -> float:  # P(|Z_{k+1}| >= c | Z_k = z)
        slope, sd = step(k)
        return float(sps.norm.sf((c - slope * z) / sd) + sps.norm.cdf((-c - slope * z) / sd))

    c1 = float(sps.norm.isf(_obf_spent(t[0]) / 2.0))

    def second(c: float) -> float:
        inside = integrate.quad(lambda z: sps.norm.pdf(z) * exits(z, 0, c), -c1, c1,
                                epsabs=1e-13, epsrel=1e-11)[0]  # fmt: skip
        return inside - (_obf_spent(t[1]) - _obf_spent(t[0]))

    c2 = float(optimize.brentq(second, 1.0, 6.0, xtol=1e-10))

    def density_2(z: float) -> float:  # density of Z_2 on {|Z_1| < c1}, via Z_1 | Z_2
        back = math.sqrt(t[0] / t[1])
        spread = math.sqrt(1.0 - t[0] / t[1])
        kept = sps.norm.cdf((c1 - back * z) / spread) - sps.norm.cdf((-c1 - back * z) / spread)
        return float(sps.norm.pdf(z) * kept)

    def third(c: float) -> float:
        inside = integrate.quad(lambda z: density_2(z) * exits(z, 1, c), -c2, c2,
                                epsabs=1e-13, epsrel=1e-11)[0]  # fmt: skip
        return inside - (_obf_spent(t[2]) - _obf_spent(t[1]))

    c3 = float(optimize.brentq(third, 1.0, 6.0, xtol=1e-10))
    return [c1, c2, c3]


def test_three_equal_looks_match_ldbounds_at_every_look() -> None:
    """At looks 1, 2 and 3 of 3 (information 1/3, 2/3, 1) the boundary the engine uses equals
    ldbounds/gsDesign's 3.7103, 2.5114, 1.9930 (to their 4 decimals) and scipy quadrature's
    solution to 2e-5; information fractions are not rounded (rounding 1/3 to 0.3333 once
    gave 3.71051 at look 1)."""
    reference = _obf_by_quadrature((1 / 3, 2 / 3, 1.0))
    assert reference == pytest.approx(LDBOUNDS_OBF_3, abs=6e-5)
    for look in (1, 2, 3):
        plan = make_plan(look, 3, look / 3)
        got = sequential.boundary(0.05, "obrien_fleming", plan, 2)
        assert got == pytest.approx(LDBOUNDS_OBF_3[look - 1], abs=1e-4), look
        assert got == pytest.approx(reference[look - 1], abs=2e-5), look


def test_analysis_at_a_third_of_the_sample_reports_the_ldbounds_boundary() -> None:
    """analyze() at look 1 of 3 with 1,000 of 3,000 planned units per arm reports the
    O'Brien-Fleming boundary 3.7103 (ldbounds, as above) and information fraction 1/3."""
    from splitlab.config import load_experiment
    from splitlab.stats import ExperimentSums, analyze
    from tests.evaluation.conftest import definition

    raw = definition(evaluation={"maxPeeks": 3, "minSampleSize": 3000})
    raw["metrics"].pop("guardrails")
    arm = {"n": 1000, "sum": 100, "sumSq": 100}
    sums = ExperimentSums.from_dict({
        "units": {"control": 1000, "treatment": 1000},
        "metrics": {"checkout": {"control": arm, "treatment": arm}},
    })  # fmt: skip
    [metric] = analyze(load_experiment(raw), sums, 1).to_dict()["metrics"]
    info = metric["comparisons"][0]["sequential"]
    assert info["informationFraction"] == pytest.approx(1 / 3, abs=1e-15)
    assert info["boundary"] == pytest.approx(LDBOUNDS_OBF_3[0], abs=1e-4)
