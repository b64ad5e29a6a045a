"""A look of a cluster experiment with an allocation table reports the stratified analysis."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from splitlab.config import load_experiment
from splitlab.evaluation.allocation import allocation_stratified
from splitlab.evaluation.look import evaluate
from splitlab.evaluation.quality import QualityReport
from splitlab.stats.stratified_cluster import stratified_cluster_difference
from splitlab.stats.sums import ArmSums, ExperimentSums, SliceSums
from tests.allocation.helpers import BASE, allocated

CLEAN = QualityReport(0.0, 0, 0, 0, 0, (), ())
TIERS = ("gold", "silver")


def table() -> dict[str, Any]:
    clusters = [f"t{i}" for i in range(16)]
    return {
        "method": "stratified",
        "seed": 1,
        "table": {c: ("control", "new-price")[i % 2] for i, c in enumerate(clusters)},
        "strata": {c: TIERS[i // 8] for i, c in enumerate(clusters)},
        "stratumAttribute": "tier",
    }


def cluster_slice(rng: np.random.Generator, shift: float) -> SliceSums:
    """Four clusters per arm: cluster totals Y_c with sizes D_c (the cluster-sums shape)."""
    arms: dict[str, ArmSums] = {}
    sizes: dict[str, ArmSums] = {}
    for arm, lift in (("control", 0.0), ("new-price", 0.4)):
        d = rng.integers(20, 200, size=4).astype(float)
        y = d * (3.0 + shift + lift) + rng.normal(0, 5, size=4)
        arms[arm] = ArmSums.from_values(y, denominator=d)
        sizes[arm] = ArmSums.from_values(d)
    return SliceSums({"control": 4, "new-price": 4}, {"revenue": arms}, cluster_sizes=sizes)


def sums() -> ExperimentSums:
    rng = np.random.default_rng(3)
    parts = {f"tier={t}": cluster_slice(rng, float(k)) for k, t in enumerate(TIERS)}
    whole = parts["tier=gold"] + parts["tier=silver"]
    return ExperimentSums(
        whole.units, whole.metrics, "exp-pricing", 1, parts, cluster_sizes=whole.cluster_sizes
    )


def test_stratified_block_uses_the_stratum_segments() -> None:
    """The block's numbers are the estimator's on the segments named by stratumAttribute."""
    experiment = load_experiment(allocated(table()))
    data = sums()
    block = allocation_stratified(experiment, data)
    assert block is not None and block["strataWithoutSums"] == [] and block["strata"] == 2
    assert block["source"] == "attribute"  # these sums have no "@stratum=" slices
    comparison = block["metrics"][0]["comparisons"][0]
    direct = stratified_cluster_difference(
        {t: data.segments[f"tier={t}"].metrics["revenue"] for t in TIERS},
        "control",
        "new-price",
    )
    assert comparison["absolute"]["estimate"] == direct.estimate
    assert comparison["standardError"] == direct.standard_error
    assert comparison["strataUsed"] == 2


def _as_store_slices(data: ExperimentSums, shift: float = 0.0) -> ExperimentSums:
    """`data` with its tier slices also present as the store's "@stratum=" slices (shifted
    by `shift` clusters' worth of revenue, so that the two sources differ)."""
    rng = np.random.default_rng(9)
    store = {f"@stratum={t}": cluster_slice(rng, shift + k) for k, t in enumerate(TIERS)}
    return ExperimentSums(data.units, data.metrics, data.experiment_id, 1,
                          {**data.segments, **store}, cluster_sizes=data.cluster_sizes)  # fmt: skip


def test_store_slices_are_preferred_over_the_attribute() -> None:
    """With both the store's "@stratum=" slices and the stratumAttribute segments, the
    block uses the store's (source "table"); without an attribute too."""
    data = _as_store_slices(sums(), shift=5.0)
    for raw in (table(), {k: v for k, v in table().items() if k != "stratumAttribute"}):
        block = allocation_stratified(load_experiment(allocated(raw)), data)
        assert block is not None and block["source"] == "table"
        direct = stratified_cluster_difference(
            {t: data.segments[f"@stratum={t}"].metrics["revenue"] for t in TIERS},
            "control",
            "new-price",
        )
        comparison = block["metrics"][0]["comparisons"][0]
        assert comparison["absolute"]["estimate"] == direct.estimate
        assert comparison["standardError"] == direct.standard_error


def test_missing_attribute_or_segments_are_said() -> None:
    """Without store slices and stratumAttribute, or without the segments' sums, the block
    says why."""
    no_attribute = copy.deepcopy(table())
    del no_attribute["stratumAttribute"]
    block = allocation_stratified(load_experiment(allocated(no_attribute)), sums())
    assert block is not None and "stratumAttribute is not set" in block["note"]
    data = sums()
    bare = ExperimentSums(data.units, data.metrics, data.experiment_id, 1,
                          cluster_sizes=data.cluster_sizes)  # fmt: skip
    block = allocation_stratified(load_experiment(allocated(table())), bare)
    assert block is not None and block["strataWithoutSums"] == ["gold", "silver"]
    assert block["metrics"][0]["comparisons"][0]["estimable"] is False


def test_look_document_carries_the_block_only_with_a_table() -> None:
    """evaluate() adds allocationStratified for a table, and leaves other documents alone."""
    with_table = evaluate(load_experiment(allocated(table())), sums(), 1, None, CLEAN)
    assert with_table.document_body["allocationStratified"]["method"] == "stratified"
    plain = evaluate(load_experiment(BASE), sums(), 1, None, CLEAN)
    assert "allocationStratified" not in plain.document_body
