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
