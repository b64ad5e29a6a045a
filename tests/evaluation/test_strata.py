"""Exploratory segment results and post-stratification, on sums built from seeded data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm

from splitlab.config import load_experiment
from splitlab.evaluation.poststrat import post_stratified
from splitlab.evaluation.segments import segment_results
from splitlab.stats import analyze
from splitlab.stats.sums import ArmSums, ExperimentSums, SliceSums

from .conftest import definition

REGIONS = ("APAC", "EU", "US")


def _experiment(**evaluation: Any) -> Any:
    raw = definition(
        metrics={"primary": {"name": "revenue", "type": "continuous"}},
        segments=["region"],
        evaluation={"maxPeeks": 3, "minSampleSize": 500, **evaluation},
    )
    return load_experiment(raw)


def _data(rng: np.random.Generator, n: int = 3000) -> dict[str, np.ndarray]:
    """Units with a region that shifts revenue a lot, and a treatment effect of +0.5."""
    region = rng.integers(0, 3, n)
    treated = rng.integers(0, 2, n)
    revenue = np.array([5.0, 10.0, 20.0])[region] + 0.5 * treated + rng.normal(0, 2, n)
    return {"region": region, "treated": treated, "revenue": revenue}


def _sums(data: dict[str, np.ndarray]) -> ExperimentSums:
    arms = {"control": 0, "treatment": 1}

    def slice_of(mask: np.ndarray) -> SliceSums:
        metrics = {
            v: ArmSums.from_values(data["revenue"][mask & (data["treated"] == t)])
            for v, t in arms.items()
        }
        units = {v: float(a.n) for v, a in metrics.items()}
        return SliceSums(units, {"revenue": metrics})

    everyone = slice_of(np.ones_like(data["treated"], dtype=bool))
    segments = {f"region={r}": slice_of(data["region"] == k) for k, r in enumerate(REGIONS)}
    return ExperimentSums(everyone.units, everyone.metrics, "exp-eval", 1, segments)


def test_post_stratified_effect_and_se_match_the_interacted_regression() -> None:
    """Estimate and SE equal OLS with centred stratum x treatment terms and HC2 errors.

    Reference: Lin (2013), "Agnostic notes on regression adjustments to experimental data",
    Ann. Appl. Stat. 7(1): with stratum indicators as covariates the interacted estimator is the
    post-stratified one, and HC2 gives each cell's s^2/n (statsmodels OLS, cov_type="HC2").
    """
    data = _data(np.random.default_rng(42))
    result = post_stratified(_experiment(postStratify="region"), _sums(data))
    assert result is not None
    (comparison,) = result["metrics"][0]["comparisons"]
    dummies = np.column_stack([(data["region"] == k).astype(float) for k in (1, 2)])
    centred = dummies - dummies.mean(axis=0)
    t = data["treated"].astype(float)
    design = sm.add_constant(np.column_stack([t, centred, centred * t[:, None]]))
    fit = sm.OLS(data["revenue"], design).fit(cov_type="HC2")
    assert comparison["absolute"]["estimate"] == pytest.approx(fit.params[1], rel=1e-9)
    assert comparison["standardError"] == pytest.approx(fit.bse[1], rel=1e-9)
    assert comparison["varianceRatio"] < 0.2  # regions explain most of the variance


def test_post_stratification_not_configured_or_missing_strata() -> None:
    """No postStratify gives None; sums without the strata say so instead of failing."""
    data = _data(np.random.default_rng(1), 300)
    assert post_stratified(_experiment(), _sums(data)) is None
    bare = _sums(data)
    no_strata = ExperimentSums(bare.units, bare.metrics, "exp-eval", 1)
    result = post_stratified(_experiment(postStratify="region"), no_strata)
    assert result is not None and result["strata"] == 0 and "no strata" in result["note"]


def test_cluster_designs_are_not_post_stratified() -> None:
    """Cluster sums are cluster totals: per-unit strata means would be wrong, so a note."""
    raw = definition(
        metrics={"primary": {"name": "revenue", "type": "continuous"}},
        segments=["region"],
        assignment={"hashKey": "accountId", "salt": "s-1"},
        design={"type": "cluster", "analysisUnit": "userId"},
        evaluation={"postStratify": "region"},
    )
    result = post_stratified(load_experiment(raw), _sums(_data(np.random.default_rng(2), 300)))
    assert result is not None and result["metrics"] == []
    assert "not applied to cluster-randomised" in result["note"]


def test_segment_results_are_exploratory_and_bonferroni_corrected() -> None:
    """Each region is analysed alone; p-values are multiplied by the 3 slices, capped at 1."""
    experiment = _experiment()
    sums = _sums(_data(np.random.default_rng(7)))
    out = segment_results(experiment, sums, 1, None)
    assert out is not None
    assert (out["exploratory"], out["slices"], out["correction"]) == (True, 3, "bonferroni")
    for name in ("region=APAC", "region=EU", "region=US"):
        seg = out["results"][name]
        assert seg["exploratory"] is True and "decision" not in seg
        plain = analyze(experiment, sums, 1, segment=name).to_dict()
        got = seg["metrics"][0]["comparisons"][0]
        want = plain["metrics"][0]["comparisons"][0]["adjustedPValue"]
        assert got["segmentAdjustedPValue"] == min(1.0, 3 * want)
        assert got["significant"] == (min(1.0, 3 * want) <= experiment.evaluation.alpha)


def test_no_segments_declared_gives_no_segment_results() -> None:
    """Without `segments` in the definition there are no segment results."""
    raw = definition(metrics={"primary": {"name": "revenue", "type": "continuous"}})
    sums = _sums(_data(np.random.default_rng(3), 300))
    assert segment_results(load_experiment(raw), sums, 1, None) is None
