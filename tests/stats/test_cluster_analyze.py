"""analyze() on the cluster sums of contract 2: clusters counted, design block, warnings."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from rich.console import Console
from scipy import special

from splitlab.config import Experiment
from splitlab.stats import ArmSums, ExperimentSums, SumsError, analyze, cluster, msprt
from splitlab.stats.analyze import ESTIMATORS, _difference, estimator_for, plan_tau
from tests.stats.cluster_data import Rows, arm_sums, users_in_accounts
from tests.stats.helpers import experiment

VARIANTS = ["control", "variant-a"]


def cluster_experiment(**over: Any) -> Experiment:
    metrics = {
        "primary": {"name": "conv", "type": "conversion"},
        "secondary": [
            {"name": "rev", "type": "continuous", "cuped": True},
            {"name": "rev_account", "type": "continuous", "level": "cluster"},
        ],
        "guardrails": [],
    }
    return experiment(
        assignment={"hashKey": "accountId", "salt": "s"},
        design={"type": "cluster", "analysisUnit": "userId"},
        variants=VARIANTS,
        metrics=over.pop("metrics", metrics),
        evaluation={"minSampleSize": 30, **over.pop("evaluation", {})},
        **over,
    )


def cluster_sums(conv: Rows, rev: Rows) -> ExperimentSums:
    """Contract 2's sums for the experiment above (users and accounts shared by the metrics)."""
    metrics: dict[str, dict[str, ArmSums]] = {"conv": {}, "rev": {}, "rev_account": {}}
    sizes, units = {}, {}
    for arm, name in enumerate(VARIANTS):
        metrics["conv"][name], sizes[name] = arm_sums(conv, arm)
        metrics["rev"][name], _ = arm_sums(rev, arm, covariate=True)
        metrics["rev_account"][name], _ = arm_sums(rev, arm)
        units[name] = sizes[name].n
    return ExperimentSums(units, metrics, "exp-stats", 1, cluster_sizes=sizes)


def _rows(seed: int, effect: float, clusters: tuple[int, int] = (60, 64)) -> tuple[Rows, Rows]:
    rng = np.random.default_rng(seed)
    conv = users_in_accounts(rng, clusters, effect=effect, binary=True)
    rev = users_in_accounts(rng, clusters, effect=effect)
    return conv, rev


def test_end_to_end_counts_clusters_and_matches_statsmodels() -> None:
    exp = cluster_experiment()
    conv, rev = _rows(1, effect=1.5)
    results = analyze(exp, cluster_sums(conv, rev))
    assert results.units == {"control": 60, "variant-a": 64}
    assert dict(results.srm.counts) == {"control": 60, "variant-a": 64}  # SRM on clusters
    assert results.information_fraction == 1.0  # 60 clusters >= minSampleSize 30
    c = results.comparison("conv", "variant-a")
    assert c.units == (60, 64)
    ref = sm.OLS(conv.y, sm.add_constant(conv.treated)).fit(
        cov_type="cluster",
        cov_kwds={"groups": conv.cluster, "use_correction": True, "df_correction": True},
        use_t=True,
    )  # statsmodels CR1 with t(G - 1)
    assert c.absolute is not None
    assert c.absolute.estimate == pytest.approx(ref.params[1], rel=1e-9)
    assert c.p_value == pytest.approx(ref.pvalues[1], rel=1e-6)
    assert results.decision.action == "ship" and results.decision.variant == "variant-a"
    design = results.to_dict()["design"]
    assert design == {
        "type": "cluster",
        "analysisUnit": "userId",
        "clusterKey": "accountId",
        "clusters": {"control": 60, "variant-a": 64},
        "analysisUnits": {"control": int(conv.y[conv.treated == 0].size),
                          "variant-a": int(conv.y[conv.treated == 1].size)},
        "smallSampleCorrection": "CR1",
        "warnings": [],
    }  # fmt: skip
    json.dumps(results.to_dict(), allow_nan=False)
    for name in ("rev", "rev_account"):
        assert results.comparison(name, "variant-a").estimable


def test_srm_is_tested_on_clusters_and_halts() -> None:
    """60 against 100 accounts is a mismatch whatever the users per account."""
    conv, rev = _rows(2, effect=0.0, clusters=(60, 100))
    results = analyze(cluster_experiment(), cluster_sums(conv, rev))
    assert results.srm.detected
    assert results.decision.action == "halt"


def test_min_sample_size_counts_clusters() -> None:
    conv, rev = _rows(3, effect=1.5, clusters=(25, 25))
    results = analyze(cluster_experiment(), cluster_sums(conv, rev))
    assert results.information_fraction == pytest.approx(25 / 30)
    assert results.decision.action == "continue"
    assert any("25 of the 30 planned clusters" in r for r in results.decision.reasons)


def test_few_clusters_warn_with_the_threshold() -> None:
    conv, rev = _rows(4, effect=0.0, clusters=(8, 9))
    results = analyze(cluster_experiment(evaluation={"minSampleSize": 5}), cluster_sums(conv, rev))
    assert results.design is not None
    few = [w for w in results.design.warnings if w.startswith("Few clusters")]
    assert len(few) == 1 and f"below {cluster.MIN_CLUSTERS_PER_ARM} per arm" in few[0]
    assert few[0] in results.warnings


def test_unbalanced_cluster_sizes_warn_and_suggest_cluster_level() -> None:
    conv, rev = _rows(5, effect=0.0)
    sums = cluster_sums(conv, rev)
    sizes = dict(sums.cluster_sizes or {})
    m = np.full(64, 16.0) + np.arange(64) % 3  # treated accounts twice as large
    sizes["variant-a"] = ArmSums.from_values(m)
    unbalanced = ExperimentSums(sums.units, sums.metrics, "exp-stats", 1, cluster_sizes=sizes)
    results = analyze(cluster_experiment(), unbalanced)
    assert any("Cluster sizes differ" in w and 'level: "cluster"' in w for w in results.warnings)
    assert not any(
        "Cluster sizes differ" in w for w in analyze(cluster_experiment(), sums).warnings
    )


def test_size_balance_is_welch_on_cluster_sizes() -> None:
    from scipy import stats as sps

    a, b = np.array([3.0, 5, 8, 2, 9, 4]), np.array([7.0, 11, 6, 12, 9])
    ref = sps.ttest_ind(b, a, equal_var=False).pvalue  # scipy Welch
    p = cluster.size_balance_p(ArmSums.from_values(a), ArmSums.from_values(b))
    assert p == pytest.approx(ref, rel=1e-9)


def test_text_output_shows_the_design() -> None:
    conv, rev = _rows(6, effect=0.0)
    results = analyze(cluster_experiment(), cluster_sums(conv, rev))
    out = io.StringIO()
    Console(file=out, width=120).print(results)
    text = out.getvalue()
    assert "Design: cluster-randomised by accountId, metrics per userId" in text
    n_c = int((conv.treated == 0).sum())
    assert f"control 60 clusters / {n_c} units" in text
    assert "small-sample correction CR1" in text
    assert "(100% of planned clusters)" in text  # minSampleSize counts clusters
    assert "Design:" in results._repr_html_()


def test_classic_results_have_no_design_key() -> None:
    exp = experiment(variants=VARIANTS)
    arm = ArmSums.from_values(np.r_[np.zeros(80), np.ones(20)])
    sums = ExperimentSums({v: 100 for v in VARIANTS}, {"conv": {v: arm for v in VARIANTS}})
    results = analyze(exp, sums)
    assert results.design is None and "design" not in results.to_dict()


def test_registry_has_the_classic_and_cluster_entries() -> None:
    assert estimator_for(experiment()) is _difference
    assert estimator_for(cluster_experiment()) is cluster.estimate
    assert set(ESTIMATORS) >= {"classic", "cluster"}


def test_from_dict_reads_cluster_sizes_and_cluster_conversion_counts() -> None:
    conv, rev = _rows(7, effect=0.0)
    sums = cluster_sums(conv, rev)
    data = sums.to_dict()
    assert "clusterSizes" in data
    # A cluster's conversions are counts: sum > n (clusters) and sumSq > sum are possible.
    arm = data["metrics"]["conv"]["control"]
    assert arm["sum"] > arm["n"] and arm["sumSq"] > arm["sum"]
    back = ExperimentSums.from_dict(data, experiment=cluster_experiment())
    assert back.cluster_sizes == sums.cluster_sizes
    assert (
        analyze(cluster_experiment(), back).to_dict()
        == analyze(cluster_experiment(), sums).to_dict()
    )
    with pytest.raises(SumsError, match="converted units between 0 and n"):
        ExperimentSums.from_dict(data, experiment=experiment(variants=VARIANTS))


def test_always_valid_mixing_variance_counts_clusters() -> None:
    exp = cluster_experiment(evaluation={"sequential": {"method": "always_valid"}})
    conv, rev = _rows(8, effect=0.5)
    results = analyze(exp, cluster_sums(conv, rev))
    c = results.comparison("conv", "variant-a")
    d, _, _, units = cluster.estimate(exp, cluster_sums(conv, rev), exp.metrics.primary,
                                      "variant-a", {})  # fmt: skip
    assert d is not None and units == (60, 64)
    tau2 = msprt.mixing_variance(plan_tau(exp), d.se**2, 60, 64)
    assert c.sequential_p_value == pytest.approx(
        msprt.p_value(d.z_equivalent * d.se, d.se**2, tau2), rel=1e-12
    )


def test_bayesian_conversion_uses_the_normal_posterior() -> None:
    exp = cluster_experiment(evaluation={"method": "bayesian"})
    conv, rev = _rows(9, effect=0.3)
    results = analyze(exp, cluster_sums(conv, rev))
    c = results.comparison("conv", "variant-a")
    d, _, _, _ = cluster.estimate(exp, cluster_sums(conv, rev), exp.metrics.primary,
                                  "variant-a", {})  # fmt: skip
    assert d is not None and c.bayesian is not None
    # Flat prior, posterior N(estimate, se^2): P(better) = Phi(estimate / se)
    assert c.bayesian.chance_to_beat_control == pytest.approx(
        float(special.ndtr(d.estimate / d.se)), rel=1e-9
    )


def test_guardrail_uses_the_cluster_test() -> None:
    """A guardrail on a clustered rate: harm bounds are t(G - 1) one-sided with the CR1 SE."""
    rev = {"name": "rev", "type": "continuous", "threshold": 0.5, "action": "rollback"}
    exp = cluster_experiment(
        metrics={"primary": {"name": "conv", "type": "conversion"}, "guardrails": [rev]}
    )
    conv, rev = _rows(10, effect=0.0)
    sums = cluster_sums(conv, rev)
    results = analyze(exp, sums)
    g = results.comparison("rev", "variant-a").guardrail
    d, _, _, _ = cluster.estimate(exp, sums, exp.metrics.guardrails[0], "variant-a", {})
    assert g is not None and g.harm is not None and d is not None
    width = float(special.stdtrit(123, 1 - 0.05)) * d.se  # t(G - 1), G = 60 + 64
    assert g.harm.upper - g.harm.estimate == pytest.approx(width, rel=1e-9)
    assert g.verdict == "passed"  # no effect, margin 0.5 far outside the interval


def test_family_power_warning_counts_clusters() -> None:
    """minSampleSize counts clusters in a cluster design, so the advice to restore power does
    too (3 comparisons at alpha/3: 1 variant x the primary and 2 secondary metrics)."""
    conv, rev = _rows(31, 0.0)
    exp = cluster_experiment(evaluation={"correction": "bonferroni"})
    (warning,) = [w for w in analyze(exp, cluster_sums(conv, rev)).warnings if "comparisons" in w]
    assert "clusters per variant would restore it" in warning
    assert "units per variant" not in warning
