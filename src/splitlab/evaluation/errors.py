"""Errors of the evaluation layer.

SplitlabError                   (splitlab.errors)
└── EvaluationError             a look or a status change that is not allowed
    ├── TransitionError         a status change the lifecycle does not allow
    ├── ToggleError             a variant toggle that cannot be applied
    ├── PeekLimitError          a planned look beyond `evaluation.maxPeeks`
    └── ScheduleError           an `evaluation.schedule` that cannot be read
"""

from __future__ import annotations

from typing import Any

from splitlab.errors import SplitlabError


class EvaluationError(SplitlabError):
    """A look, a status change or a toggle that is not allowed."""

    code = "evaluation_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self._details = details

    def details(self) -> list[dict[str, Any]]:
        return [dict(self._details)] if self._details else []


class TransitionError(EvaluationError):
    """A status change that the lifecycle does not allow (for example shipped -> running)."""

    code = "invalid_transition"


class ToggleError(EvaluationError):
    """A variant toggle that cannot be applied (unknown variant, finished experiment)."""

    code = "invalid_toggle"


class PeekLimitError(EvaluationError):
    """Every planned look has been taken; another would inflate the false-positive rate."""

    code = "look_limit_reached"


class ScheduleError(EvaluationError, ValueError):
    """An `evaluation.schedule` value that is neither `daily_HHMM_utc`, `hourly` nor cron."""

    code = "invalid_schedule"
