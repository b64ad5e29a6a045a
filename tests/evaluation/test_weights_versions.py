"""Sticky experiments whose weights change: the audited weights versions, their timeline, and
looks through the real path (assignment with a sticky store -> events -> DuckDBStore ->
run_look) that check SRM per version and analyse each version's cohort.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats as sps

from splitlab.assignment import ExperimentAssignmentService
from splitlab.assignment.sticky import MemoryStickyStore
from splitlab.cli.main import cli
from splitlab.config import Status, load_experiment
from splitlab.evaluation import TransitionError, register, run_look, update_definition
from splitlab.evaluation.launch import launch_check
from splitlab.evaluation.look import evaluate, look_document, replay_look
from splitlab.evaluation.versions import timeline, weights_versions
from splitlab.stats import analyze, srm
from splitlab.stats.sums import ExperimentSums
from splitlab.stats.versions import WeightsVersion
from splitlab.store.duckdb_store import DuckDBStore
from splitlab.store.registry import Registry

from .conftest import T0
from .simulate import ms
from .versions_sim import CHANGE, NOW, reweighted, reweighted_mid_way, sticky, traffic

# ----------------------------------------------------------------------------- lifecycle


def test_a_live_weights_change_is_a_new_audited_version(registry: Registry) -> None:
    exp = register(registry, sticky(), by="ana", reason="launch", now=T0)
    update_definition(registry, reweighted(exp, (0.2, 0.8)), by="ana", reason="ramp", now=CHANGE)
    later = CHANGE + timedelta(hours=5)
    update_definition(registry, reweighted(exp, (0.1, 0.9)), by="bo", reason="more", now=later)
    changes = [c for c in registry.changes(exp.id) if c.kind == "definition"]
    assert [c.details for c in changes] == [
        {
            "changed": ["variants"],
            "weightsVersion": 1,
            "weights": {"control": 0.2, "treatment": 0.8},
            "previousWeights": {"control": 0.5, "treatment": 0.5},
        },
        {
            "changed": ["variants"],
            "weightsVersion": 2,
            "weights": {"control": 0.1, "treatment": 0.9},
            "previousWeights": {"control": 0.2, "treatment": 0.8},
        },
    ]
    versions = weights_versions(registry, registry.get(exp.id))
    assert [(v.version, v.start, dict(v.weights)) for v in versions] == [
        (0, T0, {"control": 0.5, "treatment": 0.5}),
        (1, CHANGE, {"control": 0.2, "treatment": 0.8}),
        (2, later, {"control": 0.1, "treatment": 0.9}),
    ]


def test_weights_changed_in_draft_are_not_versions(registry: Registry) -> None:
    draft = sticky(status="draft")
    register(registry, draft, by="ana", reason="draft", now=T0)
    update_definition(registry, reweighted(draft, (0.3, 0.7)), by="a", reason="x", now=T0)
    from splitlab.evaluation import change_status

    change_status(registry, draft.id, Status.RUNNING, by="a", reason="go", now=CHANGE)
    (only,) = weights_versions(registry, registry.get(draft.id))
    assert (only.version, only.start, dict(only.weights)) == (
        0,
        CHANGE,
        {"control": 0.3, "treatment": 0.7},
    )


def test_weights_of_a_live_experiment_without_stickiness_stay_frozen(registry: Registry) -> None:
    loose = load_experiment({**sticky().to_wire(), "assignment": {"salt": "s-1"}})
    register(registry, loose, by="ana", reason="launch", now=T0)
    with pytest.raises(TransitionError, match="no sticky assignment") as err:
        update_definition(registry, reweighted(loose, (0.2, 0.8)), by="a", reason="x")
    assert err.value.field == "variants"


def test_variant_names_stay_frozen_when_sticky(registry: Registry) -> None:
    exp = register(registry, sticky(), by="ana", reason="launch", now=T0)
    raw = exp.to_wire()
    raw["variants"][1]["name"] = "renamed"
    with pytest.raises(TransitionError, match="variants: part of the pre-registered design"):
        update_definition(registry, load_experiment(raw), by="a", reason="x")


def test_timeline_without_changes_is_one_version_from_registration() -> None:
    exp = sticky()
    (only,) = timeline(exp, [], T0)
    assert (only.version, only.start, dict(only.weights)) == (
        0,
        T0,
        {"control": 0.5, "treatment": 0.5},
    )


# ----------------------------------------------------------------------------- looks


def test_look_after_a_weights_change_is_stratified_and_has_no_srm(store: DuckDBStore) -> None:
    registry = Registry.for_store(store)
    exp, values = reweighted_mid_way(store, registry)
    record = run_look(store, registry, exp.id, cutoff=NOW, now=NOW)
    doc = record.to_dict()

    # SRM: per version, no halt; the pooled counts against the current weights would halt.
    assert doc["decision"]["action"] != "halt"
    assert not doc["results"]["srm"]["detected"]
    assert [p["version"] for p in doc["results"]["srm"]["byWeightsVersion"]] == [0, 1]
    units = doc["results"]["units"]
    assert srm.check(units, ["control", "treatment"], [0.2, 0.8], 0.01).detected

    # The versions in the document: start, weights, units per version.
    cohort = {u: (0 if int(u[1:]) < 2000 else 1) for u in values}
    block = doc["weightsVersions"]
    assert block["analysis"] == "stratified by weights version"
    assert [(v["version"], v["start"], v["weights"]) for v in block["versions"]] == [
        (0, "2026-03-02T09:00:00Z", {"control": 0.5, "treatment": 0.5}),
        (1, "2026-03-04T09:00:00Z", {"control": 0.2, "treatment": 0.8}),
    ]
    for v in block["versions"]:
        for arm in ("control", "treatment"):
            expected = sum(
                1 for u, (a, _) in values.items() if cohort[u] == v["version"] and a == arm
            )
            assert v["units"][arm] == expected

    # The effect, by hand in numpy: per cohort Welch difference, weights N_v / N.
    diffs, variances, sizes = [], [], []
    for k in (0, 1):
        arm = {
            a: np.array([x for u, (b, x) in values.items() if cohort[u] == k and b == a])
            for a in ("control", "treatment")
        }
        diffs.append(arm["treatment"].mean() - arm["control"].mean())
        variances.append(sum(arm[a].var(ddof=1) / arm[a].size for a in arm))
        sizes.append(sum(arm[a].size for a in arm))
    w = np.array(sizes, float) / sum(sizes)
    effect = float(w @ np.array(diffs))
    se = math.sqrt(float(w**2 @ np.array(variances)))
    (cmp,) = doc["results"]["metrics"][0]["comparisons"]
    assert cmp["absolute"]["estimate"] == pytest.approx(effect, rel=1e-9)
    assert cmp["absolute"]["upper"] - effect == pytest.approx(1.96 * se, rel=1e-2)
    # No true effect: the stratified estimate is small; the pooled difference carries the
    # trend (more of the treatment's units are from the later, richer cohort).
    pooled = {
        a: np.mean([x for _, (b, x) in values.items() if b == a]) for a in ("control", "treatment")
    }
    assert pooled["treatment"] - pooled["control"] > abs(effect) + 3 * se

    # The ledger replays the look byte for byte (the versions are in the document).
    assert replay_look(record) == record.document


def test_a_sticky_look_without_weight_changes_is_unchanged(store: DuckDBStore) -> None:
    rng = np.random.default_rng(7)
    registry = Registry.for_store(store)
    exp = register(registry, sticky(), by="ana", reason="launch", now=T0)
    ids = [f"u{i}" for i in range(600)]
    service = ExperimentAssignmentService([exp], sticky=MemoryStickyStore())
    traffic(store, service, exp, ids, ms(T0) + 1000, 10.0, rng, {})
    record = run_look(store, registry, exp.id, cutoff=NOW, now=NOW)
    doc = record.to_dict()
    assert "weightsVersions" not in doc and "byWeightsVersion" not in doc["results"]["srm"]
    assert not any(k.startswith("@") for k in doc["sums"].get("segments", {}))
    # The classic evaluation of the same sums, without any versions, gives the same bytes.
    from splitlab.evaluation.quality import QualityReport
    from splitlab.stats.sums import ExperimentSums

    evaluated = evaluate(
        load_experiment(doc["definition"]),
        ExperimentSums.from_dict(doc["sums"]),
        doc["analysisLook"],
        None if doc["history"] is None else tuple(doc["history"]),
        QualityReport.from_dict(doc["dataQuality"]),
    )
    meta = {k: doc[k] for k in ("experimentId", "look", "peek", "analysisLook", "at", "cutoff",
                                "triggeredBy", "status")}  # fmt: skip
    assert look_document(meta, evaluated, doc["actions"]) == record.document


def test_the_cli_names_the_versions(tmp_path: Path) -> None:
    """`splitlab evaluate` prints the versions and the SRM per version; `status` shows the
    weights change in the change log."""
    path = tmp_path / "splitlab.duckdb"
    with DuckDBStore(path, load_interval_s=0.05) as store:
        exp, _ = reweighted_mid_way(store, Registry.for_store(store))
    runner = CliRunner()
    out = runner.invoke(
        cli, ["evaluate", exp.id, "--db", str(path), "--cutoff", NOW.isoformat()],
        catch_exceptions=False,
    ).output  # fmt: skip
    text = " ".join(out.split())  # the console wraps long lines
    assert (
        "Weights versions: v0 50/50 from 2026-03-02 09:00 UTC, v1 20/80 from 2026-03-04 09:00 "
        "UTC; SRM per version p = "
    ) in text
    assert "; effects stratified by weights version" in text
    status = runner.invoke(
        cli, ["status", exp.id, "--db", str(path)], catch_exceptions=False, env={"COLUMNS": "250"}
    ).output
    status = " ".join(status.split())
    assert "weights 50/50" in status and "weights v1: 20/80" in status


def test_always_valid_looks_carry_their_versions(store: DuckDBStore) -> None:
    """With always-valid inference the earlier looks are re-analysed at each look: a look
    stratified by version keeps its per-version slices and versions in the carried state, so
    it is re-analysed stratified (its own p-value, not the pooled one), and replays."""
    registry = Registry.for_store(store)
    raw = sticky().to_wire()
    raw["evaluation"]["sequential"] = {"method": "always_valid"}
    exp, _ = reweighted_mid_way(store, registry, load_experiment(raw))
    first = run_look(store, registry, exp.id, cutoff=CHANGE + timedelta(seconds=4800), now=NOW)
    second = run_look(store, registry, exp.id, cutoff=NOW, now=NOW)
    (carried,) = second.to_dict()["carried"]["looks"]
    assert [v["version"] for v in carried["versions"]] == [0, 1]
    assert set(carried["sums"]["segments"]) == {"@weightsVersion=0", "@weightsVersion=1"}
    # The running p-value is the minimum of each look's own stratified p-value; a pooled
    # re-analysis of the first look (confounded by the trend) would have undercut it.
    docs = [first.to_dict(), second.to_dict()]
    defn = load_experiment(docs[1]["definition"])
    own = []
    pooled = []
    for doc in docs:
        sums = ExperimentSums.from_dict(doc["sums"])
        versions = [WeightsVersion.from_dict(v) for v in doc["weightsVersions"]["versions"]]
        own.append(_p(analyze(defn, sums, doc["analysisLook"], versions=versions)))
        pooled.append(_p(analyze(defn, sums, doc["analysisLook"])))
    (c2,) = docs[1]["results"]["metrics"][0]["comparisons"]
    assert c2["sequentialPValue"] == pytest.approx(min(own), rel=1e-12)
    assert pooled[0] < min(own)
    assert replay_look(first) == first.document and replay_look(second) == second.document


def _p(results: Any) -> float:
    (c,) = results.metrics[0].comparisons
    return float(c.sequential_p_value)


def test_the_launch_check_uses_the_versions_with_the_registry(store: DuckDBStore) -> None:
    """With the registry the launch check's SRM is per version (passes); without it, against
    the current weights alone, the mixed counts fail."""
    registry = Registry.for_store(store)
    exp, _ = reweighted_mid_way(store, registry)
    current = registry.get(exp.id)
    checked = {
        c.name: c for c in launch_check(store, current, cutoff=NOW, registry=registry).checks
    }
    assert checked["srm"].passed and "per weights version, 2 versions" in checked["srm"].detail
    plain = {c.name: c for c in launch_check(store, current, cutoff=NOW).checks}
    assert not plain["srm"].passed


def test_the_same_split_written_differently_is_no_version(registry: Registry) -> None:
    """Equal weights made explicit (no weights -> 0.5/0.5) change no split: allowed for any
    live experiment, and no new version."""
    raw = sticky().to_wire()
    raw["variants"] = ["control", "treatment"]
    raw["assignment"] = {"salt": "s-1"}
    exp = register(registry, load_experiment(raw), by="ana", reason="launch", now=T0)
    update_definition(registry, reweighted(exp, (0.5, 0.5)), by="a", reason="explicit")
    (change,) = [c for c in registry.changes(exp.id) if c.kind == "definition"]
    assert change.details == {"changed": ["variants"]}
    assert len(weights_versions(registry, registry.get(exp.id))) == 1


def test_a_look_before_the_change_is_the_classic_one(store: DuckDBStore) -> None:
    """A look whose data cut-off precedes the weights change has one version: classic."""
    registry = Registry.for_store(store)
    exp, _ = reweighted_mid_way(store, registry)
    record = run_look(store, registry, exp.id, cutoff=CHANGE - timedelta(hours=1), now=NOW)
    doc = record.to_dict()
    assert "weightsVersions" not in doc and "byWeightsVersion" not in doc["results"]["srm"]
    assert sum(doc["results"]["units"].values()) == 2000
    # Every unit by that cut-off was split 50/50: the sample ratio is checked against the
    # weights in force then, not the later 20/80 (which would halt and roll back a healthy
    # experiment). Reference: scipy.stats.chisquare of the counts against 50/50.
    srm_doc = doc["results"]["srm"]
    assert srm_doc["expectedShares"] == {"control": 0.5, "treatment": 0.5}
    counts = [srm_doc["counts"]["control"], srm_doc["counts"]["treatment"]]
    assert srm_doc["pValue"] == pytest.approx(sps.chisquare(counts).pvalue, rel=1e-9)
    assert not srm_doc["detected"] and doc["decision"]["action"] != "halt"
    assert record.to_dict()["actions"] == []
    assert registry.get(exp.id).status is Status.RUNNING
    assert replay_look(record) == record.document
    # The launch check at that cut-off agrees.
    checked = {
        c.name: c
        for c in launch_check(
            store, registry.get(exp.id), cutoff=CHANGE - timedelta(hours=1), registry=registry
        ).checks
    }
    assert checked["srm"].passed, checked["srm"].detail


def test_pause_and_resume_start_no_version_and_a_change_while_paused_does(
    registry: Registry,
) -> None:
    """Pausing and resuming a sticky experiment keeps its version (the weights did not
    change; version 0 starts at the first launch); a weights change made while it is paused
    starts the next version at the change, so the units first exposed after the resume are
    in it."""
    from splitlab.evaluation import change_status

    exp = register(registry, sticky(), by="ana", reason="launch", now=T0)
    pause, resume = T0 + timedelta(hours=5), T0 + timedelta(hours=9)
    change_status(registry, exp.id, Status.PAUSED, by="a", reason="r", now=pause)
    change_status(registry, exp.id, Status.RUNNING, by="a", reason="r", now=resume)
    (only,) = weights_versions(registry, registry.get(exp.id))
    assert (only.version, only.start) == (0, T0)
    change_status(registry, exp.id, Status.PAUSED, by="a", reason="r", now=CHANGE)
    paused = registry.get(exp.id)
    update_definition(
        registry,
        reweighted(paused, (0.2, 0.8)),
        by="a",
        reason="x",
        now=CHANGE + timedelta(hours=1),
    )
    change_status(registry, exp.id, Status.RUNNING, by="a", reason="r", now=NOW)
    versions = weights_versions(registry, registry.get(exp.id))
    assert [(v.version, v.start, dict(v.weights)) for v in versions] == [
        (0, T0, {"control": 0.5, "treatment": 0.5}),
        (1, CHANGE + timedelta(hours=1), {"control": 0.2, "treatment": 0.8}),
    ]
