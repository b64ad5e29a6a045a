"""The data cut-off of a look or a summary: which instants are accepted.

A cut-off is an instant from :data:`EARLIEST_CUTOFF` (2000-01-01T00:00:00Z, the earliest
event timestamp the collector accepts, so an earlier cut-off could only ever see no data) to
:data:`MAX_CUTOFF_AHEAD` (24 hours) after the clock: later than that is a typo (a year 9999,
seconds read as milliseconds), not a data cut-off. A cut-off without a time zone is UTC.
The ledger records the cut-off, so a value outside the range is refused before a look runs
instead of being stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from splitlab.evaluation.errors import EvaluationError
from splitlab.tracking.model import MIN_TIMESTAMP_MS

#: The earliest cut-off accepted: the earliest event timestamp the collector accepts.
EARLIEST_CUTOFF = datetime.fromtimestamp(MIN_TIMESTAMP_MS / 1000, UTC)

#: How far after the clock a cut-off may be (clock skew between machines, time zones).
MAX_CUTOFF_AHEAD = timedelta(hours=24)

#: What a valid cut-off is, for error messages and the docs.
CUTOFF_RULE = (
    "an ISO-8601 date and time (2026-01-01T00:00:00Z) from 2000-01-01T00:00:00Z to 24 hours "
    "after now"
)


class CutoffError(EvaluationError):
    """A data cut-off outside the accepted range."""

    code = "invalid_cutoff"
    default_expected = CUTOFF_RULE


def cutoff_problem(cutoff: datetime, now: datetime | None = None) -> str | None:
    """None when `cutoff` is accepted at `now` (default: the clock), else what is wrong."""
    now = now or datetime.now(UTC)
    moment = _aware(cutoff)
    try:
        if moment < EARLIEST_CUTOFF:
            return "is before 2000-01-01T00:00:00Z (no event can be that old)"
        if moment > now + MAX_CUTOFF_AHEAD:
            return "is more than 24 hours after now"
    except OverflowError:  # an offset that moves year 1 or 9999 out of range
        return "is out of range"
    return None


def check_cutoff(cutoff: datetime, now: datetime | None = None) -> datetime:
    """`cutoff` as an aware UTC instant, or :class:`CutoffError` naming the value."""
    problem = cutoff_problem(cutoff, now)
    if problem is not None:
        raise CutoffError(
            f"cutoff {cutoff.isoformat()!r} {problem}; expected {CUTOFF_RULE}",
            field="cutoff",
            value=cutoff.isoformat(),
            expected=CUTOFF_RULE,
        )
    return _aware(cutoff).astimezone(UTC)


def _aware(cutoff: datetime) -> datetime:
    """`cutoff` with UTC as its time zone when it has none."""
    return cutoff if cutoff.tzinfo is not None else cutoff.replace(tzinfo=UTC)
