"""design.allocation: the model, its cross-field checks and their messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from splitlab.config import ConfigError, load_experiment
from splitlab.config.allocation import MAX_ALLOCATION_CLUSTERS, MAX_SEED
from tests.allocation.helpers import STRATIFIED, allocated


def problems(raw: dict[str, Any]) -> dict[str, str]:
    """path -> the messages (joined) of every problem of `raw`, which must be refused."""
    with pytest.raises(ConfigError) as caught:
        load_experiment(raw)
    out: dict[str, str] = {}
    for p in caught.value.problems:
        out[p.path] = f"{out[p.path]} | {p}" if p.path in out else str(p)
    return out


def test_a_valid_table_loads_and_reads_back() -> None:
    """A stratified table loads; strata and the stratum attribute are kept as written."""
    exp = load_experiment(allocated(STRATIFIED))
    assert exp.design is not None and exp.design.type == "cluster"
    allocation = exp.design.allocation
    assert allocation is not None
    assert allocation.table["t3"] == "new-price"
    assert allocation.stratum_of("t3") == "silver"
    assert allocation.stratum_of("t-unknown") is None
    assert exp.to_wire()["design"]["allocation"]["stratumAttribute"] == "tier"


def test_unknown_variant_in_the_table_names_cluster_and_expectation() -> None:
    """A table entry naming no variant is refused at its own path."""
    bad = copy.deepcopy(STRATIFIED)
    bad["table"]["t2"] = "new-pryce"
    found = problems(allocated(bad))
    assert "'control', 'new-price'" in found['$.design.allocation.table["t2"]']
    assert '(got "new-pryce")' in found['$.design.allocation.table["t2"]']


def test_every_variant_needs_a_cluster() -> None:
    """A table that gives one arm no cluster is refused (there would be no comparison)."""
    bad = copy.deepcopy(STRATIFIED)
    bad["table"] = {c: "control" for c in bad["table"]}
    assert "none for 'new-price'" in problems(allocated(bad))["$.design.allocation.table"]


def test_empty_table_is_refused() -> None:
    """An empty table is a field error."""
    bad = {**STRATIFIED, "table": {}, "strata": {}}
    assert "$.design.allocation.table" in problems(allocated(bad))


def test_strata_must_cover_the_table_and_nothing_else() -> None:
    """A cluster without a stratum and a stratum for an unknown cluster are both named."""
    bad = copy.deepcopy(STRATIFIED)
    del bad["strata"]["t4"]
    bad["strata"]["t9"] = "gold"
    found = problems(allocated(bad))
    assert "missing: 't4'" in found["$.design.allocation.strata"]
    assert "a cluster of the table" in found['$.design.allocation.strata["t9"]']


def test_stratified_needs_strata_and_complete_refuses_them() -> None:
    """Strata are required for stratified and pair-matched tables, refused for complete."""
    no_strata = {k: v for k, v in STRATIFIED.items() if k not in ("strata", "stratumAttribute")}
    assert (
        "a stratum for every cluster"
        in problems(allocated(no_strata))["$.design.allocation.strata"]
    )
    complete = {**STRATIFIED, "method": "complete", "stratumAttribute": None}
    assert "method 'complete'" in problems(allocated(complete))["$.design.allocation.strata"]


def test_matched_sets_hold_one_cluster_per_variant() -> None:
    """A pair-matched table whose pair holds two controls is refused, naming the pair."""
    bad = {
        "method": "pair_matched",
        "seed": 3,
        "table": {"a": "control", "b": "control", "c": "new-price", "d": "new-price"},
        "strata": {"a": "pair-1", "b": "pair-1", "c": "pair-2", "d": "pair-2"},
    }
    message = problems(allocated(bad))["$.design.allocation.strata"]
    assert "'pair-1' holds ['control', 'control']" in message
    bad["strata"] = {"a": "pair-1", "c": "pair-1", "b": "pair-2", "d": "pair-2"}
    load_experiment(allocated(bad))


def test_traffic_allocation_must_be_one_with_a_table() -> None:
    """A traffic gate would drop tabled clusters at random and unbalance the arms."""
    found = problems(allocated(STRATIFIED, trafficAllocation=0.5))
    assert "1 with an allocation table" in found["$.trafficAllocation"]


def test_a_forced_unit_may_not_be_a_tabled_cluster() -> None:
    """A QA override of a randomised cluster is refused."""
    raw = allocated(STRATIFIED)
    raw["assignment"]["forced"] = {"new-price": ["qa-tenant", "t1"]}
    found = problems(raw)
    assert "outside the allocation table" in found["$.assignment.forced.new-price[1]"]


def test_stratum_attribute_must_be_a_declared_segment() -> None:
    """The stratified analysis reads segment sums, so the attribute must be a segment."""
    found = problems(allocated(STRATIFIED, segments=[]))
    assert "declared segments" in found["$.design.allocation.stratumAttribute"]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"seed": -1}, "$.design.allocation.seed"),
        ({"seed": MAX_SEED + 1}, "$.design.allocation.seed"),
        ({"seed": 1.5}, "$.design.allocation.seed"),
        ({"method": "minimisation"}, "$.design.allocation.method"),
        ({"table": {"x" * 201: "control"}}, "$.design.allocation.table"),
    ],
)
def test_field_limits(change: dict[str, Any], path: str) -> None:
    """Seeds in [0, 2^53), known methods, ids of at most 200 characters."""
    found = problems(allocated({**STRATIFIED, **change}))
    assert any(p.startswith(path) for p in found), found


def test_table_size_limit() -> None:
    """More than MAX_ALLOCATION_CLUSTERS entries are refused with the limit in the message."""
    n = MAX_ALLOCATION_CLUSTERS + 1
    table = {f"t{i}": ("control" if i % 2 else "new-price") for i in range(n)}
    found = problems(allocated({"method": "complete", "seed": 1, "table": table}))
    assert any(str(MAX_ALLOCATION_CLUSTERS) in m for m in found.values()), found


def test_allocation_needs_a_cluster_design() -> None:
    """A switchback design has no allocation key."""
    raw = allocated(STRATIFIED)
    raw["design"] = {
        "type": "switchback",
        "periodSeconds": 3600,
        "burnInSeconds": 600,
        "allocation": STRATIFIED,
    }
    assert any("allocation" in p for p in problems(raw))
