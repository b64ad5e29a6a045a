"""The two-design spillover simulation on a graph, shared by tests/stats/test_spillover.py
and bench/spillover.py (longer runs, other seeds, effects that vary between communities).

The graph is fixed (built once); every replication re-draws the split of the communities,
both designs' randomisations, the community effects and the noise, aggregates the outcomes
into each design's sufficient statistics with numpy (all replications of a batch at once),
and runs the real :func:`design_estimate` and :func:`spillover_test` on each replication's
sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy import sparse

from splitlab import load_experiment
from splitlab.config import Experiment
from splitlab.stats import ArmSums, CrossSums, ExperimentSums
from splitlab.stats.spillover import SpilloverTest, design_estimate, spillover_test


def experiment(cluster: bool, metric_type: str = "continuous") -> Experiment:
    """A two-arm definition: the cluster design (hashKey communityId) or the classic one."""
    raw: dict[str, object] = {
        "experimentId": "exp-cluster" if cluster else "exp-users",
        "name": "spillover",
        "status": "running",
        "variants": ["control", "treatment"],
        "assignment": {
            "strategy": "consistent_hash",
            "hashKey": "communityId" if cluster else "userId",
            "salt": "s",
        },
        "metrics": {"primary": {"name": "m", "type": metric_type}},
        "evaluation": {"maxPeeks": 1, "minSampleSize": 100},
    }
    if cluster:
        raw["design"] = {"type": "cluster", "analysisUnit": "userId"}
    return load_experiment(raw)


CLUSTER = experiment(True)
INDIVIDUAL = experiment(False)


@dataclass(frozen=True)
class Graph:
    community: np.ndarray  # community index per user
    share: sparse.csr_array  # row-normalised adjacency: a friend's share of a user's friends
    members: sparse.csr_array  # community x user indicator
    sizes: np.ndarray  # users per community


def make_graph(blocks: int = 400, seed: int = 20171) -> Graph:
    """About 20 x `blocks` users in tight groups of 10 to 30 (stochastic block model, p_in
    0.35, p_out 0.0001), partitioned by Louvain. With the defaults: 8,117 users in 147
    communities; a user's friends are on average 91% inside the user's community."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(10, 31, size=blocks).tolist()
    p = np.full((blocks, blocks), 0.0001)
    np.fill_diagonal(p, 0.35)
    g = nx.stochastic_block_model(sizes, p.tolist(), seed=seed + 1)
    found = sorted(nx.community.louvain_communities(g, seed=seed + 2), key=min)
    n = g.number_of_nodes()
    community = np.empty(n, dtype=np.int64)
    for k, group in enumerate(found):
        community[list(group)] = k
    adjacency = nx.to_scipy_sparse_array(g, nodelist=range(n), format="csr", dtype=float)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    share = sparse.csr_array(sparse.diags(1.0 / np.maximum(degree, 1.0)) @ adjacency)
    members = sparse.csr_array((np.ones(n), (community, np.arange(n))), shape=(len(found), n))
    return Graph(community, share, members, np.bincount(community).astype(float))


def _arm(n: float, s: float, ss: float, den: CrossSums | None = None) -> ArmSums:
    return ArmSums(float(n), float(s), float(ss), denominator=den)


def simulate(
    graph: Graph,
    spillover: float,
    seed: int,
    runs: int = 2000,
    alpha: float = 0.05,
    effect_sd: float = 0.0,
    batch: int = 250,
) -> list[SpilloverTest]:
    """`runs` replications of the two-design experiment, each with its spillover test.

    Per run: communities split 50/50 (Bernoulli) between the designs; in the cluster half
    each community is treated with probability 1/2, in the individual half each user.
    outcome = 1 + community effect (sd 0.3) + noise (sd 1) + effect_c x treated + spillover
    x (share of treated friends), where effect_c = 0.2 + effect_sd x z_c with z_c standard
    normal, drawn once per community (fixed across runs; 0.2 for all when effect_sd = 0).
    """
    rng = np.random.default_rng(seed)
    k, n = graph.members.shape
    c = graph.community
    m = graph.sizes[:, None]
    effect = (0.2 + effect_sd * rng.normal(0.0, 1.0, k))[c][:, None] if effect_sd else 0.2
    results = []
    for start in range(0, runs, batch):
        size = min(batch, runs - start)
        in_cluster = rng.random((k, size)) < 0.5
        cluster_treated = rng.random((k, size)) < 0.5
        user_treated = rng.random((n, size)) < 0.5
        treated = np.where(in_cluster[c], cluster_treated[c], user_treated).astype(float)
        y = (
            1.0
            + rng.normal(0.0, 0.3, (k, size))[c]
            + rng.normal(0.0, 1.0, (n, size))
            + effect * treated
            + spillover * (graph.share @ treated)
        )
        individual = ~in_cluster[c]
        totals = graph.members @ y  # cluster totals Y_c, one column per run
        users = {}  # individual half, per arm: n, sum, sumSq over users
        for arm, mask in (
            ("treatment", individual & (treated == 1)),
            ("control", individual & (treated == 0)),
        ):
            users[arm] = (mask.sum(0), (y * mask).sum(0), (y * y * mask).sum(0))
        clusters = {}  # cluster half, per arm: sums over clusters, sizes as the denominator
        for arm, mask in (
            ("treatment", in_cluster & cluster_treated),
            ("control", in_cluster & ~cluster_treated),
        ):
            clusters[arm] = (
                mask.sum(0),
                (totals * mask).sum(0),
                (totals * totals * mask).sum(0),
                (m * mask).sum(0),
                (m * m * mask).sum(0),
                (totals * m * mask).sum(0),
            )
        for r in range(size):
            ind = ExperimentSums(
                {}, {"m": {arm: _arm(*(v[r] for v in users[arm])) for arm in users}}
            )
            clu_arms = {}
            for arm, columns in clusters.items():
                g_n, s, ss, d, dd, yd = (v[r] for v in columns)
                clu_arms[arm] = _arm(g_n, s, ss, CrossSums(float(d), float(dd), float(yd)))
            clu_sums = ExperimentSums({}, {"m": clu_arms})
            results.append(
                spillover_test(
                    design_estimate(CLUSTER, clu_sums, "m"),
                    design_estimate(INDIVIDUAL, ind, "m"),
                    alpha,
                )
            )
    return results
