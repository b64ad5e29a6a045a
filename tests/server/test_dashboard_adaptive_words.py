"""The dashboard's plain-language description of a canary and a bandit.

A bandit takes no planned looks and a canary is promoted by its monitor, not by a person
confirming a winner, so the classic sentences must not say otherwise; a canary's planned
looks (the classic analysis beside the monitor) are named as such.
"""

from __future__ import annotations

import json
from importlib import resources

from splitlab.config import load_experiment
from splitlab.server.dashboard import words


def _demo(name: str) -> str:
    path = resources.files("splitlab.demo") / f"{name}.json"
    return " ".join(words.describe(load_experiment(json.loads(path.read_text()))))


def test_a_canary_is_described_by_its_monitor_first() -> None:
    text = _demo("exp-orders-db-migration")
    assert "a person confirms" not in text
    assert "Analysed with" not in text and "Its planned looks are analysed with a z-test" in text
    assert "split over its 4 judged steps and 3 metrics (Bonferroni)" in text
    assert "rates, whole distributions (Mann–Whitney U) and quantiles" in text
    assert "rolls it back on its own" in text


def test_a_bandit_is_described_as_optimising_not_deciding() -> None:
    text = _demo("exp-onboarding-bandit")
    assert "looks" not in text and "a person confirms" not in text
    assert "Rolls back automatically" not in text
    assert "Every 6 hours Thompson sampling" in text
    assert "best “setup_completed”" in text
    assert "no look, ship or rollback decision" in text


def test_a_classic_experiment_keeps_its_looks_and_confirmation() -> None:
    path = resources.files("splitlab.demo") / "exp-checkout-flow-v3.json"
    text = " ".join(words.describe(load_experiment(json.loads(path.read_text()))))
    assert "in at most 5 looks" in text and "a person confirms before it ships" in text
