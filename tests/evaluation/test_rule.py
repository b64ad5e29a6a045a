"""The stats layer's one rule holds after the evaluation layer's own adjustments.

significant <=> adjusted p <= alpha (at the level the decision is taken at) <=> the reported
absolute interval excludes 0, with the direction on the interval's side of 0: for always-valid
running results across looks, and for the exploratory segment results.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import special

from splitlab.config import Experiment, load_experiment
from splitlab.evaluation.anytime import carry_forward
from splitlab.evaluation.look import evaluate
from splitlab.evaluation.quality import QualityReport
from splitlab.evaluation.segments import segment_results
from splitlab.stats.sums import ArmSums, ExperimentSums, SliceSums

from .conftest import definition

ALPHA = 0.05
CLEAN = QualityReport(0.0, 0, 0, 0, 0, (), ())
VARIANTS = ("control", "a", "b")


def _experiment(correction: str, tau: float | None = 0.1, **extra: Any) -> Experiment:
    raw = definition(
        variants=list(VARIANTS),
        metrics={
            "primary": {"name": "revenue", "type": "continuous"},
            "secondary": [{"name": "basket", "type": "continuous"}],
        },
        evaluation={
            "maxPeeks": 4,
            "minSampleSize": 2000,
            "correction": correction,
            "sequential": {"method": "always_valid", **({"tau": tau} if tau else {})},
        },
        **extra,
    )
    return load_experiment(raw)


def _arm(n: int, mean: float, sd: float = 2.0) -> ArmSums:
    """Sums of n values with exactly this mean and sample standard deviation."""
    return ArmSums(float(n), n * mean, (n - 1) * sd * sd + n * mean * mean)


def _z_for(p: float, n: int, tau: float) -> float:
    """The z at which the mSPRT p-value min(1, 1/Lambda) equals p (r = tau^2 / (2/n))."""
    r = tau * tau * n / 2.0
    return math.sqrt(2.0 * (1.0 + r) / r * (-math.log(p) + 0.5 * math.log1p(r)))


def _sums(n: int, zs: dict[str, float]) -> ExperimentSums:
    """Both metrics: control at 10, each variant z standard errors (sd 2, n per arm) above."""
    se = 2.0 * math.sqrt(2.0 / n)
    arms = {"control": _arm(n, 10.0), **{v: _arm(n, 10.0 + z * se) for v, z in zs.items()}}
    units = {v: float(n) for v in VARIANTS}
    return ExperimentSums(units, {"revenue": arms, "basket": arms}, "exp-eval")


def _ledger_doc(experiment: Experiment, sums: ExperimentSums, look: int, carried: Any) -> Any:
    """What a planned look records in the ledger (the fields the next look reads)."""
    evaluated = evaluate(experiment, sums, look, None, CLEAN, carried=carried)
    return {"analysisLook": look, **evaluated.document_body}


def _check_rule(results: dict[str, Any], alpha: float, key: str = "adjustedPValue") -> int:
    """Assert the rule on every estimable primary/secondary comparison; count significant."""
    count = 0
    for metric in results["metrics"]:
        if metric["role"] == "guardrail":
            continue
        increase = metric["wantedDirection"] == "increase"
        for c in metric["comparisons"]:
            if not c["estimable"]:
                continue
            a = c["absolute"]
            excludes = a is not None and (a["lower"] > 0 or a["upper"] < 0)
            where = (metric["name"], c["variant"], a, c[key])
            assert c["significant"] == excludes, where
            assert (c[key] <= alpha) == c["significant"] or a is None, where
            if c["significant"]:
                count += 1
                better = (a["lower"] > 0) == increase
                assert c["direction"] == ("better" if better else "worse"), where
            else:
                assert c["direction"] == "none", where
    return count


def test_running_results_use_one_level_for_significance_and_interval() -> None:
    """BH case: a's past p 0.04 is rejected once b crosses, so its running interval excludes 0.

    Look 1: a at p = 0.04, b at p = 1 (BH: nothing rejected, level alpha/2). Look 2: a at
    p = 0.5, b at p = 0.01. Running minima 0.04 and 0.01: BH rejects both (adjusted 0.04 and
    0.02), so the level is 2 alpha / 2 = alpha and a's look-1 interval at that level excludes 0.
    """
    experiment = _experiment("benjamini_hochberg")
    n = 2000
    first = _sums(n, {"a": _z_for(0.04, n, 0.1), "b": 0.3})
    doc = _ledger_doc(experiment, first, 1, None)
    carried = carry_forward([doc])
    second = _sums(2 * n, {"a": _z_for(0.5, 2 * n, 0.1), "b": _z_for(0.01, 2 * n, 0.1)})
    after = _ledger_doc(experiment, second, 2, carried)["results"]
    c = after["metrics"][0]["comparisons"][0]
    assert c["variant"] == "a" and c["sequentialPValue"] < 0.05 < c["adjustedPValue"] * 2
    assert c["significant"] and c["absolute"]["lower"] > 0
    assert _check_rule(after, ALPHA) == 4


def test_running_results_obey_the_rule_in_simulation() -> None:
    """Seeded random looks near the boundary: the rule holds at every look, every correction."""
    rng = np.random.default_rng(20261123)
    significant = 0
    for run in range(150):
        correction = ("benjamini_hochberg", "holm", "bonferroni")[run % 3]
        experiment = _experiment(correction)
        docs: list[Any] = []
        shift = {v: rng.normal(0.0, 2.0) for v in ("a", "b")}
        for look in range(1, 5):
            n = 500 * look
            zs = {v: shift[v] * math.sqrt(look / 4) + rng.normal(0, 1.0) for v in shift}
            doc = _ledger_doc(experiment, _sums(n, zs), look, carry_forward(docs) or None)
            significant += _check_rule(doc["results"], ALPHA)
            docs.append(doc)
    assert significant > 20  # the property was exercised on significant results too


def _segment_sums(rng: np.random.Generator, effects: tuple[float, ...]) -> ExperimentSums:
    slices = {}
    for k, effect in enumerate(effects):
        n = 400
        se = 2.0 * math.sqrt(2.0 / n)
        z = effect + rng.normal(0, 1.0)
        arms = {"control": _arm(n, 10.0), "a": _arm(n, 10.0 + z * se), "b": _arm(n, 10.0)}
        slices[f"region=r{k}"] = SliceSums({v: float(n) for v in VARIANTS}, {"revenue": arms})
    total = _sums(400, {"a": 0.0, "b": 0.0})
    return ExperimentSums(total.units, total.metrics, "exp-eval", 1, slices)


def test_segment_intervals_are_at_the_segment_level() -> None:
    """A slice at z = 2.2 (p 0.028) of 4 slices is not significant (4 x 0.028 > alpha), so its
    interval, at alpha / 4, includes 0; the half-width is Welch's t quantile at that level."""
    experiment = load_experiment(
        definition(
            variants=list(VARIANTS),
            metrics={"primary": {"name": "revenue", "type": "continuous"}},
            segments=["region"],
            evaluation={"maxPeeks": 1, "minSampleSize": 400, "correction": "none"},
        )
    )
    n = 400
    z = 2.2
    se = 2.0 * math.sqrt(2.0 / n)
    arms = {"control": _arm(n, 10.0), "a": _arm(n, 10.0 + z * se), "b": _arm(n, 10.0)}
    slices = {
        f"region=r{k}": SliceSums({v: float(n) for v in VARIANTS}, {"revenue": arms})
        for k in range(4)
    }
    sums = ExperimentSums(slices["region=r0"].units, {"revenue": arms}, "exp-eval", 1, slices)
    out = segment_results(experiment, sums, 1, None)
    assert out is not None and out["slices"] == 4 and out["level"] == ALPHA / 4
    c = out["results"]["region=r0"]["metrics"][0]["comparisons"][0]
    assert c["pValue"] < ALPHA and c["segmentAdjustedPValue"] > ALPHA
    assert not c["significant"]
    a = c["absolute"]
    assert a["lower"] < 0 < a["upper"]
    # equal variances and sizes: Welch's df is 2n - 2 (Welch 1947); scipy's t quantile
    crit = -float(special.stdtrit(2 * n - 2, ALPHA / 4 / 2))
    assert (a["upper"] - a["lower"]) / 2 == pytest.approx(crit * se, rel=1e-9)


def test_segment_results_obey_the_rule_in_simulation() -> None:
    """Seeded slices near the boundary, every correction and method: the rule holds per slice."""
    rng = np.random.default_rng(7)
    significant = 0
    for run in range(30):
        correction = ("benjamini_hochberg", "holm", "bonferroni", "none")[run % 4]
        method = ("alpha_spending", "always_valid", "none")[run % 3]
        experiment = load_experiment(
            definition(
                variants=list(VARIANTS),
                metrics={"primary": {"name": "revenue", "type": "continuous"}},
                segments=["region"],
                evaluation={
                    "maxPeeks": 1,
                    "minSampleSize": 400,
                    "correction": correction,
                    "sequential": {"method": method},
                },
            )
        )
        effects = tuple(rng.normal(0.0, 3.0) for _ in range(3))
        out = segment_results(experiment, _segment_sums(rng, effects), 1, None)
        assert out is not None
        for data in out["results"].values():
            significant += _check_rule(data, ALPHA, "segmentAdjustedPValue")
    assert significant > 5
