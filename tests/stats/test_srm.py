"""Sample ratio mismatch against scipy's chi-square goodness-of-fit test."""

from __future__ import annotations

import pytest
from scipy import stats as sps

from splitlab.stats import srm


@pytest.mark.parametrize(
    "counts,weights",
    [
        ([10000, 10050, 9990], [1, 1, 1]),
        ([5000, 5210], [0.5, 0.5]),
        ([2000, 6100, 1900], [0.2, 0.6, 0.2]),
    ],
)
def test_p_value_matches_scipy_chisquare(counts: list[int], weights: list[float]) -> None:
    """The SRM p-value is scipy.stats.chisquare(observed, expected) on the same counts."""
    names = [f"v{i}" for i in range(len(counts))]
    got = srm.check(dict(zip(names, counts, strict=True)), names, weights, 0.01)
    total = sum(counts)
    expected = [total * w / sum(weights) for w in weights]
    ref = sps.chisquare(counts, expected)
    assert got.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert got.statistic == pytest.approx(ref.statistic, rel=1e-12)


def test_threshold_is_the_setting() -> None:
    """Detected iff p < srmThreshold (the article's two thresholds are now settings)."""
    counts = {"a": 5000, "b": 5200}
    p = srm.check(counts, ["a", "b"], [1, 1], 0.01).p_value
    assert p is not None and 0.01 < p < 0.05
    assert not srm.check(counts, ["a", "b"], [1, 1], 0.01).detected
    assert srm.check(counts, ["a", "b"], [1, 1], 0.05).detected
    assert not srm.check(counts, ["a", "b"], [1, 1], 0.01, 0.05).launch_check_passed


def test_no_units_is_no_test() -> None:
    """With no units there is nothing to test: p-value None, not detected, valid JSON."""
    out = srm.check({}, ["a", "b"], [1, 1], 0.01)
    assert out.p_value is None and not out.detected
    assert out.to_dict()["pValue"] is None
