"""Building experiment definitions for the assignment tests."""

from __future__ import annotations

import copy
from typing import Any

from splitlab.config import Experiment, load_experiment

BASE: dict[str, Any] = {
    "experimentId": "exp-test",
    "status": "running",
    "trafficAllocation": 1.0,
    "variants": ["control", "variant-a", "variant-b"],
    "assignment": {"strategy": "consistent_hash", "hashKey": "userId", "salt": "test-salt"},
    "metrics": {"primary": {"name": "conversion"}},
}

ARTICLE_TARGETING: dict[str, Any] = {
    "include": ["region:US", "accountType:free"],
    "exclude": ["internal:true", "bot:true"],
}


def definition(**changes: Any) -> dict[str, Any]:
    """The base definition with top-level keys replaced (``assignment`` keys merged)."""
    raw = copy.deepcopy(BASE)
    for key, value in changes.items():
        if key == "assignment":
            raw["assignment"].update(value)
        else:
            raw[key] = value
    return raw


def experiment(**changes: Any) -> Experiment:
    """A loaded experiment: the base definition with `changes`."""
    return load_experiment(definition(**changes))
