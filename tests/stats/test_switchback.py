"""Switchback statistics: HT by hand, the regression against statsmodels, the analyze path."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from splitlab.stats import ExperimentSums, analyze
from splitlab.stats.difference import Difference, NotEstimable
from splitlab.stats.errors import SumsError
from splitlab.stats.sums import ArmSums, CrossSums
from splitlab.stats.switchback import cell_sums, horvitz_thompson
from splitlab.stats.switchback_cells import SwitchbackCells
from splitlab.stats.switchback_regression import (
    fit_regression,
    period_regression,
    regression_difference,
)
from tests.stats.helpers import experiment

SWITCHBACK = {"type": "switchback", "unit": "region", "periodSeconds": 3600, "burnInSeconds": 600}


def switchback_experiment(**over: Any) -> Any:
    base: dict[str, Any] = {
        "variants": ["control", "variant-a", "variant-b"],
        "design": SWITCHBACK,
        "metrics": {
            "primary": {"name": "orders", "type": "continuous", "aggregation": "count"},
            "secondary": [
                {"name": "revenue", "type": "continuous"},
                {"name": "aov", "type": "ratio", "numerator": "revenue", "denominator": "orders"},
            ],
            "guardrails": [],
        },
        "evaluation": {"minSampleSize": 50},
    }
    base.update(over)
    return experiment(**base)


def fixture_cells(seed: int = 7, units: int = 8, periods: int = 60) -> SwitchbackCells:
    """A fixed cell table: AR(1) demand per region, a period effect, three variants."""
    rng = np.random.default_rng(seed)
    names = ("control", "variant-a", "variant-b")
    w = rng.choice(3, size=(units, periods), p=[0.5, 0.25, 0.25])
    shock = np.zeros((units, periods))
    for t in range(1, periods):
        shock[:, t] = 0.6 * shock[:, t - 1] + rng.normal(0, 0.3, units)
    level = 50 * np.exp(shock + rng.normal(0, 0.5, (units, 1)) + np.sin(np.arange(periods))[None])
    orders = rng.poisson(level * (1 + 0.1 * (w == 1)))
    revenue = orders * rng.gamma(20, 1.0, (units, periods))
    return SwitchbackCells(
        tuple(f"r{i}" for i in range(units)),
        100,
        periods,
        tuple(names[i] for i in w.ravel()),
        {
            "orders": tuple(orders.ravel().astype(float)),
            "revenue": tuple(revenue.ravel()),
            "aov": tuple(revenue.ravel()),
        },
        {"aov": tuple(orders.ravel().astype(float))},
    )


def test_regression_matches_statsmodels_cluster_ols() -> None:
    cells = fixture_cells()
    frame = pd.DataFrame(
        {
            "y": cells.outcome("revenue"),
            "variant": cells.variants,
            "period": cells.period_index(),
            "unit": cells.unit_index(),
        }
    )
    frame = frame[frame.variant.isin(["control", "variant-a"])].copy()
    frame["treated"] = (frame.variant == "variant-a").astype(float)
    # Reference: statsmodels OLS with period dummies and CR1 errors clustered by unit.
    ref = smf.ols("y ~ treated + C(period)", data=frame).fit(
        cov_type="cluster", cov_kwds={"groups": frame["unit"]}
    )
    fit = fit_regression(cells, "revenue", "control", "variant-a")
    assert not isinstance(fit, NotEstimable)
    assert fit.estimate == pytest.approx(ref.params["treated"], rel=1e-6, abs=1e-6)
    assert fit.se == pytest.approx(ref.bse["treated"], rel=1e-6, abs=1e-6)
    assert fit.units == 8
    # The control mean's cluster-robust variance: the constant of y ~ 1 on control cells.
    ctrl = frame[frame.treated == 0]
    ref_c = smf.ols("y ~ 1", data=ctrl).fit(cov_type="cluster", cov_kwds={"groups": ctrl["unit"]})
    n, k = len(frame), frame.period.nunique() + 1
    # y ~ 1 has K = 1, so its CR1 factor is G/(G - 1); ours carries the full fit's (N-1)/(N-K).
    rescale = (n - 1) / (n - k)
    assert fit.control_mean == pytest.approx(ref_c.params["Intercept"], rel=1e-9)
    assert fit.var_control_mean == pytest.approx(ref_c.bse["Intercept"] ** 2 * rescale, rel=1e-6)
    diff = regression_difference(fit)
    assert isinstance(diff, Difference)
    assert diff.df == 7


def test_regression_needs_two_units() -> None:
    y = np.arange(10.0)
    out = period_regression(y, (y % 2).astype(float), np.arange(10), np.zeros(10, dtype=np.int64))
    assert isinstance(out, NotEstimable)
    assert "2 units" in out.reason


def test_horvitz_thompson_by_hand() -> None:
    cells = fixture_cells()
    y, v = cells.outcome("revenue"), cells.variant_array()
    c = y.size
    p = {"control": 0.5, "variant-a": 0.25}
    arm = {k: ArmSums.from_values(y[v == k]) for k in p}
    d = horvitz_thompson(arm["control"], arm["variant-a"], 0.5, 0.25, c)
    assert isinstance(d, Difference)
    # By hand (numpy): Yhat_v = sum 1{W=v} Y / (p_v C); Vhat = sum 1{W=v} Y^2 / (p_v C)^2.
    est = {k: (y * (v == k)).sum() / (p[k] * c) for k in p}
    var = {k: (y**2 * (v == k)).sum() / (p[k] * c) ** 2 for k in p}
    assert d.estimate == pytest.approx(est["variant-a"] - est["control"], rel=1e-12)
    assert d.se == pytest.approx(math.sqrt(var["variant-a"] + var["control"]), rel=1e-12)
    assert d.control_mean == pytest.approx(est["control"], rel=1e-12)
    assert math.isinf(d.df)


def test_horvitz_thompson_ratio_is_ratio_of_totals_with_linearised_variance() -> None:
    cells = fixture_cells()
    y, den, v = cells.outcome("aov"), cells.denominator("aov"), cells.variant_array()
    assert den is not None
    arms = {k: ArmSums.from_values(y[v == k], denominator=den[v == k]) for k in v}
    d = horvitz_thompson(arms["control"], arms["variant-b"], 0.5, 0.25, y.size, ratio=True)
    assert isinstance(d, Difference)
    r = {k: y[v == k].sum() / den[v == k].sum() for k in ("control", "variant-b")}
    var = {
        k: ((y[v == k] - r[k] * den[v == k]) ** 2).sum() / den[v == k].sum() ** 2
        for k in ("control", "variant-b")
    }
    assert d.estimate == pytest.approx(r["variant-b"] - r["control"], rel=1e-12)
    assert d.se == pytest.approx(math.sqrt(sum(var.values())), rel=1e-9)


def test_horvitz_thompson_refuses_small_and_empty_arms() -> None:
    one = ArmSums(1.0, 3.0, 9.0)
    two = ArmSums(2.0, 0.0, 0.0)
    assert isinstance(horvitz_thompson(one, two, 0.5, 0.5, 3.0), NotEstimable)
    out = horvitz_thompson(two, two, 0.5, 0.5, 4.0)
    assert isinstance(out, NotEstimable) and "no variance" in out.reason
    ratio = horvitz_thompson(two, ArmSums(2.0, 1.0, 1.0, None, CrossSums()), 0.5, 0.5, 4, True)
    assert isinstance(ratio, NotEstimable) and "denominator" in ratio.reason


def test_analyze_a_switchback_reports_design_and_regression() -> None:
    exp = switchback_experiment(variants=[
        {"name": "control", "weight": 0.5}, {"name": "variant-a", "weight": 0.25},
        {"name": "variant-b", "weight": 0.25},
    ])  # fmt: skip
    cells = fixture_cells()
    sums = cell_sums(exp, cells)
    assert sums.units == cells.counts(exp.variant_names)
    results = analyze(exp, sums)
    out = results.to_dict()
    design = out["design"]
    assert design["type"] == "switchback"
    assert design["unit"] == "region"
    assert design["units"] == 8 and design["periods"] == 60
    assert design["estimator"] == "horvitz_thompson"
    assert sum(design["cells"].values()) == 480
    assert any("only 8 switchback units" in w for w in design["warnings"])
    assert any("only 8 switchback units" in w for w in out["warnings"])
    # SRM counts cells against the weights (chi-square on the cell counts).
    assert results.srm.counts == cells.counts(exp.variant_names)
    orders = results.comparison("orders", "variant-a")
    assert orders.estimable
    assert any(n.startswith("regression with period fixed effects") for n in orders.notes)
    # HT through analyze equals the function on the same sums.
    arms = sums.metrics["orders"]
    ht = horvitz_thompson(arms["control"], arms["variant-a"], 0.5, 0.25, 480.0)
    assert isinstance(ht, Difference) and orders.absolute is not None
    assert orders.absolute.estimate == pytest.approx(ht.estimate)
    aov = results.comparison("aov", "variant-b")
    assert aov.estimable and not any(n.startswith("regression") for n in aov.notes)
    json.dumps(out, allow_nan=False)


def test_sums_with_cells_round_trip_through_json() -> None:
    exp = switchback_experiment()
    sums = cell_sums(exp, fixture_cells(units=3, periods=5))
    again = ExperimentSums.from_dict(json.loads(json.dumps(sums.to_dict())), experiment=exp)
    assert again.cells == sums.cells
    assert analyze(exp, again).to_dict() == analyze(exp, sums).to_dict()


def test_bad_cell_tables_are_refused_with_the_field() -> None:
    exp = switchback_experiment()
    doc = cell_sums(exp, fixture_cells(units=2, periods=3)).to_dict()
    doc["cells"]["variants"] = doc["cells"]["variants"][:-1]
    with pytest.raises(SumsError, match="expected 6"):
        ExperimentSums.from_dict(doc)
    doc["cells"]["periods"] = "three"
    with pytest.raises(SumsError) as caught:
        ExperimentSums.from_dict(doc)
    assert caught.value.details()[0]["path"] == "$.cells.periods"


def test_global_switchback_has_one_unit_and_no_regression() -> None:
    exp = switchback_experiment(design={**SWITCHBACK, "unit": None})
    rng = np.random.default_rng(3)
    periods = 200
    variants = tuple(rng.choice(["control", "variant-a", "variant-b"], periods))
    cells = SwitchbackCells(
        (None,), 0, periods, variants, {"orders": tuple(rng.poisson(30, periods) * 1.0),
        "revenue": tuple(rng.gamma(5, 10, periods)), "aov": tuple(rng.gamma(5, 10, periods))},
        {"aov": tuple(rng.poisson(30, periods) + 1.0)},
    )  # fmt: skip
    sums = cell_sums(exp, cells)
    assert sums.cells is None  # the regression does not apply, so the table is not carried
    out = analyze(exp, sums).to_dict()
    assert out["design"]["units"] == 1 and out["design"]["periods"] == periods
    assert out["design"]["unit"] is None
    assert not any("regression" in w for w in out["design"]["warnings"])
    comparison = out["metrics"][0]["comparisons"][0]
    assert comparison["estimable"]
    assert not any(n.startswith("regression") for n in comparison["notes"])


def test_bayesian_method_uses_the_normal_posterior_for_cell_conversions() -> None:
    exp = switchback_experiment(
        evaluation={"method": "bayesian", "minSampleSize": 50},
        metrics={"primary": {"name": "orders", "type": "conversion"}},
    )
    rng = np.random.default_rng(11)
    periods = 120
    names = ("control", "variant-a", "variant-b")
    cells = SwitchbackCells(
        ("a", "b"), 0, periods, tuple(names[i] for i in rng.integers(0, 3, 2 * periods)),
        {"orders": tuple(rng.poisson(12, 2 * periods) * 1.0)},
    )  # fmt: skip
    out = analyze(exp, cell_sums(exp, cells)).to_dict()
    comparison = out["metrics"][0]["comparisons"][0]
    # Per-cell converted users (about 12 per cell) are no share of units: a normal posterior.
    assert comparison["bayesian"]["prior"] == "flat"
    assert 0.0 <= comparison["bayesian"]["chanceToBeatControl"] <= 1.0


def _asking_for_regression(exp: Any) -> Any:
    """The definition with ``design.estimator: "regression"`` (a field config may add)."""
    return exp.model_copy(
        update={"design": exp.design.model_copy(update={"estimator": "regression"})}
    )


def test_a_design_asking_for_the_regression_gets_it_where_it_applies() -> None:
    exp = _asking_for_regression(switchback_experiment())
    cells = fixture_cells()
    results = analyze(exp, cell_sums(exp, cells))
    assert results.to_dict()["design"]["estimator"] == "regression"
    comparison = results.comparison("revenue", "variant-a")
    fit = fit_regression(cells, "revenue", "control", "variant-a")
    assert not isinstance(fit, NotEstimable) and comparison.absolute is not None
    assert comparison.absolute.estimate == pytest.approx(fit.estimate, rel=1e-12)
    # The ratio metric has no regression: Horvitz-Thompson, with a note.
    assert any(
        "Horvitz-Thompson is used" in n for n in results.comparison("aov", "variant-a").notes
    )
    # A global switchback cannot have it: HT, and a warning says why.
    one = _asking_for_regression(switchback_experiment(design={**SWITCHBACK, "unit": None}))
    single = SwitchbackCells((None,), 0, 40, cells.variants[:40],
                             {k: v[:40] for k, v in cells.values.items()},
                             {k: v[:40] for k, v in cells.denominators.items()})  # fmt: skip
    out = analyze(one, cell_sums(one, single)).to_dict()["design"]
    assert out["estimator"] == "horvitz_thompson"
    assert any("needs at least 2 units" in w for w in out["warnings"])
