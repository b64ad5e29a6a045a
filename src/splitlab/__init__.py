"""splitlab: an experimentation (A/B testing) platform.

Deterministic assignment, exactly-once tracking, statistics a data scientist can defend, and
decisions a product manager can read. The names in ``__all__`` are the public Python surface
(``docs/api.md``); each is imported on first use, so ``import splitlab`` stays light and the
assignment path never loads numpy, scipy or a web framework.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # definitions
    "load_experiment": "splitlab.config",
    "Experiment": "splitlab.config",
    "Status": "splitlab.config",
    "ConfigError": "splitlab.config",
    "Problem": "splitlab.config",
    "evaluate_condition": "splitlab.config.conditions",
    "ConditionError": "splitlab.config.conditions",
    # assignment
    "ExperimentAssignmentService": "splitlab.assignment",
    "Assignment": "splitlab.assignment",
    "Reason": "splitlab.assignment",
    # statistics
    "analyze": "splitlab.stats",
    "ExperimentEvaluator": "splitlab.stats",
    "ExperimentSums": "splitlab.stats",
    "Results": "splitlab.stats",
    "StatsError": "splitlab.stats",
    # tracking
    "Event": "splitlab.tracking",
    "EventTrackingMiddleware": "splitlab.tracking",
    "WSGITrackingMiddleware": "splitlab.tracking",
    "DjangoTrackingMiddleware": "splitlab.tracking.middleware.django",
    "TrackingClient": "splitlab.tracking",
    "TrackingCore": "splitlab.tracking",
    "current": "splitlab.tracking",
    "emit": "splitlab.tracking",
    # storage and evaluation
    "DuckDBStore": "splitlab.store",
    "run_look": "splitlab.evaluation",
    # errors
    "SplitlabError": "splitlab.errors",
}

__all__ = [
    "Assignment",
    "ConditionError",
    "ConfigError",
    "DjangoTrackingMiddleware",
    "DuckDBStore",
    "Event",
    "EventTrackingMiddleware",
    "Experiment",
    "ExperimentAssignmentService",
    "ExperimentEvaluator",
    "ExperimentSums",
    "Problem",
    "Reason",
    "Results",
    "SplitlabError",
    "StatsError",
    "Status",
    "TrackingClient",
    "TrackingCore",
    "WSGITrackingMiddleware",
    "__version__",
    "analyze",
    "current",
    "emit",
    "evaluate_condition",
    "load_experiment",
    "run_look",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'splitlab' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from splitlab.assignment import Assignment, ExperimentAssignmentService, Reason
    from splitlab.config import ConfigError, Experiment, Problem, Status, load_experiment
    from splitlab.config.conditions import ConditionError, evaluate_condition
    from splitlab.errors import SplitlabError
    from splitlab.evaluation import run_look
    from splitlab.stats import ExperimentEvaluator, ExperimentSums, Results, StatsError, analyze
    from splitlab.store import DuckDBStore
    from splitlab.tracking import (
        Event,
        EventTrackingMiddleware,
        TrackingClient,
        TrackingCore,
        WSGITrackingMiddleware,
        current,
        emit,
    )
    from splitlab.tracking.middleware.django import DjangoTrackingMiddleware
