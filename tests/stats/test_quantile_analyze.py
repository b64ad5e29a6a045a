"""Quantile metrics in analyze() and in the sums JSON (sketch and clustered sums)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from rich.console import Console
from scipy import stats as sps

from splitlab.stats import ArmSums, ExperimentSums, SumsError, analyze
from splitlab.stats.quantile import (
    ClusteredSums,
    clustered_sums,
    quantile_bucket,
    quantile_difference,
)
from splitlab.stats.sketch import Sketch
from tests.stats.helpers import experiment

VARIANTS = ["control", "variant-a"]
P95 = {
    "name": "latency",
    "type": "quantile",
    "quantile": 0.95,
    "per": "event",
    "direction": "decrease",
}


def _arm(values: np.ndarray, units: np.ndarray | None = None, p: float = 0.95) -> ArmSums:
    sketch = Sketch.from_values(values)
    clustered = None
    if units is not None:
        clustered = clustered_sums(values, units, quantile_bucket(sketch, p))
    return ArmSums(
        float(values.size),
        float(values.sum()),
        float(values @ values),
        sketch=sketch,
        clustered=clustered,
    )


def _events(rng: np.random.Generator, units: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    per = rng.integers(1, 6, units)
    owner = np.repeat(np.arange(units), per)
    effect = rng.normal(0, 0.4, units)[owner]
    return np.exp(3.0 + shift + effect + rng.normal(0, 0.5, owner.size)), owner


def _sums(arms: dict[str, ArmSums], units: float = 2000.0) -> ExperimentSums:
    return ExperimentSums(dict.fromkeys(arms, units), {"latency": arms}, "exp-stats", 1)


def test_analyze_gives_the_quantile_difference() -> None:
    """Without corrections or sequential looks, the comparison is quantile_difference's
    absolute difference, interval and p-value; the relative change uses the delta method
    on the ratio (as for means): its interval is checked by hand."""
    exp = experiment(
        variants=VARIANTS,
        metrics={"primary": P95, "secondary": [], "guardrails": []},
        evaluation={"correction": "none", "sequential": {"method": "none"}},
    )
    rng = np.random.default_rng(1)
    (xc, uc), (xt, ut) = _events(rng, 2000, 0.0), _events(rng, 2000, 0.15)
    control, variant = _arm(xc, uc), _arm(xt, ut)
    results = analyze(exp, _sums({"control": control, "variant-a": variant}))
    c = results.comparison("latency", "variant-a")
    assert control.sketch is not None and variant.sketch is not None
    direct = quantile_difference(
        control.sketch,
        variant.sketch,
        0.95,
        0.05,
        control_clustered=control.clustered,
        treatment_clustered=variant.clustered,
    )
    assert c.absolute is not None and c.relative is not None
    assert (c.absolute.estimate, c.absolute.lower, c.absolute.upper) == pytest.approx(
        (direct.estimate, direct.lower, direct.upper), rel=1e-12
    )
    assert c.p_value == pytest.approx(direct.p_value, rel=1e-9)
    assert c.units == (xc.size, xt.size)  # events
    assert c.significant and c.direction == "worse"
    # delta method on (q_t - q_c) / q_c with var(q_t) = se_t^2, var(q_c) = se_c^2
    z = sps.norm.ppf(0.975)
    qc, qt = direct.control.estimate, direct.treatment.estimate
    se_c, se_t = direct.control.se(z), direct.treatment.se(z)
    se_rel = math.sqrt(se_t**2 / qc**2 + qt**2 * se_c**2 / qc**4)
    assert c.relative.estimate == pytest.approx(qt / qc - 1, rel=1e-9)
    assert c.relative.upper - c.relative.lower == pytest.approx(2 * z * se_rel, rel=1e-6)
    # the results say which quantile, in JSON and in the terminal
    metric = results.to_dict()["metrics"][0]
    assert metric["type"] == "quantile" and metric["quantile"] == "p95 per event"
    out = io.StringIO()
    Console(file=out, width=120).print(results)
    assert "latency (p95 per event, primary)" in out.getvalue()


def test_sequential_looks_and_guardrails_work_unchanged() -> None:
    guard = {**P95, "name": "latency", "threshold": 0.05, "thresholdType": "relative"}
    exp = experiment(
        variants=VARIANTS,
        metrics={
            "primary": {"name": "conv", "type": "conversion"},
            "secondary": [],
            "guardrails": [guard],
        },
        evaluation={"sequential": {"method": "always_valid"}},
    )
    rng = np.random.default_rng(2)
    (xc, uc), (xt, ut) = _events(rng, 1500, 0.0), _events(rng, 1500, 0.3)
    conv = {v: ArmSums.from_values(rng.random(1500) < 0.1) for v in VARIANTS}
    sums = ExperimentSums(
        dict.fromkeys(VARIANTS, 1500.0),
        {"conv": conv, "latency": {"control": _arm(xc, uc), "variant-a": _arm(xt, ut)}},
        "exp-stats",
        1,
    )
    results = analyze(exp, sums)
    c = results.comparison("latency", "variant-a")
    assert c.estimable and c.sequential_p_value is not None
    assert c.sequential_p_value >= c.p_value  # always-valid p-values are larger
    assert c.guardrail is not None and c.guardrail.verdict == "breached"
    assert results.decision.action == "rollback"


def test_missing_clustered_sums_and_sketches_are_explained() -> None:
    exp = experiment(variants=VARIANTS, metrics={"primary": P95, "secondary": [], "guardrails": []})
    rng = np.random.default_rng(3)
    x = rng.lognormal(0, 1, 500)
    plain = {"control": _arm(x), "variant-a": _arm(x * 1.1)}
    c = analyze(exp, _sums(plain, 500)).comparison("latency", "variant-a")
    assert c.estimable
    assert any("treats the events as independent" in n for n in c.notes)
    no_sketch = {"control": ArmSums.from_values(x), "variant-a": ArmSums.from_values(x)}
    c = analyze(exp, _sums(no_sketch, 500)).comparison("latency", "variant-a")
    assert not c.estimable and c.reason is not None and "no sketch" in c.reason
    empty = {"control": ArmSums(0.0, 0.0, 0.0, sketch=Sketch()), "variant-a": _arm(x)}
    c = analyze(exp, _sums(empty, 500)).comparison("latency", "variant-a")
    assert not c.estimable and c.reason is not None and "0 value(s)" in c.reason


def test_cluster_design_refuses_quantile_metrics_clearly() -> None:
    exp = experiment(
        assignment={"hashKey": "accountId", "salt": "s"},
        design={"type": "cluster", "analysisUnit": "userId"},
        variants=VARIANTS,
        metrics={"primary": {"name": "conv", "type": "conversion"}, "secondary": [P95]},
        evaluation={"minSampleSize": 30},
    )
    rng = np.random.default_rng(4)
    arms = {v: ArmSums.from_values(rng.random(40) < 0.2, denominator=np.ones(40)) for v in VARIANTS}
    sizes = {v: ArmSums(40.0, 40.0, 40.0) for v in VARIANTS}
    sums = ExperimentSums(
        dict.fromkeys(VARIANTS, 40.0),
        {"conv": arms, "latency": arms},
        "exp-stats",
        1,
        cluster_sizes=sizes,
    )
    c = analyze(exp, sums).comparison("latency", "variant-a")
    assert not c.estimable and c.reason is not None
    assert "classic (and canary) experiments only" in c.reason


def test_sums_json_round_trip_and_exact_merge() -> None:
    rng = np.random.default_rng(5)
    (xa, ua), (xb, ub) = _events(rng, 300, 0.0), _events(rng, 200, 0.0)
    a, b = _arm(xa, ua), _arm(xb, ub + 1000)
    assert ArmSums.from_dict(a.to_dict(), "$") == a
    merged = a + b
    assert merged.sketch == Sketch.from_values(np.concatenate([xa, xb]))
    assert merged.n == xa.size + xb.size
    # clustered sums of disjoint units add when taken at the same bucket, else are dropped
    assert a.clustered is not None and b.clustered is not None
    same = b.clustered.bucket == a.clustered.bucket
    assert (merged.clustered is not None) == same
    at_a = ArmSums(b.n, b.sum, b.sum_sq, sketch=b.sketch, clustered=clustered_sums(
        xb, ub + 1000, a.clustered.bucket))  # fmt: skip
    both = (a + at_a).clustered
    assert both == clustered_sums(
        np.concatenate([xa, xb]), np.concatenate([ua, ub + 1000]), a.clustered.bucket
    )
    # an empty arm without a sketch adds; a non-empty one does not
    assert (a + ArmSums(0.0, 0.0, 0.0)).sketch == a.sketch
    with pytest.raises(SumsError, match="sketch"):
        _ = a + ArmSums.from_values(xb)


def test_bad_sketch_json_is_refused_with_its_path() -> None:
    good = _arm(np.array([1.0, 2.0, 3.0]), np.array([0, 0, 1]), 0.5).to_dict()
    doc = {"units": {"control": 2}, "metrics": {"latency": {"control": good}}}
    assert ExperimentSums.from_dict(doc).metrics["latency"]["control"].n == 3  # events > units
    bad = {**good, "sketch": {**good["sketch"], "positive": {"x": 1}}}
    with pytest.raises(SumsError, match=r"latency\.control\.sketch\.positive"):
        ExperimentSums.from_dict({"metrics": {"latency": {"control": bad}}})
    wrong_count = {**good, "n": 4, "sum": 7.0, "sumSq": 15.0}
    with pytest.raises(SumsError, match=r"sketch\.count: expected n = 4"):
        ExperimentSums.from_dict({"metrics": {"latency": {"control": wrong_count}}})
    bad_clustered = {**good, "clustered": {**good["clustered"], "units": -1}}
    with pytest.raises(SumsError, match=r"clustered\.units"):
        ExperimentSums.from_dict({"metrics": {"latency": {"control": bad_clustered}}})
    not_object = {**good, "clustered": [1, 2]}
    with pytest.raises(SumsError, match=r"latency\.control\.clustered: expected an object"):
        ExperimentSums.from_dict({"metrics": {"latency": {"control": not_object}}})
    assert isinstance(ClusteredSums.from_dict(good["clustered"]), ClusteredSums)
