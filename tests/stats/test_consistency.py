"""One rule at every look: "significant" is what the interval shown next to it says.

For every comparison in the family, under every correction, both spending functions, the
always-valid test and fixed looks: significant <=> the absolute interval excludes 0 <=>
adjusted p <= alpha <=> |z| reaches the reported boundary; the direction follows the sign;
Fieller's relative interval agrees too, and a delta-method one that does not says so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scipy import special

from splitlab.config import load_experiment
from splitlab.stats import ArmSums, ExperimentSums, analyze
from splitlab.stats.results import Comparison, Results
from tests.stats.helpers import experiment

NAMES = ("control", "variant-a", "variant-b")
ALPHA = 0.05
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "exp-checkout-flow-v3.json"


def _excludes_zero(c: Comparison) -> bool:
    a = c.absolute
    return a is not None and (a.lower > 0 or a.upper < 0)


def _z_equivalent(c: Comparison) -> float:
    assert c.p_value is not None
    return float(-special.ndtri(c.p_value / 2.0)) if c.p_value < 1 else 0.0


def _check(results: Results, relative_interval: str) -> int:
    """Assert the rule on every estimable comparison; return how many were significant."""
    count = 0
    for metric in results.metrics:
        increase = metric.direction == "increase"
        for c in metric.comparisons:
            if not c.estimable:
                assert not c.significant and c.direction == "none"
                continue
            assert c.absolute is not None or not c.significant
            excludes = _excludes_zero(c)
            where = (metric.name, c.variant, c.absolute, c.adjusted_p_value, c.sequential)
            assert c.significant == excludes, where
            assert c.adjusted_p_value is not None
            assert (c.adjusted_p_value <= ALPHA) == c.significant or c.absolute is None, where
            if c.significant:
                count += 1
                assert c.absolute is not None
                better = (c.absolute.lower > 0) == increase
                assert c.direction == ("better" if better else "worse"), where
            else:
                assert c.direction == "none"
            seq = c.sequential
            if seq is not None and seq.boundary is not None:
                z = _z_equivalent(c)
                assert c.significant == (z >= seq.boundary) or math.isclose(
                    z, seq.boundary, rel_tol=1e-9
                ), where
            rel = c.relative
            if rel is None:
                continue
            rel_excludes = rel.lower > 0 or rel.upper < 0
            if relative_interval == "fieller":
                assert rel_excludes == c.significant, where
            elif rel_excludes != c.significant:
                assert any("different pivots" in n for n in c.notes), where
    return count


def _arms(n: int, rate: float, zs: tuple[float, float]) -> dict[str, ArmSums]:
    """Conversions: control at `rate`, each variant `z` standard errors away from it."""
    se = math.sqrt(2.0 * rate * (1.0 - rate) / n)
    out = {"control": ArmSums(n, round(n * rate), round(n * rate))}
    for v, z in zip(NAMES[1:], zs, strict=True):
        x = min(max(round(n * (rate + z * se)), 0), n)
        out[v] = ArmSums(n, x, x)
    return out


def _means(draw: st.DrawFn, n: int, zs: tuple[float, float]) -> dict[str, ArmSums]:
    """A continuous metric (mean 10, sd drawn per arm), variants `z` standard errors away."""
    out = {}
    for v, z in zip(NAMES, (0.0, *zs), strict=True):
        sd = draw(st.floats(1.0, 6.0))
        mean = 10.0 + z * math.sqrt(2.0 * 16.0 / n)
        out[v] = ArmSums(n, mean * n, (sd * sd * (n - 1) / n + mean * mean) * n)
    return out


Z = st.floats(-6.0, 6.0, allow_nan=False)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.data(),
    st.sampled_from(["bonferroni", "holm", "benjamini_hochberg", "none"]),
    st.sampled_from(
        [
            ("none", None),
            ("alpha_spending", "obrien_fleming"),
            ("alpha_spending", "pocock"),
            ("always_valid", None),
        ]
    ),
    st.integers(1, 5),
    st.sampled_from(["delta", "fieller"]),
    st.sampled_from(["frequentist_t_test", "frequentist_z_test"]),
)
def test_significant_iff_the_interval_excludes_zero(
    data: st.DataObject,
    correction: str,
    sequential: tuple[str, str | None],
    look: int,
    relative_interval: str,
    method: str,
) -> None:
    """At any look, under any correction and sequential design, a comparison is significant
    exactly when its absolute interval excludes 0 and its adjusted p-value is <= alpha."""
    n = data.draw(st.integers(30, 6000), label="n")
    rate = data.draw(st.floats(0.03, 0.6), label="rate")
    conv = _arms(n, rate, (data.draw(Z), data.draw(Z)))
    other = _arms(n, rate, (data.draw(Z), data.draw(Z)))
    revenue = _means(data.draw, n, (data.draw(Z), data.draw(Z)))
    errors = _arms(n, 0.05, (data.draw(Z), data.draw(Z)))
    seq: dict[str, object] = {"method": sequential[0]}
    if sequential[1] is not None:
        seq["spending"] = sequential[1]
    exp = experiment(
        metrics={
            "primary": {"name": "conv", "type": "conversion", "direction": "increase"},
            "secondary": [
                {"name": "revenue", "type": "continuous"},
                {"name": "other", "type": "conversion", "direction": "decrease"},
            ],
            "guardrails": [{"name": "errors", "threshold": 0.02, "action": "rollback"}],
        },
        evaluation={
            "method": method,
            "correction": correction,
            "sequential": seq,
            "relativeInterval": relative_interval,
            "minSampleSize": data.draw(st.integers(100, 8000), label="minSampleSize"),
        },
    )
    sums = ExperimentSums(
        {v: float(n) for v in NAMES},
        {"conv": conv, "other": other, "revenue": revenue, "errors": errors},
        "exp-stats",
        look,
    )
    significant = _check(analyze(exp, sums, look), relative_interval)
    event(f"significant comparisons: {min(significant, 3)}{'+' if significant >= 3 else ''}")


def _checkout_sums(x_control: int, x_variant: int, n: int = 16000) -> ExperimentSums:
    conv = {
        "control": ArmSums(n, x_control, x_control),
        "variant-a": ArmSums(n, x_variant, x_variant),
        "variant-b": ArmSums(n, x_control, x_control),
    }
    return ExperimentSums(
        {v: float(n) for v in conv},
        {
            "checkout_completion_rate": conv,
            "avg_session_duration": {v: ArmSums(n, 300.0 * n, 1.5 * 300.0**2 * n) for v in conv},
            "cart_abandonment_rate": {v: ArmSums(n, 0.3 * n, 0.3 * n) for v in conv},
            "error_rate": {v: ArmSums(n, 0.01 * n, 0.01 * n) for v in conv},
        },
        "exp-checkout-flow-v3",
        5,
    )


def test_checkout_case_quotes_the_interval_of_its_own_test() -> None:
    """The dashboard case (seed 2026): at look 5 of exp-checkout-flow-v3, 1698/16000 against
    1550/16000 is significant and the sentence once quoted a delta-method lift interval of
    -0.21% to +19.31%; now the sentence quotes the absolute interval, which excludes 0, the
    comparison notes the delta interval's other pivot, and Fieller's lift interval agrees."""
    exp = load_experiment(json.loads(EXAMPLE.read_text()))
    results = analyze(exp, _checkout_sums(1550, 1698), 5)
    c = results.metrics[0].comparisons[0]
    assert c.variant == "variant-a" and c.significant and c.direction == "better"
    assert c.absolute is not None and c.absolute.lower > 0
    assert c.relative is not None and c.relative.lower < 0  # the delta pivot near the edge
    assert any("different pivots" in n for n in c.notes)
    assert results.decision.action == "ship"
    sentence = results.decision.reasons[0]
    assert f"interval {c.absolute.lower:+.4g} to {c.absolute.upper:+.4g}" in sentence
    assert "-0.21%" not in sentence

    raw = json.loads(EXAMPLE.read_text())
    raw["evaluation"]["relativeInterval"] = "fieller"
    fieller = analyze(load_experiment(raw), _checkout_sums(1550, 1698), 5)
    f = fieller.metrics[0].comparisons[0]
    assert f.significant and f.relative is not None and f.relative.lower > 0
    _check(results, "delta")
    _check(fieller, "fieller")


def test_checkout_case_one_conversion_less_is_not_significant() -> None:
    """Just below the edge (1690/16000), nothing is significant, the absolute interval
    includes 0 and the final look stops with control."""
    exp = load_experiment(json.loads(EXAMPLE.read_text()))
    results = analyze(exp, _checkout_sums(1550, 1690), 5)
    c = results.metrics[0].comparisons[0]
    assert not c.significant and c.absolute is not None and c.absolute.lower < 0
    assert results.decision.action == "stop"
    _check(results, "delta")
