"""Schedules: the article's daily_HHMM_utc, hourly and 5-field cron, all in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from splitlab.evaluation import ScheduleError, parse_schedule


def _t(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_0900_utc_is_nine_every_morning() -> None:
    """daily_0900_utc runs at 09:00 UTC; at 09:00 itself that tick is the latest."""
    s = parse_schedule("daily_0900_utc")
    assert s.cron == "0 9 * * *"
    assert s.latest(_t(2026, 3, 2, 9, 0)) == _t(2026, 3, 2, 9, 0)
    assert s.latest(_t(2026, 3, 2, 8, 59)) == _t(2026, 3, 1, 9, 0)
    assert s.next_after(_t(2026, 3, 2, 9, 0)) == _t(2026, 3, 3, 9, 0)


def test_daily_form_reads_minutes_and_other_timezones_are_converted() -> None:
    """daily_1730_utc is 17:30 UTC, whatever the offset of the moment asked about."""
    s = parse_schedule("daily_1730_utc")
    cet = timezone(timedelta(hours=1))
    assert s.next_after(datetime(2026, 3, 2, 18, 0, tzinfo=cet)) == _t(2026, 3, 2, 17, 30)


def test_hourly_is_minute_zero() -> None:
    """hourly ticks at minute 0 of every hour."""
    s = parse_schedule("hourly")
    assert s.latest(_t(2026, 3, 2, 10, 59)) == _t(2026, 3, 2, 10, 0)
    assert s.next_after(_t(2026, 3, 2, 10, 0)) == _t(2026, 3, 2, 11, 0)


def test_cron_expression_weekdays_only() -> None:
    """A cron expression is honoured: '0 9 * * 1-5' skips the weekend (2026-03-07 is Sat)."""
    s = parse_schedule("0 9 * * 1-5")
    assert s.next_after(_t(2026, 3, 6, 10, 0)) == _t(2026, 3, 9, 9, 0)


@pytest.mark.parametrize("text", ["daily_2500_utc", "daily_0900", "weekly", "61 * * * *", ""])
def test_bad_schedules_name_the_expected_forms(text: str) -> None:
    """Anything else is refused, naming the value and the accepted forms."""
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text)
    assert repr(text) in str(info.value) and "daily_HHMM_utc" in str(info.value)


def test_naive_datetimes_are_refused() -> None:
    """A moment without a timezone is ambiguous and refused."""
    with pytest.raises(ScheduleError, match="timezone-aware"):
        parse_schedule("hourly").latest(datetime(2026, 3, 2, 9, 0))
