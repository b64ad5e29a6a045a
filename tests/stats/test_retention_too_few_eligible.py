"""A retention metric at a look where no unit's window has closed yet: the reason says the
arm has too few *eligible* units (not too few units: every arm has thousands exposed)."""

from __future__ import annotations

from splitlab.stats import ArmSums, ExperimentSums, analyze
from tests.stats.helpers import experiment

RETENTION = {"name": "d7", "type": "retention", "event": "visit", "retention": {"day": 7}}
CONVERSION = {"name": "d7", "type": "conversion", "event": "visit"}


def _reason(metric: dict[str, object], eligible: float) -> str | None:
    exp = experiment(
        variants=["control", "variant-a"],
        metrics={"primary": metric, "secondary": [], "guardrails": []},
        evaluation={"sequential": {"method": "none"}, "correction": "none"},
    )
    arms = {"control": ArmSums(eligible, 0.0, 0.0), "variant-a": ArmSums(900.0, 300.0, 300.0)}
    sums = ExperimentSums({"control": 2000.0, "variant-a": 2000.0}, {"d7": arms}, "", 1)
    return analyze(exp, sums).comparison("d7", "variant-a").reason


def test_too_few_eligible_units_is_said_so() -> None:
    assert (
        _reason(RETENTION, 0.0) == "control has 0 eligible unit(s); at least 2 per arm are needed"
    )
    assert _reason(RETENTION, 900.0) is None


def test_other_metrics_still_count_units() -> None:
    assert _reason(CONVERSION, 1.0) == "control has 1 unit(s); at least 2 per arm are needed"
