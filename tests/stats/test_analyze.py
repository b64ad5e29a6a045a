"""analyze(): the results JSON (docs/architecture.md), errors, options and rendering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from statsmodels.stats.multitest import multipletests

from splitlab import load_experiment
from splitlab.stats import (
    ArmSums,
    ExperimentEvaluator,
    ExperimentSums,
    LookError,
    SumsError,
    analyze,
)
from tests.conftest import ARTICLE_EXAMPLE
from tests.stats.helpers import experiment, scenario

DATA = Path(__file__).parent / "data" / "checkout-sums.json"
N = 5000
WIN_A = {"control": (N, 500), "variant-a": (N, 650), "variant-b": (N, 505)}


def _strict(results: object) -> dict:
    text = json.dumps(results.to_dict(), allow_nan=False)  # type: ignore[attr-defined]
    return json.loads(text)


def test_results_json_has_the_design_shape() -> None:
    """Every key of the documented results JSON is present with the documented types."""
    out = _strict(analyze(experiment(), scenario(WIN_A)))
    assert {"experimentId", "look", "srm", "decision", "metrics"} <= set(out)
    assert {"pValue", "detected", "counts", "expectedShares"} <= set(out["srm"])
    assert set(out["decision"]) == {"action", "variant", "reasons"}
    metric = out["metrics"][0]
    assert {"name", "role", "type", "comparisons"} <= set(metric)
    comp = metric["comparisons"][0]
    want = {"variant", "control", "absolute", "relative", "pValue", "adjustedPValue"}
    assert want | {"significant", "direction", "sequential"} <= set(comp)
    assert set(comp["absolute"]) == {"estimate", "lower", "upper"}
    assert {"boundary", "alphaSpent"} <= set(comp["sequential"])
    assert comp["direction"] in {"better", "worse", "none"}
    assert out["decision"]["action"] in {"continue", "ship", "stop", "rollback", "halt"}


def test_article_example_from_the_sums_file() -> None:
    """The article's template with a sums file: variant-a ships on its conversion rate."""
    exp = load_experiment(ARTICLE_EXAMPLE)
    sums = ExperimentSums.from_dict(json.loads(DATA.read_text()))
    r = analyze(exp, sums)
    assert (r.decision.action, r.decision.variant) == ("ship", "variant-a")
    assert r.look == 3


def test_family_is_variants_times_primary_and_secondary() -> None:
    """Bonferroni over 2 variants x (primary + 1 secondary) = 4 tests (statsmodels
    multipletests); guardrails are not in the family."""
    r = analyze(experiment(), scenario(WIN_A))
    fam = [c for m in r.metrics if m.role != "guardrail" for c in m.comparisons]
    raw = [c.p_value for c in fam]
    _, ref, _, _ = multipletests(raw, method="bonferroni")
    assert [c.adjusted_p_value for c in fam] == pytest.approx(list(ref))
    guard = r.comparison("errors", "variant-a")
    assert guard.adjusted_p_value == pytest.approx(guard.p_value)


@pytest.mark.parametrize("correction", ["holm", "benjamini_hochberg"])
def test_other_corrections_match_statsmodels(correction: str) -> None:
    """Holm and BH adjusted p-values in results equal multipletests on the raw p-values."""
    exp = experiment(evaluation={"correction": correction})
    r = analyze(exp, scenario(WIN_A))
    fam = [c for m in r.metrics if m.role != "guardrail" for c in m.comparisons]
    method = {"holm": "holm", "benjamini_hochberg": "fdr_bh"}[correction]
    _, ref, _, _ = multipletests([c.p_value for c in fam], method=method)
    assert [c.adjusted_p_value for c in fam] == pytest.approx(list(ref))


def test_last_look_boundary_is_the_published_constant() -> None:
    """Look 5 of 5 with full information, no correction: the OBF boundary is 2.031
    (Lan-DeMets OBF type, 5 equal looks, two-sided 0.05; Jennison & Turnbull / gsDesign)."""
    exp = experiment(evaluation={"correction": "none", "sequential": {"method": "alpha_spending"}})
    sums = scenario(WIN_A, look=5)
    comp = analyze(exp, sums, history=[0.2, 0.4, 0.6, 0.8]).comparison("conv", "variant-a")
    assert comp.sequential is not None
    assert comp.sequential.boundary == pytest.approx(2.031, abs=1e-3)
    assert comp.sequential.alpha_spent == pytest.approx(0.05)


def test_interim_look_boundary_is_stricter_than_fixed() -> None:
    """At look 1 of 5 (20% information) OBF needs |z| >= 4.877, not 1.96."""
    exp = experiment(
        evaluation={
            "correction": "none",
            "minSampleSize": 5 * N,
            "sequential": {"method": "alpha_spending"},
        }
    )
    comp = analyze(exp, scenario(WIN_A, look=1)).comparison("conv", "variant-a")
    assert comp.sequential.boundary == pytest.approx(4.877, abs=1e-3)
    assert comp.p_value < 0.05 and comp.sequential_p_value > comp.p_value


def test_look_beyond_max_peeks_is_refused_unless_allowed() -> None:
    """Look 6 of 5 raises LookError (a StatsError) unless allowExtraLooks."""
    with pytest.raises(LookError, match="beyond the 5 planned looks"):
        analyze(experiment(), scenario(WIN_A), look=6)
    allowed = experiment(evaluation={"allowExtraLooks": True})
    assert analyze(allowed, scenario(WIN_A), look=6).look == 6


def test_unknown_variant_and_wrong_experiment_are_refused() -> None:
    """Sums that do not fit the experiment are refused with the names involved."""
    bad = scenario({**WIN_A, "variant-z": (N, 500)})
    with pytest.raises(SumsError, match="'variant-z'"):
        analyze(experiment(), bad)
    other = ExperimentSums({}, {}, "another-exp")
    with pytest.raises(SumsError, match="another-exp"):
        analyze(experiment(), other)


@pytest.mark.parametrize(
    "conv,reason",
    [
        ({"control": (N, 500), "variant-a": (0, 0), "variant-b": (N, 500)}, "at least 2"),
        ({"control": (N, 0), "variant-a": (N, 0), "variant-b": (N, 500)}, "no unit converted"),
    ],
)
def test_not_estimable_is_explained_and_json_is_strict(conv: dict, reason: str) -> None:
    """Zero units or zero variance: estimable false with the reason, no NaN anywhere."""
    out = _strict(analyze(experiment(), scenario(conv)))
    comp = out["metrics"][0]["comparisons"][0]
    assert comp["estimable"] is False and reason in comp["reason"]
    assert comp["absolute"] is None and comp["pValue"] is None


def test_zero_control_mean_gives_no_relative_effect() -> None:
    """Control converts nobody, the variant some: absolute effect yes, relative null."""
    conv = {"control": (N, 0), "variant-a": (N, 40), "variant-b": (N, 0)}
    out = _strict(analyze(experiment(), scenario(conv)))
    comp = out["metrics"][0]["comparisons"][0]
    assert comp["absolute"] is not None and comp["relative"] is None
    assert any("control's mean is zero" in n for n in comp["notes"])


def test_missing_metric_sums_are_explained() -> None:
    """A metric without sums is not estimable, by name."""
    sums = scenario(WIN_A)
    partial = ExperimentSums(sums.units, {"conv": sums.metrics["conv"]}, "exp-stats", 1)
    comp = analyze(experiment(), partial).comparison("revenue", "variant-a")
    assert not comp.estimable and "no data for metric 'revenue'" in (comp.reason or "")


def test_segment_analysis_is_the_slice() -> None:
    """analyze(..., segment=s) equals analysing that segment's sums on their own."""
    whole = scenario(WIN_A)
    seg = scenario({"control": (2000, 200), "variant-a": (2000, 270), "variant-b": (2000, 200)})
    sums = ExperimentSums(whole.units, whole.metrics, "exp-stats", 1, {"country=US": seg})
    by_name = analyze(experiment(), sums, segment="country=US").to_dict()
    alone = analyze(experiment(), seg).to_dict()
    by_name.pop("segment")
    alone.pop("segment")
    assert by_name == alone


def test_experiment_evaluator_is_analyze() -> None:
    """The article's class name runs the same engine."""
    sums = scenario(WIN_A)
    assert ExperimentEvaluator(experiment()).evaluate(sums).to_dict() == (
        analyze(experiment(), sums).to_dict()
    )


def test_always_valid_is_more_conservative_than_fixed() -> None:
    """The mSPRT p-value is never below the fixed-horizon p-value and its interval is wider."""
    fixed = analyze(experiment(), scenario(WIN_A)).comparison("conv", "variant-a")
    exp = experiment(evaluation={"sequential": {"method": "always_valid"}})
    av = analyze(exp, scenario(WIN_A)).comparison("conv", "variant-a")
    assert av.sequential_p_value >= av.p_value
    assert av.absolute.upper - av.absolute.lower > fixed.absolute.upper - fixed.absolute.lower


def test_fieller_option_changes_only_the_relative_interval() -> None:
    """relativeInterval fieller: same estimate, an asymmetric interval."""
    delta = analyze(experiment(), scenario(WIN_A)).comparison("conv", "variant-a")
    exp = experiment(evaluation={"relativeInterval": "fieller"})
    fieller = analyze(exp, scenario(WIN_A)).comparison("conv", "variant-a")
    assert fieller.relative.estimate == pytest.approx(delta.relative.estimate)
    assert fieller.relative.upper != pytest.approx(delta.relative.upper, rel=1e-6)
    assert fieller.absolute == delta.absolute


def test_bayesian_method_reports_posteriors() -> None:
    """method bayesian: chance to beat control and expected loss per comparison."""
    exp = experiment(evaluation={"method": "bayesian"})
    r = analyze(exp, scenario(WIN_A))
    b = r.comparison("conv", "variant-a").bayesian
    assert b is not None and b.chance_to_beat_control > 0.99
    assert r.decision.action == "ship"
    _strict(r)


def test_cuped_metric_uses_the_covariate() -> None:
    """A CUPED metric with covariate sums gets theta and a smaller interval."""
    import numpy as np

    rng = np.random.default_rng(5)
    exp = experiment(
        metrics={"secondary": [{"name": "revenue", "type": "continuous", "cuped": True}]}
    )
    base = scenario(WIN_A)
    revenue = {}
    for v in ("control", "variant-a", "variant-b"):
        x = rng.gamma(2.0, 5.0, N)
        y = x + rng.normal(0, 2.0, N)
        revenue[v] = ArmSums.from_values(y, covariate=x)
    sums = ExperimentSums(base.units, {**base.metrics, "revenue": revenue}, "exp-stats", 1)
    comp = analyze(exp, sums).comparison("revenue", "variant-a")
    plain = analyze(experiment(), sums).comparison("revenue", "variant-a")
    width = comp.absolute.upper - comp.absolute.lower
    assert width < 0.5 * (plain.absolute.upper - plain.absolute.lower)


def test_results_render_in_terminal_and_notebook() -> None:
    """__rich__ and _repr_html_ show the metrics and the decision."""
    r = analyze(experiment(), scenario(WIN_A))
    console = Console(record=True, width=200)
    console.print(r)
    text = console.export_text()
    assert "Decision: ship variant-a" in text and "conv" in text
    page = r._repr_html_()
    assert "<table>" in page and "ship variant-a" in page


def test_ratio_metric_end_to_end() -> None:
    """A ratio metric (clicks / sessions) is analysed by the delta method from its sums; a
    missing denominator is explained."""
    import numpy as np

    rng = np.random.default_rng(9)
    exp = experiment(
        metrics={
            "secondary": [
                {"name": "ctr", "type": "ratio", "numerator": "click", "denominator": "session"}
            ]
        }
    )
    base = scenario(WIN_A)
    ctr = {}
    for v, rate in zip(("control", "variant-a", "variant-b"), (0.2, 0.23, 0.2), strict=True):
        sessions = rng.poisson(3.0, N) + 1.0
        clicks = rng.binomial(sessions.astype(int), rate).astype(float)
        ctr[v] = ArmSums.from_values(clicks, denominator=sessions)
    sums = ExperimentSums(base.units, {**base.metrics, "ctr": ctr}, "exp-stats", 1)
    comp = analyze(exp, sums).comparison("ctr", "variant-a")
    assert comp.estimable and comp.direction == "better"
    assert comp.control_mean == pytest.approx(ctr["control"].sum / ctr["control"].denominator.sum)
    broken = {**ctr, "control": ArmSums(N, 10.0, 10.0)}
    sums = ExperimentSums(base.units, {**base.metrics, "ctr": broken}, "exp-stats", 1)
    comp = analyze(exp, sums).comparison("ctr", "variant-a")
    assert not comp.estimable and "denominator" in (comp.reason or "")


def test_relative_guardrail_threshold() -> None:
    """thresholdType relative: errors tripling (+200%) breach a 50% margin; a flat rate with
    a 50% margin passes once the interval excludes +50%."""
    exp = experiment(
        metrics={"guardrails": [{"name": "errors", "threshold": 0.5, "thresholdType": "relative"}]}
    )
    errors = {"control": (N, 50), "variant-a": (N, 150), "variant-b": (N, 50)}
    r = analyze(exp, scenario(WIN_A, errors=errors))
    assert r.comparison("errors", "variant-a").guardrail.verdict == "breached"
    assert r.comparison("errors", "variant-b").guardrail.verdict == "passed"
    assert r.decision.action == "rollback"


def test_guardrail_uses_its_own_sequential_boundary() -> None:
    """At 20% information under OBF the guardrail's one-sided bound is wide: a harm that a
    fixed-horizon test calls breached is still unknown at look 1 of 5."""
    errors = {"control": (N, 50), "variant-a": (N, 180), "variant-b": (N, 50)}
    fixed = analyze(experiment(), scenario(WIN_A, errors=errors))
    assert fixed.comparison("errors", "variant-a").guardrail.verdict == "breached"
    seq = experiment(
        evaluation={"minSampleSize": 5 * N, "sequential": {"method": "alpha_spending"}}
    )
    early = analyze(seq, scenario(WIN_A, errors=errors, look=1))
    assert early.comparison("errors", "variant-a").guardrail.verdict == "unknown"


def test_same_sums_object_for_two_metric_types() -> None:
    """One ArmSums object reused for a conversion and a continuous metric is read per type."""
    sums = scenario(WIN_A)
    shared = sums.metrics["conv"]
    both = ExperimentSums(sums.units, {**sums.metrics, "revenue": shared}, "exp-stats", 1)
    r = analyze(experiment(), both)
    rev = r.comparison("revenue", "variant-a")
    from scipy import stats as sps

    def s2(n: float, x: float) -> float:  # Bessel-corrected variance of 0/1 data
        return (x - x * x / n) / (n - 1)

    (n_c, x_c), (n_t, x_t) = WIN_A["control"], WIN_A["variant-a"]
    v_c, v_t = s2(n_c, x_c) / n_c, s2(n_t, x_t) / n_t
    df = (v_c + v_t) ** 2 / (v_c**2 / (n_c - 1) + v_t**2 / (n_t - 1))
    half = sps.t.ppf(1 - 0.05 / 8, df) * (v_c + v_t) ** 0.5  # Bonferroni over 4 comparisons
    assert rev.absolute.upper - rev.absolute.estimate == pytest.approx(half, rel=1e-9)


@pytest.mark.parametrize("method", ["none", "alpha_spending", "always_valid"])
def test_intervals_agree_with_adjusted_p_values(method: str) -> None:
    """Bonferroni: the interval excludes 0 exactly when adjusted p <= alpha (continuous metric,
    Welch), under every way of handling looks."""
    import numpy as np

    from tests.stats.helpers import simulate, sums_from_arrays

    exp = experiment(evaluation={"sequential": {"method": method}, "minSampleSize": 2000})
    agree = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        lift = 0.25 * (seed % 8)
        data = simulate(rng, 1500, means=(10.0, 10.0 + lift, 10.0 - lift / 2))
        r = analyze(exp, sums_from_arrays(data, look=2))
        for c in r.metric("revenue").comparisons:
            excludes = c.absolute.lower > 0 or c.absolute.upper < 0
            agree += excludes == c.significant
    assert agree == 60
