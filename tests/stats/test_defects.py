"""One test per defect 10-14 of the article's ExperimentEvaluator; each fails if it returns."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from splitlab.stats import analyze
from tests.stats.helpers import experiment, scenario, sums_from_arrays

N = 5000


def test_defect_10_welch_t_with_satterthwaite_df() -> None:
    """Small samples: the p-value is Welch's t with Welch-Satterthwaite df (scipy), not the
    normal approximation and not df = n1 + n2 - 2."""
    rng = np.random.default_rng(10)
    data = {
        "conv": {v: (rng.random(6) < 0.5).astype(float) for v in ("control", "variant-a")},
        "revenue": {"control": rng.normal(10, 1, 6), "variant-a": rng.normal(12, 4, 9)},
    }
    exp = experiment(variants=["control", "variant-a"], metrics={"guardrails": []})
    comp = analyze(exp, sums_from_arrays(data)).comparison("revenue", "variant-a")
    ref = sps.ttest_ind(data["revenue"]["variant-a"], data["revenue"]["control"], equal_var=False)
    assert comp.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    z = ref.statistic
    assert comp.p_value != pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-3)
    assert comp.p_value != pytest.approx(2 * sps.t.sf(abs(z), 6 + 9 - 2), rel=1e-3)


def test_defect_11_max_peeks_is_not_a_multiple_comparison() -> None:
    """Adjusted p-values depend on the family (variants x metrics), never on maxPeeks; the
    looks are handled by the sequential boundary instead."""
    conv = {"control": (N, 500), "variant-a": (N, 580), "variant-b": (N, 500)}
    few = experiment(evaluation={"maxPeeks": 1})
    many = experiment(evaluation={"maxPeeks": 20})
    a = analyze(few, scenario(conv)).comparison("conv", "variant-a")
    b = analyze(many, scenario(conv)).comparison("conv", "variant-a")
    assert a.adjusted_p_value == pytest.approx(b.adjusted_p_value)
    assert a.adjusted_p_value == pytest.approx(min(1.0, 4 * a.p_value))
    one_metric = experiment(metrics={"secondary": []})
    c = analyze(one_metric, scenario(conv)).comparison("conv", "variant-a")
    assert c.adjusted_p_value == pytest.approx(min(1.0, 2 * c.p_value))


def test_defect_12_a_significantly_worse_variant_is_never_the_winner() -> None:
    """variant-b is far worse (smallest p-value); variant-a better: variant-a ships. With only
    a worse variant nothing ships."""
    conv = {"control": (N, 500), "variant-a": (N, 600), "variant-b": (N, 300)}
    r = analyze(experiment(), scenario(conv))
    worse = r.comparison("conv", "variant-b")
    better = r.comparison("conv", "variant-a")
    assert worse.p_value < better.p_value
    assert worse.direction == "worse" and better.direction == "better"
    assert (r.decision.action, r.decision.variant) == ("ship", "variant-a")
    only_worse = {"control": (N, 500), "variant-a": (N, 500), "variant-b": (N, 300)}
    d = analyze(experiment(), scenario(only_worse, look=5)).decision
    assert d.action == "stop" and d.variant is None


def test_defect_12_direction_decrease_means_lower_is_better() -> None:
    """For a metric that should decrease, a significant drop is the improvement."""
    exp = experiment(
        metrics={"primary": {"name": "conv", "type": "conversion", "direction": "decrease"}}
    )
    conv = {"control": (N, 500), "variant-a": (N, 600), "variant-b": (N, 380)}
    r = analyze(exp, scenario(conv))
    assert r.comparison("conv", "variant-a").direction == "worse"
    assert (r.decision.action, r.decision.variant) == ("ship", "variant-b")


def test_defect_13_srm_min_sample_guardrails_and_division_by_zero() -> None:
    """SRM halts; below minSampleSize continues; a guardrail breach rolls back; zero variance
    and zero units give reasons, not a crash or NaN."""
    win = {"control": (N, 500), "variant-a": (N, 650), "variant-b": (N, 500)}
    srm = analyze(
        experiment(), scenario(win, units={"control": N, "variant-a": N, "variant-b": 5600})
    )
    assert srm.decision.action == "halt" and srm.srm.detected
    small = experiment(evaluation={"minSampleSize": 10 * N})
    assert analyze(small, scenario(win)).decision.action == "continue"
    errors = {"control": (N, 50), "variant-a": (N, 400), "variant-b": (N, 50)}
    assert analyze(experiment(), scenario(win, errors=errors)).decision.action == "rollback"
    zero = {"control": (N, 0), "variant-a": (0, 0), "variant-b": (N, 0)}
    flat_rev = {
        "control": (N, 5.0 * N, 25.0 * N),
        "variant-a": (0, 0, 0),
        "variant-b": (N, 5.0 * N, 25.0 * N),
    }
    r = analyze(
        experiment(),
        scenario(zero, revenue=flat_rev, units={"control": N, "variant-a": 0, "variant-b": N}),
    )
    json.dumps(r.to_dict(), allow_nan=False)
    assert not r.comparison("revenue", "variant-b").estimable
    assert "no variance" in (r.comparison("revenue", "variant-b").reason or "")


def test_defect_14_srm_threshold_is_one_documented_setting() -> None:
    """The halt threshold is evaluation.srmThreshold (default 0.01); the launch check uses
    launchSrmThreshold (default 0.05) and is reported separately."""
    win = {"control": (N, 500), "variant-a": (N, 500), "variant-b": (N, 500)}
    units = {"control": N, "variant-a": N, "variant-b": 5240}
    default = analyze(experiment(), scenario(win, units=units))
    assert default.srm.p_value is not None and 0.01 < default.srm.p_value < 0.05
    assert not default.srm.detected and default.decision.action != "halt"
    assert default.to_dict()["srm"]["launchCheckPassed"] is False
    strict = analyze(experiment(evaluation={"srmThreshold": 0.05}), scenario(win, units=units))
    assert strict.srm.detected and strict.decision.action == "halt"
