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


def _previous(p: float, lower: float, upper: float) -> dict[str, Any]:
    comparison = {
        "variant": "treatment",
        "sequentialPValue": p,
        "absolute": {"estimate": 0.0, "lower": lower, "upper": upper},
        "relative": None,
    }
    return {"results": {"metrics": [{"name": "revenue", "comparisons": [comparison]}]}}


def test_carry_forward_keeps_the_minimum_and_the_intersection() -> None:
    """Two earlier looks give min(p) and [max(lower), min(upper)]."""
    state = carry_forward([_previous(0.2, -1.0, 0.8), _previous(0.05, -0.5, 1.2)])
    assert state["revenue"]["treatment"] == {"p": 0.05, "absolute": [-0.5, 0.8]}


def test_running_minimum_can_make_a_result_significant() -> None:
    """A past p-value of 0.001 stays: the comparison is significant and better (Bonferroni m=1)."""
    experiment = _experiment()
    results = analyze(experiment, _sums(0.0, 3), 2)
    (c,) = results.metric("revenue").comparisons
    assert c.sequential_p_value is not None and c.sequential_p_value > 0.05
    carried = carry_forward([_previous(0.001, 0.1, 5.0)])
    after = apply_running(results, experiment, carried)
    (d,) = after.metric("revenue").comparisons
    assert d.sequential_p_value == 0.001 and d.adjusted_p_value == 0.001
    assert d.significant and d.direction in ("better", "worse")
    assert c.absolute is not None and d.absolute is not None
    assert d.absolute.lower == max(c.absolute.lower, 0.1)
    assert d.absolute.upper == min(c.absolute.upper, 5.0)
    assert any("running minimum" in n for n in d.notes)


def test_other_sequential_methods_are_left_alone() -> None:
    """With alpha spending the results are returned unchanged."""
    experiment = _experiment("alpha_spending")
    results = analyze(experiment, _sums(0.0, 3), 2)
    assert apply_running(results, experiment, carry_forward([_previous(0.001, 0, 1)])) is results


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
