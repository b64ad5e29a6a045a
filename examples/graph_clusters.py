"""Graph clusters: randomise the communities of a social graph, and test for spillover.

    pip install splitlab networkx
    python examples/graph_clusters.py

When users influence each other (a feed shows what friends shared, a marketplace's buyers
and sellers compete), randomising users one by one lets the treatment leak: a control user
with treated friends is partly treated. The usual remedy is to randomise groups of users
who mostly interact among themselves. splitlab does not partition graphs; you do that
outside, once, and pass the group's id as the randomisation unit:

1. Partition the graph (here networkx's Louvain communities, with a fixed seed) and keep
   the table user -> community id.
2. Define a cluster experiment: ``"design": {"type": "cluster", "analysisUnit": "userId"}``
   and ``"assignment": {"hashKey": "communityId", ...}``.
3. At assignment time pass the community id as an attribute:
   ``service.assign(user_id, experiment_id, attributes={"communityId": community})``. Every
   user of a community gets the same variant; the metrics are still per user.

This example goes one step further and measures whether the spillover is there at all
(Saveski et al. 2017, docs/spillover.md): the communities are split at random between two
experiments, a cluster-randomised one and a classic one, by an attribute the app computes
with :func:`splitlab.assignment.spillover.spillover_design`; both experiments target their half
with ``targeting.condition``. A difference between the two estimates that is larger than
their noise means spillover.

The outcomes are simulated: minutes of use per user, a direct effect of the treatment and a
spillover proportional to the share of a user's friends who are treated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy import sparse

from splitlab import load_experiment
from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.spillover import SPLIT_ATTRIBUTE, spillover_design
from splitlab.config import Experiment
from splitlab.stats import ArmSums, ExperimentSums, Results, analyze
from splitlab.stats.spillover import SpilloverTest, design_estimate, spillover_test

#: The split's own salt: never an experiment's salt, so the split is independent of both.
SPLIT_SALT = "feed-ranking-spillover-2026-12"
METRIC = "minutes"


def _definition(experiment_id: str, design: str, hash_key: str) -> dict[str, object]:
    return {
        "experimentId": experiment_id,
        "name": f"Feed ranking v2 ({design} half)",
        "status": "running",
        "trafficAllocation": 1.0,
        "variants": ["control", "treatment"],
        "assignment": {"strategy": "consistent_hash", "hashKey": hash_key, "salt": experiment_id},
        "targeting": {"condition": {SPLIT_ATTRIBUTE: design}},
        "metrics": {"primary": {"name": METRIC, "type": "continuous"}},
        "evaluation": {"maxPeeks": 1, "minSampleSize": 1000},
    }


#: Communities in the cluster half: whole communities are randomised, users are analysed.
CLUSTER_EXPERIMENT = load_experiment(
    {
        **_definition("feed-ranking-v2-clusters", "cluster", "communityId"),
        "design": {"type": "cluster", "analysisUnit": "userId"},
    }
)
#: Communities in the individual half: users are randomised one by one (a classic test).
INDIVIDUAL_EXPERIMENT = load_experiment(
    _definition("feed-ranking-v2-users", "individual", "userId")
)


def build_graph(seed: int = 7, blocks: int = 300) -> nx.Graph:
    """A friendship graph of tight groups (a stochastic block model, fixed seed).

    Groups of 10 to 30 users; a pair of users is friends with probability 0.35 in a group and
    0.0003 across groups.
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(10, 31, size=blocks).tolist()
    p = np.full((blocks, blocks), 0.0003)
    np.fill_diagonal(p, 0.35)
    return nx.stochastic_block_model(sizes, p.tolist(), seed=seed)


def find_communities(graph: nx.Graph, seed: int = 7) -> dict[int, str]:
    """User -> community id, from Louvain's modularity communities (fixed seed).

    Communities are numbered by their smallest user id, so the ids do not depend on the
    order in which networkx returns the sets.
    """
    found = nx.community.louvain_communities(graph, seed=seed)
    ordered = sorted(found, key=min)
    return {user: f"community-{k}" for k, members in enumerate(ordered) for user in members}


@dataclass(frozen=True)
class Assigned:
    """Per user (index = user id): the split, the experiment that took them, the variant."""

    users: tuple[int, ...]
    community: tuple[str, ...]
    design: tuple[str, ...]
    experiment: tuple[str, ...]
    variant: tuple[str, ...]

    @property
    def treated(self) -> np.ndarray:
        return np.array([v == "treatment" for v in self.variant], dtype=float)


def assign(community_of: Mapping[int, str]) -> Assigned:
    """Assign every user through splitlab, exactly as an app would.

    The app computes the split attribute from the community id, then asks the service for
    both experiments; targeting lets exactly one of them take the user.
    """
    service = ExperimentAssignmentService([CLUSTER_EXPERIMENT, INDIVIDUAL_EXPERIMENT])
    users = tuple(sorted(community_of))
    communities = tuple(community_of[u] for u in users)
    split = {c: spillover_design(c, SPLIT_SALT) for c in set(communities)}
    attributes = [{"communityId": c, SPLIT_ATTRIBUTE: split[c]} for c in communities]
    experiment_of: list[str] = [""] * len(users)
    variant_of: list[str] = [""] * len(users)
    for experiment in (CLUSTER_EXPERIMENT, INDIVIDUAL_EXPERIMENT):
        for index, result in enumerate(service.assign_many(experiment.id, users, attributes)):
            if result.variant is not None:
                if experiment_of[index]:
                    raise RuntimeError(f"user {users[index]} entered both experiments")
                experiment_of[index] = experiment.id
                variant_of[index] = result.variant
    return Assigned(
        users,
        communities,
        tuple(split[c] for c in communities),
        tuple(experiment_of),
        tuple(variant_of),
    )


def simulate(
    graph: nx.Graph,
    assigned: Assigned,
    *,
    effect: float = 0.5,
    spillover: float = 1.0,
    seed: int = 7,
) -> np.ndarray:
    """Minutes per user: 10 + community level (sd 0.5) + noise (sd 2) + effect x treated
    + spillover x the share of the user's friends who are treated (0 without friends)."""
    rng = np.random.default_rng(seed)
    n = len(assigned.users)
    adjacency = nx.to_scipy_sparse_array(graph, nodelist=assigned.users, format="csr", dtype=float)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    share = sparse.diags(1.0 / np.maximum(degree, 1.0)) @ adjacency
    treated = assigned.treated
    names = sorted(set(assigned.community))
    level = dict(zip(names, rng.normal(0.0, 0.5, size=len(names)), strict=True))
    base = 10.0 + np.array([level[c] for c in assigned.community])
    result: np.ndarray = (
        base + rng.normal(0.0, 2.0, size=n) + effect * treated + spillover * (share @ treated)
    )
    return result


def experiment_sums(
    experiment: Experiment, assigned: Assigned, minutes: np.ndarray
) -> ExperimentSums:
    """The sufficient statistics splitlab's store would produce for `experiment`.

    A classic experiment: per variant, sums over its users. A cluster experiment: per
    variant, sums over its clusters of the cluster totals ``Y_c``, with the clusters' sizes
    ``m_c`` as the denominator and in ``cluster_sizes``.
    """
    mine = [i for i, e in enumerate(assigned.experiment) if e == experiment.id]
    units: dict[str, float] = {}
    arms: dict[str, ArmSums] = {}
    sizes: dict[str, ArmSums] = {}
    for variant in experiment.variant_names:
        members = [i for i in mine if assigned.variant[i] == variant]
        if not experiment.is_cluster:
            units[variant] = float(len(members))
            arms[variant] = ArmSums.from_values(minutes[members])
            continue
        totals: dict[str, float] = {}
        counts: dict[str, float] = {}
        for i in members:
            c = assigned.community[i]
            totals[c] = totals.get(c, 0.0) + float(minutes[i])
            counts[c] = counts.get(c, 0.0) + 1.0
        y = np.array([totals[c] for c in sorted(totals)])
        m = np.array([counts[c] for c in sorted(counts)])
        units[variant] = float(len(m))
        arms[variant] = ArmSums.from_values(y, denominator=m)
        sizes[variant] = ArmSums.from_values(m)
    return ExperimentSums(
        units,
        {METRIC: arms},
        experiment.id,
        1,
        cluster_sizes=sizes if experiment.is_cluster else None,
    )


@dataclass(frozen=True)
class Outcome:
    assigned: Assigned
    minutes: np.ndarray
    cluster_sums: ExperimentSums
    individual_sums: ExperimentSums
    individual_results: Results
    test: SpilloverTest


def run(
    *, effect: float = 0.5, spillover: float = 1.0, seed: int = 7, blocks: int = 300
) -> Outcome:
    """The whole example: graph, communities, assignment, outcomes, analysis, test."""
    graph = build_graph(seed, blocks)
    assigned = assign(find_communities(graph, seed))
    minutes = simulate(graph, assigned, effect=effect, spillover=spillover, seed=seed)
    cluster_sums = experiment_sums(CLUSTER_EXPERIMENT, assigned, minutes)
    individual_sums = experiment_sums(INDIVIDUAL_EXPERIMENT, assigned, minutes)
    test = spillover_test(
        design_estimate(CLUSTER_EXPERIMENT, cluster_sums, METRIC),
        design_estimate(INDIVIDUAL_EXPERIMENT, individual_sums, METRIC),
    )
    return Outcome(
        assigned,
        minutes,
        cluster_sums,
        individual_sums,
        analyze(INDIVIDUAL_EXPERIMENT, individual_sums),
        test,
    )


def _count(values: Sequence[str], wanted: str) -> int:
    return sum(1 for v in values if v == wanted)


def main() -> None:
    outcome = run()
    a = outcome.assigned
    print(f"{len(a.users)} users in {len(set(a.community))} communities")
    for design in ("cluster", "individual"):
        communities = {c for c, d in zip(a.community, a.design, strict=True) if d == design}
        print(f"  {design} half: {len(communities)} communities, {_count(a.design, design)} users")
    t = outcome.test
    print(f"cluster design:    effect {t.cluster.estimate:.3f} (SE {t.cluster.variance**0.5:.3f})")
    print(
        f"individual design: effect {t.individual.estimate:.3f} "
        f"(SE {t.individual.variance**0.5:.3f})"
    )
    print(t.verdict)


if __name__ == "__main__":
    main()
