"""Switchback assignment: the spec vectors, the time argument and the clock, and properties.

The vectors (``spec/switchback-cases.json``) are read by the JS SDK and the OpenFeature
provider tests too, so all three give identical answers on each.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from scipy import stats

from splitlab.assignment import (
    ExperimentAssignmentService,
    Reason,
    TimeError,
    epoch_ms,
    period_index,
    period_start_ms,
    switchback_input,
    switchback_variant,
)
from splitlab.assignment.switchback import switchback_split
from splitlab.config import Experiment, load_experiment
from splitlab.config.designs import SwitchbackDesign, parse_origin
from tests.assignment.assignment_helpers import experiment
from tests.conftest import ROOT

CASES: dict[str, Any] = json.loads((ROOT / "spec" / "switchback-cases.json").read_text("utf-8"))
HOUR = 3_600_000


def switchback(unit: str | None = "region", **changes: Any) -> Experiment:
    design = {"type": "switchback", "unit": unit, "periodSeconds": 3600, "burnInSeconds": 600}
    return experiment(design=design | changes.pop("design", {}), **changes)


def expected_of(case: dict[str, Any]) -> dict[str, Any]:
    keys = ("variant", "reason", "period", "periodStartMs", "switchbackUnit")
    return {k: case[k] for k in keys if k in case}


def answer_of(got: Any) -> dict[str, Any]:
    out = {k: v for k, v in got.to_dict().items() if k != "experimentId"}
    if "periodStart" in out:
        out["periodStartMs"] = out.pop("periodStart")
    return out


@pytest.mark.parametrize("case", CASES["origins"], ids=lambda c: c["origin"])
def test_origin_vectors(case: dict[str, Any]) -> None:
    assert parse_origin(case["origin"]) == case["originMs"]


@pytest.mark.parametrize("text", CASES["badOrigins"])
def test_bad_origins_are_refused(text: str) -> None:
    assert parse_origin(text) is None


@pytest.mark.parametrize("case", CASES["periods"], ids=lambda c: f"{c['tMs']}")
def test_period_vectors(case: dict[str, Any]) -> None:
    design = SwitchbackDesign.model_validate(case["design"])
    assert period_index(design, case["tMs"]) == case["period"]
    assert period_start_ms(design, case["period"]) == case["periodStartMs"]
    assert (
        case["periodStartMs"] <= case["tMs"] < case["periodStartMs"] + design.period_seconds * 1000
    )


@pytest.mark.parametrize("case", CASES["hashes"], ids=lambda c: c["input"])
def test_hash_vectors(case: dict[str, Any]) -> None:
    raw = switchback_input(case["experimentId"], case["salt"], case["unit"], case["period"])
    assert raw.decode() == case["input"]
    assert raw.hex() == case["inputUtf8Hex"]
    assert hashlib.sha256(raw).hexdigest() == case["sha256"]
    split = switchback_split(case["experimentId"], case["salt"], case["unit"], case["period"])
    assert split == case["split"]


@pytest.mark.parametrize("case", CASES["assignments"], ids=lambda c: c["name"])
def test_assignment_vectors(case: dict[str, Any]) -> None:
    exp = load_experiment(case["experiment"])
    service = ExperimentAssignmentService([exp])
    got = service.assign(case["unitId"], exp.experiment_id, case["attributes"], at=case["atMs"])
    assert answer_of(got) == expected_of(case)
    if got.reason is Reason.ASSIGNED:
        assert switchback_variant(exp, got.switchback_unit, case["period"]) == case["variant"]
    # The same time as an aware datetime in another zone, and through the clock.
    moment = datetime.fromtimestamp(case["atMs"] / 1000, tz=timezone(timedelta(hours=-7)))
    if epoch_ms(moment) == case["atMs"]:
        as_dt = service.assign(case["unitId"], exp.experiment_id, case["attributes"], at=moment)
        assert answer_of(as_dt) == expected_of(case)
    clocked = ExperimentAssignmentService([exp], clock=lambda: case["atMs"] / 1000)
    assert answer_of(clocked.assign(case["unitId"], exp.experiment_id, case["attributes"])) == (
        expected_of(case)
    )


def test_clock_is_read_only_without_at_and_once_per_batch() -> None:
    """The clock is the service's only input from outside; assign_all reads it once."""
    reads: list[int] = []

    def clock() -> float:
        reads.append(1)
        return 1_767_268_800.0

    service = ExperimentAssignmentService(
        [switchback(None), experiment(experimentId="exp-classic")], clock=clock
    )
    service.assign("u", "exp-classic")
    service.assign("u", "exp-test", at=1_767_268_800_000)
    assert reads == []
    service.assign_all("u")
    assert len(reads) == 1
    service.assign_many("exp-test", ["a", "b", "c"])
    assert len(reads) == 2
    at_clock = service.assign("u", "exp-test")
    assert len(reads) == 3
    assert at_clock == service.assign("u", "exp-test", at=1_767_268_800_000)
    assert at_clock.period == 1_767_268_800_000 // HOUR


def test_assign_many_and_all_agree_with_assign() -> None:
    service = ExperimentAssignmentService([switchback()])
    at = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    regions = [{"region": f"r{i}"} for i in range(50)]
    many = service.assign_many("exp-test", ["u"] * 50, regions, at=at)
    assert many == [service.assign("u", "exp-test", r, at=at) for r in regions]
    assert service.assign_all("u", regions[3], at=at)["exp-test"] == many[3]


@pytest.mark.parametrize(
    ("at", "words"),
    [
        (1.5e12, "got 1500000000000.0"),
        (True, "got True"),
        ("2026-01-01T00:00:00Z", "got '2026-01-01T00:00:00Z'"),
        (datetime(2026, 1, 1), "naive datetime '2026-01-01T00:00:00'"),
        (10**16, "got 10000000000000000"),
    ],
)
def test_a_bad_time_is_refused_naming_the_field(at: Any, words: str) -> None:
    service = ExperimentAssignmentService([switchback()])
    with pytest.raises(TimeError) as info:
        service.assign("u", "exp-test", {"region": "EU"}, at=at)
    message = str(info.value)
    assert message.startswith("at must be epoch milliseconds (an integer within +-8.64e15)")
    assert words in message
    with pytest.raises(TimeError):  # refused for a classic experiment too: no silent ignore
        ExperimentAssignmentService([experiment()]).assign("u", "exp-test", at=at)


def test_status_and_toggle_override_the_cells() -> None:
    at = 1_767_268_800_000
    for changes, reason, variant in [
        ({"status": "rolled_back"}, Reason.ROLLED_BACK, "control"),
        ({"status": "shipped", "shippedVariant": "variant-b"}, Reason.SHIPPED, "variant-b"),
        ({"forcedVariant": "variant-a"}, Reason.TOGGLED, "variant-a"),
        ({"status": "stopped"}, Reason.NOT_RUNNING, None),
    ]:
        got = ExperimentAssignmentService([switchback(**changes)]).assign(
            "u", "exp-test", {"region": "EU"}, at=at
        )
        assert (got.variant, got.reason, got.period) == (variant, reason, None)


def test_the_unit_is_the_design_attribute_not_the_unit_id() -> None:
    service = ExperimentAssignmentService([switchback()])
    at = 1_767_268_800_000
    by_unit_id = {
        service.assign(f"user-{i}", "exp-test", {"region": "EU"}, at=at) for i in range(20)
    }
    assert len(by_unit_id) == 1
    missing = service.assign("user-1", "exp-test", {"userId": "EU"}, at=at)
    assert (missing.reason, missing.variant) == (Reason.MISSING_UNIT_ID, None)
    lone = service.assign("user-1", "exp-test", {"region": "\ud800"}, at=at)
    assert lone.reason is Reason.MISSING_UNIT_ID


# ------------------------------------------------------------------------ properties


def cells(exp: Experiment, units: list[str | None], periods: range) -> np.ndarray:
    """Variant index per (unit, period) cell, through the public service."""
    service = ExperimentAssignmentService([exp])
    names = exp.variant_names
    key = exp.design.unit if isinstance(exp.design, SwitchbackDesign) else None
    out = np.empty((len(units), len(periods)), dtype=np.int64)
    for i, unit in enumerate(units):
        attrs = {key: unit} if key is not None else None
        for j, k in enumerate(periods):
            variant = service.assign("u", exp.experiment_id, attrs, at=k * HOUR).variant
            out[i, j] = names.index(str(variant))
    return out


def test_weighted_split_over_many_cells_is_within_three_standard_errors() -> None:
    exp = switchback(variants=[{"name": "a", "weight": 0.5}, {"name": "b", "weight": 0.3},
                               {"name": "c", "weight": 0.2}])  # fmt: skip
    grid = cells(exp, [f"region-{i}" for i in range(40)], range(-250, 250))  # 20,000 cells
    n = grid.size
    for index, p in enumerate((0.5, 0.3, 0.2)):
        share = float(np.mean(grid == index))
        assert abs(share - p) < 3 * np.sqrt(p * (1 - p) / n), (index, share)


def test_variant_is_constant_within_a_period() -> None:
    exp = switchback()
    service = ExperimentAssignmentService([exp])
    rng = np.random.default_rng(20261204)
    for k in rng.integers(-10_000, 10_000, size=300):
        start = int(k) * HOUR
        offsets = [0, 1, HOUR - 1, *rng.integers(0, HOUR, size=5).tolist()]
        answers = {service.assign("u", "exp-test", {"region": "EU"}, at=start + o) for o in offsets}
        assert len(answers) == 1
        assert next(iter(answers)).period_start_ms == start


def test_draws_are_independent_across_periods_and_units() -> None:
    """Consecutive periods of one unit, and two units in one period: no association."""
    grid = cells(switchback(variants=["a", "b"]), [f"u{i}" for i in range(40)], range(500))
    x = (grid == 1).astype(float)
    # Lag-1 agreement across periods of the same unit; p = 1/2 under independence.
    same_next = float(np.mean(x[:, 1:] == x[:, :-1]))
    n_pairs = x[:, 1:].size
    assert abs(same_next - 0.5) < 3 * np.sqrt(0.25 / n_pairs)
    # Two different units in the same period.
    same_unit_pair = float(np.mean(x[0::2] == x[1::2]))
    assert abs(same_unit_pair - 0.5) < 3 * np.sqrt(0.25 / x[0::2].size)
    # Chi-square test of independence between a cell and the next one (scipy as reference).
    table = np.histogram2d(x[:, :-1].ravel(), x[:, 1:].ravel(), bins=2)[0]
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_no_correlation_with_the_classic_assignment_of_the_same_experiment() -> None:
    """A cell's variant does not follow the classic variant of the unit's value."""
    switch = switchback(variants=["a", "b"])
    classic = experiment(variants=["a", "b"])
    units = [f"r{i}" for i in range(400)]
    grid = cells(switch, list(units), range(0, 10))
    plain = ExperimentAssignmentService([classic])
    classic_b = np.array([plain.assign(u, "exp-test").variant == "b" for u in units], dtype=float)
    agree = (grid == 1) == (classic_b[:, None] == 1)
    p_hat = float(np.mean(agree))
    assert abs(p_hat - 0.5) < 3 * np.sqrt(0.25 / agree.size)


def test_global_and_named_units_do_not_share_a_hash() -> None:
    """The global unit's tag cannot collide with a unit whose value is 'global'."""
    assert switchback_input("e", "s", None, 3) != switchback_input("e", "s", "global", 3)
    assert switchback_input("e", "s", None, 3).startswith(b"splitlab/v1/switchback|")


def test_vectors_file_is_what_the_generator_writes() -> None:
    """spec/switchback-cases.json is exactly its generator's output, checked by the library."""
    path = ROOT / "scripts" / "generate_switchback_cases.py"
    spec = importlib.util.spec_from_file_location("generate_switchback_cases", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == CASES
