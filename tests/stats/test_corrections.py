"""Multiple-comparison corrections against statsmodels' multipletests."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from splitlab.stats.corrections import Correction, adjust, decision_levels, interval_level

P_VALUES = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=25)
METHODS: dict[Correction, str] = {
    "bonferroni": "bonferroni",
    "holm": "holm",
    "benjamini_hochberg": "fdr_bh",
}


@pytest.fixture(autouse=True, scope="module")
def _frozen_heap() -> Iterator[None]:
    """statsmodels' Holm branch calls ``gc.collect()`` on every call, and a full collection walks
    every live object of the test session: late in the whole suite that is ~0.5 s per call
    (25 s for this module). Freezing what is alive now (``gc.freeze``) keeps each collection to
    the objects made since; the references and the assertions are unchanged."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@settings(max_examples=150, deadline=None)
@given(P_VALUES, st.sampled_from(sorted(METHODS)))
def test_adjusted_p_values_equal_statsmodels(ps: list[float], method: Correction) -> None:
    """Adjusted p-values equal statsmodels multipletests (bonferroni, holm, fdr_bh)."""
    reject, ref, _, _ = multipletests(ps, alpha=0.05, method=METHODS[method])
    got = adjust(ps, method)
    assert got == pytest.approx(list(ref), abs=1e-12)
    # At the boundary (BH: 0.025 at rank 3 of 6 adjusts to 0.05 up to rounding) the two
    # decisions differ only by the last bit of a float; compare the rest exactly.
    clear = [i for i, g in enumerate(got) if abs(g - 0.05) > 1e-12]
    assert [got[i] <= 0.05 for i in clear] == [bool(reject[i]) for i in clear]


def test_none_leaves_p_values_alone() -> None:
    """No correction: the p-values themselves."""
    assert adjust([0.01, 0.2], "none") == [0.01, 0.2]


def test_holm_rejects_at_least_what_bonferroni_rejects() -> None:
    """Holm is uniformly more powerful than Bonferroni (Holm 1979)."""
    ps = [0.004, 0.015, 0.02, 0.3]
    bonf = sum(p <= 0.05 for p in adjust(ps, "bonferroni"))
    holm = sum(p <= 0.05 for p in adjust(ps, "holm"))
    assert (bonf, holm) == (1, 3)


def test_interval_levels_follow_the_correction() -> None:
    """Bonferroni at alpha/m, Holm at alpha/(m - R), BH at R alpha/m (Benjamini & Yekutieli
    2005), alpha without a correction."""
    assert interval_level("bonferroni", 0.05, 10, 3) == pytest.approx(0.005)
    assert interval_level("holm", 0.05, 10, 3) == pytest.approx(0.05 / 7)
    assert interval_level("holm", 0.05, 10, 10) == pytest.approx(0.05)
    assert interval_level("holm", 0.05, 10, 0) == pytest.approx(0.005)
    assert interval_level("benjamini_hochberg", 0.05, 10, 3) == pytest.approx(0.015)
    assert interval_level("benjamini_hochberg", 0.05, 10, 0) == pytest.approx(0.005)
    assert interval_level("none", 0.05, 10, 3) == 0.05


@settings(max_examples=300, deadline=None)
@given(P_VALUES, st.sampled_from([*sorted(METHODS), "none"]))
def test_interval_level_separates_rejected_from_the_rest(
    ps: list[float], method: Correction
) -> None:
    """p <= the interval level exactly for the comparisons the correction rejects, and the
    level is one of the decision levels (so intervals at it agree with every rejection)."""
    adjusted = adjust(ps, method)
    rejected = sum(a <= 0.05 for a in adjusted)
    level = interval_level(method, 0.05, len(ps), rejected)
    assert level in decision_levels(method, 0.05, len(ps))
    assert [p <= level for p in ps] == [a <= 0.05 for a in adjusted]


def test_holm_interval_level_on_a_worked_example() -> None:
    """Holm rejects p = 0.02 of four (adjusted 2 x 0.02 = 0.04, by hand from Holm 1979), which
    an interval at alpha/m = 0.0125 would contradict; at alpha/(m - R) = 0.05 it agrees."""
    ps = [0.001, 0.011, 0.02, 0.5]
    adjusted = adjust(ps, "holm")
    assert adjusted == pytest.approx([0.004, 0.033, 0.04, 0.5])
    level = interval_level("holm", 0.05, 4, 3)
    assert level == pytest.approx(0.05)
    assert [p <= level for p in ps] == [True, True, True, False]
