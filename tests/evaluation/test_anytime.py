"""Always-valid inference across looks: running minimum p-value and running intersection."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from splitlab.config import Experiment, load_experiment
from splitlab.evaluation import replay_look, run_look
from splitlab.evaluation.anytime import apply_running, carry_forward
from splitlab.stats import analyze
from splitlab.stats.sums import ArmSums, ExperimentSums
from splitlab.store.duckdb_store import DuckDBStore

from .conftest import T0, definition, register
from .simulate import Traffic, day, send


def _experiment(method: str = "always_valid") -> Experiment:
    raw = definition(
        metrics={"primary": {"name": "revenue", "type": "continuous"}},
        evaluation={"maxPeeks": 5, "minSampleSize": 500, "sequential": {"method": method}},
    )
    return load_experiment(raw)


def _sums(shift: float, seed: int) -> ExperimentSums:
    rng = np.random.default_rng(seed)
    control = ArmSums.from_values(rng.normal(10.0, 2.0, 600))
    treatment = ArmSums.from_values(rng.normal(10.0 + shift, 2.0, 600))
    arms = {"control": control, "treatment": treatment}
    return ExperimentSums({"control": 600.0, "treatment": 600.0}, {"revenue": arms}, "exp-eval")


def _doc(experiment: Experiment, sums: ExperimentSums, look: int) -> dict[str, Any]:
    """The fields of a ledger document that the next look reads."""
    return {"analysisLook": look, "history": None, "sums": sums.to_dict()}


def test_carry_forward_keeps_what_a_reanalysis_needs() -> None:
    """Each planned look's number, history and overall sums (segments dropped), oldest first."""
    first = _sums(0.5, 1)
    with_segments = ExperimentSums(first.units, first.metrics, "exp-eval", 1, {"region=EU": first})
    state = carry_forward(
        [
            {"analysisLook": 1, "history": None, "sums": with_segments.to_dict()},
            {"analysisLook": 2, "history": [0.5], "sums": _sums(0.0, 2).to_dict()},
        ]
    )
    assert [item["look"] for item in state["looks"]] == [1, 2]
    assert state["looks"][1]["history"] == [0.5]
    assert "segments" not in state["looks"][0]["sums"]
    assert ExperimentSums.from_dict(state["looks"][0]["sums"]).metrics == first.metrics


def test_running_minimum_can_make_a_result_significant() -> None:
    """An early strong effect stays: significant, p from look 1, interval the intersection.

    One comparison (Bonferroni, m = 1) decides at alpha, the level each look's own analysis
    used, so the running interval is [max lower, min upper] of the two looks' intervals.
    """
    experiment = _experiment()
    early, late = _sums(0.5, 3), _sums(0.1, 4)
    first = analyze(experiment, early, 1).metric("revenue").comparisons[0]
    results = analyze(experiment, late, 2)
    (c,) = results.metric("revenue").comparisons
    assert first.significant and c.sequential_p_value is not None and c.sequential_p_value > 0.05
    carried = carry_forward([_doc(experiment, early, 1)])
    after = apply_running(results, experiment, carried, late, None)
    (d,) = after.metric("revenue").comparisons
    assert d.sequential_p_value == first.sequential_p_value == d.adjusted_p_value
    assert d.significant and d.direction == "better"
    assert first.absolute is not None and c.absolute is not None and d.absolute is not None
    assert d.absolute.lower == max(c.absolute.lower, first.absolute.lower) > 0
    assert d.absolute.upper == min(c.absolute.upper, first.absolute.upper)
    assert any("running minimum" in n for n in d.notes)


def test_disjoint_intervals_report_no_interval_and_no_significance() -> None:
    """Looks whose intervals share no value (effect 0.8, then 0): null interval, not significant."""
    experiment = _experiment()
    early, late = _sums(0.8, 3), _sums(0.0, 4)
    carried = carry_forward([_doc(experiment, early, 1)])
    after = apply_running(analyze(experiment, late, 2), experiment, carried, late, None)
    (d,) = after.metric("revenue").comparisons
    assert d.adjusted_p_value is not None and d.adjusted_p_value <= 0.05
    assert d.absolute is None and d.relative is None
    assert not d.significant and d.direction == "none"
    assert any("no value in common" in n for n in d.notes)


def test_other_sequential_methods_are_left_alone() -> None:
    """With alpha spending the results are returned unchanged."""
    experiment = _experiment("alpha_spending")
    sums = _sums(0.0, 3)
    results = analyze(experiment, sums, 2)
    carried = carry_forward([_doc(experiment, _sums(0.8, 4), 1)])
    assert apply_running(results, experiment, carried, sums, None) is results


def test_always_valid_looks_are_monotone_and_replay_exactly(store: DuckDBStore) -> None:
    """An early effect that fades: raw mSPRT p-values rise again, the recorded ones never do."""
    raw = definition(
        status="running",
        evaluation={"maxPeeks": 4, "minSampleSize": 3000, "sequential": {"method": "always_valid"}},
    )
    registry = register(store, raw)
    experiment = registry.get("exp-eval")
    early = {"checkout": {"control": 0.10, "treatment": 0.16}}
    late = {"checkout": {"control": 0.12, "treatment": 0.10}}
    rng = np.random.default_rng(17)
    for d in range(4):
        rates = early if d < 2 else late
        send(store, experiment, Traffic(d * 1500, 1500, rates), day(T0, d), rng)
        run_look(store, registry, "exp-eval", cutoff=day(T0, d + 1), now=day(T0, d + 1))
    recorded, fresh = [], []
    for record in registry.looks("exp-eval"):
        doc = record.to_dict()
        recorded.append(doc["results"]["metrics"][0]["comparisons"][0]["sequentialPValue"])
        alone = analyze(experiment, ExperimentSums.from_dict(doc["sums"]), doc["analysisLook"])
        fresh.append(alone.metrics[0].comparisons[0].sequential_p_value)
        assert replay_look(record) == record.document
    assert any(b > a for a, b in itertools.pairwise(fresh))
    assert all(b <= a for a, b in itertools.pairwise(recorded))
    assert recorded[-1] == min(fresh)
