"""Errors of the evaluation layer.

SplitlabError                   (splitlab.errors)
└── EvaluationError             a look or a status change that is not allowed
    ├── TransitionError         a status change the lifecycle does not allow
    ├── ToggleError             a variant toggle that cannot be applied
    ├── PeekLimitError          a planned look beyond `evaluation.maxPeeks`
    ├── LookTakenError          a planned look another process took first
    └── ScheduleError           an `evaluation.schedule` that cannot be read
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from splitlab.errors import SplitlabError

#: "(expected one of: a, b)" / "Expected: ..." / "; expected ..." in a message.
_EXPECTED = re.compile(r"\bexpected:?\s+(?P<what>.+)$", re.IGNORECASE | re.DOTALL)


class EvaluationError(SplitlabError):
    """A look, a status change or a toggle that is not allowed.

    Its one detail has the shape every splitlab error uses: ``path`` (the JSON path of the
    offending field, ``$.status``), ``value`` and ``expected`` (a text). ``expected`` may be
    given as a text or as a list of allowed values (then also kept, as a list, in ``allowed``);
    when it is not given it is read from the message's "(expected ...)" part. Other keyword
    arguments (``current``, ``taken``) are kept as extra keys.
    """

    code = "evaluation_error"

    #: What is expected, when neither the caller nor the message says.
    default_expected = "a look or change that the experiment's state allows"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        expected: str | Sequence[str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.value = value
        self.expected = _expected_text(expected, message, self.default_expected)
        if expected is not None and not isinstance(expected, str):
            extra = {"allowed": list(expected), **extra}
        self.extra = extra

    @property
    def path(self) -> str | None:
        """The JSON path of the offending field (``$.status``), None when there is none."""
        if self.field is None:
            return None
        return self.field if self.field.startswith("$") else f"$.{self.field}"

    def details(self) -> list[dict[str, Any]]:
        if self.path is None:
            return []
        return [{"path": self.path, "value": self.value, "expected": self.expected, **self.extra}]


def _expected_text(given: str | Sequence[str] | None, message: str, default: str) -> str:
    if isinstance(given, str):
        return given
    if given is not None:
        return "one of: " + ", ".join(given) if given else "nothing (a final status)"
    match = _EXPECTED.search(message)
    if match is None:
        return default
    what = match["what"].strip().rstrip(".")
    while what.endswith(")") and what.count(")") > what.count("("):
        what = what[:-1].rstrip()
    return what or default


class TransitionError(EvaluationError):
    """A status change that the lifecycle does not allow (for example shipped -> running)."""

    code = "invalid_transition"
    default_expected = "a change the experiment's lifecycle allows"


class ToggleError(EvaluationError):
    """A variant toggle that cannot be applied (unknown variant, finished experiment)."""

    code = "invalid_toggle"
    default_expected = "a toggle that changes what the experiment serves"


class PeekLimitError(EvaluationError):
    """Every planned look has been taken; another would inflate the false-positive rate."""

    code = "look_limit_reached"


class ScheduleError(EvaluationError, ValueError):
    """An `evaluation.schedule` value that is neither `daily_HHMM_utc`, `hourly` nor cron."""

    code = "invalid_schedule"


class LookTakenError(EvaluationError):
    """The planned look was taken by another process first (another server's scheduler, or
    a look recorded while this one ran): nothing is recorded twice."""
