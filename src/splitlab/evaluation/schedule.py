"""When looks are due: `evaluation.schedule`.

Accepted forms (all in UTC):

* ``daily_HHMM_utc``: every day at HH:MM, the article's form (``daily_0900_utc``);
* ``hourly``: at minute 0 of every hour;
* a 5-field cron expression (``minute hour day-of-month month day-of-week``, for example
  ``0 9 * * 1-5``), read by croniter.

A :class:`Schedule` answers two questions: the latest scheduled time at or before a moment
(:meth:`Schedule.latest`), and the first one after it (:meth:`Schedule.next_after`). A look is
due when the latest scheduled time is later than the previous look (see
:func:`splitlab.evaluation.scheduler.due_looks`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from splitlab.evaluation.errors import ScheduleError

_DAILY = re.compile(r"^daily_(?P<hour>[01]\d|2[0-3])(?P<minute>[0-5]\d)_utc$")
_EXPECTED = (
    "'hourly', 'daily_HHMM_utc' (like 'daily_0900_utc') or a 5-field cron expression "
    "(like '0 9 * * *')"
)


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; ``cron`` is its equivalent 5-field cron expression."""

    text: str
    cron: str

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled time strictly after ``moment`` (UTC)."""
        start = _utc(moment)
        nxt: datetime = croniter(self.cron, start).get_next(datetime)
        return nxt.astimezone(UTC)

    def latest(self, moment: datetime) -> datetime:
        """The last scheduled time at or before ``moment`` (UTC)."""
        start = _utc(moment)
        # croniter's get_prev is strictly before; nudge forward so that `moment` itself counts.
        prev: datetime = croniter(self.cron, start + timedelta(microseconds=1)).get_prev(datetime)
        return prev.astimezone(UTC)


def parse_schedule(text: str) -> Schedule:
    """Read an `evaluation.schedule` value; :class:`ScheduleError` names what was expected."""
    value = text.strip()
    if value == "hourly":
        return Schedule(text, "0 * * * *")
    match = _DAILY.match(value)
    if match:
        return Schedule(text, f"{int(match['minute'])} {int(match['hour'])} * * *")
    fields = value.split()
    if len(fields) == 5:
        try:
            croniter(value, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
        except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as exc:
            raise ScheduleError(
                f"evaluation.schedule: {text!r} is not a valid cron expression ({exc}); "
                f"expected {_EXPECTED}",
                field="evaluation.schedule",
                value=text,
            ) from None
        return Schedule(text, value)
    raise ScheduleError(
        f"evaluation.schedule: {text!r} is not a schedule splitlab knows; expected {_EXPECTED}",
        field="evaluation.schedule",
        value=text,
    )


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ScheduleError(
            f"time {moment.isoformat()!r}: expected a timezone-aware datetime",
            field="time",
            value=moment.isoformat(),
        )
    return moment.astimezone(UTC)
