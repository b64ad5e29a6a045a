"""Guardrail verdicts are one-sided tests with the margin, checked against statsmodels."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from splitlab.stats import analyze
from tests.stats.helpers import experiment, sums_from_arrays


@pytest.mark.parametrize("margin", [0.05, 0.2, 0.35, 0.5, 0.8])
def test_verdict_agrees_with_statsmodels_one_sided_welch(margin: float) -> None:
    """breached iff Welch's one-sided test of H1: delta > margin rejects at 5%; passed iff the
    test of H1: delta < margin rejects (statsmodels CompareMeans.ttest_ind, usevar unequal)."""
    rng = np.random.default_rng(31)
    c = rng.normal(2.0, 1.0, 400)
    t = rng.normal(2.35, 1.2, 380)
    exp = experiment(
        variants=["control", "variant-a"],
        metrics={
            "secondary": [],
            "guardrails": [{"name": "latency", "type": "continuous", "threshold": margin}],
        },
    )
    data = {
        "conv": {v: (rng.random(400) < 0.1).astype(float) for v in ("control", "variant-a")},
        "latency": {"control": c, "variant-a": t},
    }
    check = analyze(exp, sums_from_arrays(data)).comparison("latency", "variant-a").guardrail
    assert check is not None
    cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
    _, p_worse, _ = cm.ttest_ind(alternative="larger", usevar="unequal", value=margin)
    _, p_fine, _ = cm.ttest_ind(alternative="smaller", usevar="unequal", value=margin)
    want = "breached" if p_worse < 0.05 else "passed" if p_fine < 0.05 else "unknown"
    assert check.verdict == want
