"""examples/graph_clusters.py: communities of a graph as the randomisation unit, assigned
through the real assignment service, analysed, and tested for spillover."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import statsmodels.api as sm
from examples import graph_clusters as ex
from scipy import stats

from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.spillover import SPLIT_ATTRIBUTE, spillover_design


@pytest.fixture(scope="module")
def outcome() -> ex.Outcome:
    return ex.run()


def test_every_user_enters_the_experiment_of_its_communitys_half(outcome: ex.Outcome) -> None:
    """The split is spillover_design(community, SPLIT_SALT); targeting lets exactly that
    half's experiment take the user, and no user is left out (traffic 100%)."""
    a = outcome.assigned
    wanted = {"cluster": ex.CLUSTER_EXPERIMENT.id, "individual": ex.INDIVIDUAL_EXPERIMENT.id}
    for community, design, experiment in zip(a.community, a.design, a.experiment, strict=True):
        assert design == spillover_design(community, ex.SPLIT_SALT)
        assert experiment == wanted[design]
    assert set(a.design) == {"cluster", "individual"}
    assert all(v in ("control", "treatment") for v in a.variant)


def test_a_community_shares_one_variant_in_the_cluster_experiment(outcome: ex.Outcome) -> None:
    """Cluster half: the variant depends on the community id alone (any user id gives the
    same answer); individual half: users of one community are split between the variants."""
    a = outcome.assigned
    variants: dict[tuple[str, str], set[str]] = defaultdict(set)
    for community, design, variant in zip(a.community, a.design, a.variant, strict=True):
        variants[(design, community)].add(variant)
    cluster = {c: v for (d, c), v in variants.items() if d == "cluster"}
    assert cluster and all(len(v) == 1 for v in cluster.values())
    service = ExperimentAssignmentService([ex.CLUSTER_EXPERIMENT])
    for community, (variant,) in list(cluster.items())[:10]:
        attrs = {"communityId": community, SPLIT_ATTRIBUTE: "cluster"}
        assert service.assign("someone-else", ex.CLUSTER_EXPERIMENT.id, attrs).variant == variant
    mixed = [c for (d, c), v in variants.items() if d == "individual" and len(v) == 2]
    assert len(mixed) >= 0.9 * sum(1 for d, _ in variants if d == "individual")


def test_cluster_sums_follow_the_cluster_contract(outcome: ex.Outcome) -> None:
    """units = clusters, clusterSizes over clusters (n = G, sum = users, sumSq = sum m_c^2),
    the metric's sums over cluster totals with the sizes as denominator."""
    a, sums = outcome.assigned, outcome.cluster_sums
    assert sums.cluster_sizes is not None
    for variant in ("control", "treatment"):
        members = [
            i
            for i, (e, v) in enumerate(zip(a.experiment, a.variant, strict=True))
            if e == ex.CLUSTER_EXPERIMENT.id and v == variant
        ]
        sizes: dict[str, int] = defaultdict(int)
        for i in members:
            sizes[a.community[i]] += 1
        arm = sums.metrics[ex.METRIC][variant]
        assert sums.units[variant] == len(sizes) == arm.n == sums.cluster_sizes[variant].n
        assert sums.cluster_sizes[variant].sum == len(members)
        assert sums.cluster_sizes[variant].sum_sq == sum(m * m for m in sizes.values())
        assert arm.denominator is not None and arm.denominator.sum == len(members)
        assert arm.sum == pytest.approx(float(outcome.minutes[members].sum()), rel=1e-12)


def _half(outcome: ex.Outcome, experiment_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = outcome.assigned
    idx = np.array([i for i, e in enumerate(a.experiment) if e == experiment_id])
    treated = np.array([a.variant[i] == "treatment" for i in idx], dtype=float)
    groups = np.array([a.community[i] for i in idx])
    return outcome.minutes[idx], treated, groups


def test_cluster_estimate_against_statsmodels_cluster_robust_ols(outcome: ex.Outcome) -> None:
    """The cluster design's estimate is the difference of per-user means (OLS of minutes on
    treated, statsmodels) and its variance statsmodels' cluster-robust CR1 variance of that
    coefficient (``use_correction=True``), with t on G - 1 degrees of freedom."""
    y, treated, groups = _half(outcome, ex.CLUSTER_EXPERIMENT.id)
    g = np.unique(groups, return_inverse=True)[1]
    fit = sm.OLS(y, sm.add_constant(treated)).fit(
        cov_type="cluster", cov_kwds={"groups": g, "use_correction": True}
    )
    got = outcome.test.cluster
    assert got.estimate == pytest.approx(float(fit.params[1]), rel=1e-10)
    assert got.variance == pytest.approx(float(fit.bse[1]) ** 2, rel=1e-9)
    assert got.df == g.max()  # G - 1


def test_individual_half_is_an_ordinary_welch_test(outcome: ex.Outcome) -> None:
    """The classic experiment's analysis (analyze) and its design estimate agree with
    scipy's Welch t-test on the users of the individual half."""
    y, treated, _ = _half(outcome, ex.INDIVIDUAL_EXPERIMENT.id)
    ref = stats.ttest_ind(y[treated == 1], y[treated == 0], equal_var=False)
    diff = y[treated == 1].mean() - y[treated == 0].mean()
    got = outcome.test.individual
    assert got.estimate == pytest.approx(diff, rel=1e-10)
    assert got.estimate / got.variance**0.5 == pytest.approx(float(ref.statistic), rel=1e-9)
    assert got.df == pytest.approx(float(ref.df), rel=1e-9)
    comparison = outcome.individual_results.metric(ex.METRIC).comparisons[0]
    assert comparison.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)


def test_the_example_detects_its_spillover(outcome: ex.Outcome) -> None:
    """With a spillover of 1.0 minute for a fully treated circle of friends, the cluster
    design's estimate is the larger and the test detects it; the individual design's
    estimate sits near the direct effect (0.5) alone."""
    t = outcome.test
    assert t.detected and t.difference > 0
    assert "spillover detected" in t.verdict
    assert abs(t.individual.estimate - 0.5) < 3 * t.individual.variance**0.5


def test_main_prints_the_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    ex.main()
    out = capsys.readouterr().out
    assert "communities" in out and "cluster half" in out and "individual half" in out
    assert "spillover detected" in out


def test_the_definitions_in_docs_spillover_load_and_split_the_users() -> None:
    """Every JSON definition in docs/spillover.md loads; with the split attribute the two
    experiments of the two-design section take every user, each exactly one."""
    import json
    import re

    from splitlab import load_experiment
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "spillover.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```json\n(.*?)^```", text, re.S | re.M)
    definitions = {e.id: e for e in (load_experiment(json.loads(b)) for b in blocks)}
    pair = [definitions["feed-ranking-v2-clusters"], definitions["feed-ranking-v2-users"]]
    service = ExperimentAssignmentService(pair)
    for user in range(200):
        community = f"community-{user % 37}"
        attrs = {
            "communityId": community,
            SPLIT_ATTRIBUTE: spillover_design(community, "feed-ranking-v2-split"),
        }
        taken = [e.id for e in pair if service.assign(user, e.id, attrs).variant is not None]
        assert len(taken) == 1
