"""Business calendars: opening intervals, holidays, daylight-saving days, due times.

Every expected value below was worked out by hand; comments show the arithmetic.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import CalendarSettings
from routing.calendar import BusinessCalendar, CalendarError, always_open

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAY = [(time(8), time(12, 30)), (time(13, 30), time(18))]
CLINIC = BusinessCalendar(
    LONDON,
    {day: WEEKDAY for day in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [(time(9), time(13))]},
    holidays={date(2026, 4, 3), date(2026, 4, 6)},  # Good Friday, Easter Monday
)
NIGHT_SHIFT = BusinessCalendar(  # Sundays across the 01:00-02:00 DST change, every day at 20:00+
    LONDON,
    {"sun": [(time(0), time(3))]} | {d: [(time(20), time(0))] for d in ("mon", "tue", "wed")},
)
NYC = BusinessCalendar(NEW_YORK, {day: [(time(9), time(17))] for day in ("mon", "tue", "fri")})


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- is_open and next_open -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (london(2026, 3, 2, 8, 0), True),  # Monday, first minute
        (london(2026, 3, 2, 12, 29, 59), True),
        (london(2026, 3, 2, 12, 30), False),  # lunch: intervals are half-open
        (london(2026, 3, 2, 13, 30), True),
        (london(2026, 3, 2, 18, 0), False),
        (london(2026, 3, 1, 10, 0), False),  # Sunday
        (london(2026, 3, 7, 12, 0), True),  # Saturday morning
        (london(2026, 4, 3, 10, 0), False),  # Good Friday
        (utc(2026, 3, 30, 7, 30), True),  # 08:30 BST on Monday after the change
        (utc(2026, 3, 27, 7, 30), False),  # 07:30 GMT on the Friday before
    ],
)
def test_is_open(at: datetime, expected: bool) -> None:
    assert CLINIC.is_open(at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (london(2026, 3, 1, 10, 0), london(2026, 3, 2, 8, 0)),  # Sunday -> Monday 08:00
        (london(2026, 3, 2, 12, 45), london(2026, 3, 2, 13, 30)),  # lunch -> afternoon
        (london(2026, 3, 2, 10, 0), london(2026, 3, 2, 10, 0)),  # open: itself
        (london(2026, 4, 2, 18, 30), london(2026, 4, 4, 9, 0)),  # over Good Friday to Saturday
    ],
)
def test_next_open(at: datetime, expected: datetime) -> None:
    assert CLINIC.next_open(at) == expected


def test_new_york_opens_at_nine_local_across_its_dst_change() -> None:
    # DST starts in New York on 2026-03-08: 09:00 is 14:00 UTC before and 13:00 UTC after.
    assert NYC.is_open(utc(2026, 3, 6, 14, 0))
    assert not NYC.is_open(utc(2026, 3, 6, 13, 30))
    assert NYC.is_open(utc(2026, 3, 9, 13, 30))
    assert NYC.next_open(utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 9, 13, 0)


# -- business time --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        (london(2026, 3, 2, 9, 0), london(2026, 3, 2, 11, 0), 7200),  # inside one interval
        (london(2026, 3, 2, 12, 0), london(2026, 3, 2, 14, 0), 3600),  # 30 min + 30 min
        (london(2026, 3, 2, 7, 0), london(2026, 3, 2, 19, 0), 9 * 3600),  # 4h30 + 4h30
        (london(2026, 3, 6, 17, 0), london(2026, 3, 9, 9, 0), 6 * 3600),  # Fri 1h, Sat 4h, Mon 1h
        (london(2026, 4, 2, 17, 0), london(2026, 4, 7, 9, 0), 6 * 3600),  # Thu 1h, Sat 4h, Tue 1h
        (london(2026, 3, 28, 12, 0), utc(2026, 3, 30, 8, 0), 7200),  # Sat 1h, Mon 08-09 BST
        (london(2026, 3, 2, 11, 0), london(2026, 3, 2, 9, 0), 0),  # end before start
        (london(2026, 3, 2, 10, 0), london(2026, 3, 2, 10, 0), 0),
    ],
)
def test_business_seconds_on_the_clinic_calendar(
    start: datetime, end: datetime, seconds: int
) -> None:
    assert CLINIC.business_seconds(start, end) == seconds


def test_new_york_business_time_over_its_dst_weekend() -> None:
    # Fri 2026-03-06 16:00 EST (21:00 UTC) -> Mon 2026-03-09 10:00 EDT (14:00 UTC): 1h + 1h.
    assert NYC.business_seconds(utc(2026, 3, 6, 21, 0), utc(2026, 3, 9, 14, 0)) == 7200
    # Fri 2026-10-30 12:00 EDT -> Mon 2026-11-02 12:00 EST (back on 2026-11-01): 5h + 3h.
    assert NYC.business_seconds(utc(2026, 10, 30, 16), utc(2026, 11, 2, 17)) == 8 * 3600


def test_a_day_has_23_or_25_hours_when_the_clocks_change() -> None:
    every_day = BusinessCalendar(LONDON, {d: [(time(0), time(0))] for d in ("sat", "sun", "mon")})
    assert every_day.business_seconds(london(2026, 3, 29), london(2026, 3, 30)) == 23 * 3600
    assert every_day.business_seconds(london(2026, 10, 25), london(2026, 10, 26)) == 25 * 3600


def test_an_interval_over_the_skipped_or_repeated_hour_counts_wall_clock_time() -> None:
    # 00:00-03:00 on Sunday: spring-forward skips 01:00-02:00 (2h), fall-back repeats it (4h)
    assert NIGHT_SHIFT.business_seconds(london(2026, 3, 29), london(2026, 3, 30)) == 2 * 3600
    assert NIGHT_SHIFT.business_seconds(london(2026, 10, 25), london(2026, 10, 26)) == 4 * 3600
    # 01:30 on 2026-10-25 happens twice: both are open, 00:30 UTC (BST) and 01:30 UTC (GMT)
    assert NIGHT_SHIFT.is_open(utc(2026, 10, 25, 0, 30))
    assert NIGHT_SHIFT.is_open(utc(2026, 10, 25, 1, 30))
    assert not NIGHT_SHIFT.is_open(utc(2026, 10, 25, 3, 0))  # 03:00 GMT: closed


def test_an_interval_after_the_change_on_the_change_day_uses_the_new_offset() -> None:
    sundays = BusinessCalendar(LONDON, {"sun": [(time(9), time(17))]})
    # 2026-03-29 09:00-17:00 BST = 08:00-16:00 UTC; 2026-10-25 09:00-17:00 GMT = UTC
    assert sundays.is_open(utc(2026, 3, 29, 8, 30))
    assert not sundays.is_open(utc(2026, 3, 29, 16, 30))
    assert sundays.business_seconds(utc(2026, 3, 29, 7), utc(2026, 3, 29, 9)) == 3600
    assert sundays.is_open(utc(2026, 10, 25, 16, 30))
    assert not sundays.is_open(utc(2026, 10, 25, 8, 30))


def test_only_the_repeated_half_hour_is_open_twice() -> None:
    calendar = BusinessCalendar(LONDON, {"sun": [(time(1), time(1, 30))]})
    assert calendar.business_seconds(utc(2026, 10, 24, 22), utc(2026, 10, 25, 4)) == 3600
    assert calendar.business_seconds(utc(2026, 3, 28, 22), utc(2026, 3, 29, 4)) == 0  # never


def test_an_interval_ending_at_midnight_runs_to_the_end_of_the_day() -> None:
    # Monday 20:00-24:00 on 2026-03-02, then Tuesday 20:00-24:00.
    assert NIGHT_SHIFT.business_seconds(london(2026, 3, 2, 21), london(2026, 3, 3, 21)) == 4 * 3600
    assert NIGHT_SHIFT.is_open(london(2026, 3, 2, 23, 59, 59))
    assert not NIGHT_SHIFT.is_open(london(2026, 3, 5, 0, 0))  # Thursday


# -- due times ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "seconds", "due"),
    [
        (london(2026, 3, 2, 17, 30), 3600, london(2026, 3, 3, 8, 30)),  # 30 min today, 30 tomorrow
        (london(2026, 3, 2, 17, 0), 3600, london(2026, 3, 2, 18, 0)),  # due at closing, not 08:00
        (london(2026, 3, 2, 12, 0), 3600, london(2026, 3, 2, 14, 0)),  # over lunch
        (london(2026, 3, 1, 10, 0), 1800, london(2026, 3, 2, 8, 30)),  # from a closed Sunday
        (london(2026, 4, 2, 17, 30), 5 * 3600, london(2026, 4, 7, 8, 30)),  # 0.5 + 4 (Sat) + 0.5
        (london(2026, 3, 28, 12, 30), 3600, utc(2026, 3, 30, 7, 30)),  # Sat 30 min, Mon 08:30 BST
        (london(2026, 3, 1, 10, 0), 0, london(2026, 3, 1, 10, 0)),  # zero: the start itself
    ],
)
def test_add_business_time(start: datetime, seconds: int, due: datetime) -> None:
    result = CLINIC.add_business_time(start, seconds)
    assert result == due
    assert result.tzinfo is start.tzinfo


def test_add_business_time_accepts_a_timedelta() -> None:
    assert CLINIC.add_business_time(london(2026, 3, 2, 9), timedelta(hours=2)) == london(
        2026, 3, 2, 11
    )


def test_always_open_counts_wall_time() -> None:
    calendar = always_open()
    start = london(2026, 3, 29, 0, 0)
    assert calendar.is_open(start)
    assert calendar.business_seconds(start, london(2026, 3, 30, 0, 0)) == 23 * 3600
    assert calendar.add_business_time(start, 90) == start + timedelta(seconds=90)


# -- settings and refusals ------------------------------------------------------------------------


def test_from_settings_reads_the_config_shape() -> None:
    cal = CalendarSettings.model_validate(
        {
            "timezone": "Europe/London",
            "week": {"mon": ["08:00-12:30", "13:30-18:00"], "sat": ["09:00-13:00"]},
            "holidays": ["2026-03-09"],
        }
    )
    calendar = BusinessCalendar.from_settings(cal)
    assert calendar.timezone == LONDON
    assert calendar.week["mon"] == ((time(8), time(12, 30)), (time(13, 30), time(18)))
    assert calendar.holidays == {date(2026, 3, 9)}
    # Mon 2026-03-02 17:00 -> Mon 2026-03-16 08:30: Mon 1h, Sat 4h, (Mon 9th a holiday), Sat 4h,
    # Mon 0h30
    assert calendar.business_seconds(london(2026, 3, 2, 17), london(2026, 3, 16, 8, 30)) == 34200


@pytest.mark.parametrize(
    "week",
    [
        {"mon": [(time(9), time(8))]},  # ends before it starts
        {"mon": [(time(9), time(12)), (time(11), time(14))]},  # overlap
        {"mon": [(time(20), time(0)), (time(21), time(22))]},  # overlaps the run to midnight
        {"funday": [(time(9), time(12))]},
        {"mon": [(time(9, tzinfo=UTC), time(12))]},  # times are wall-clock, without a zone
    ],
)
def test_bad_weeks_are_refused(week: dict[str, list[tuple[time, time]]]) -> None:
    with pytest.raises(CalendarError):
        BusinessCalendar(LONDON, week)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(CalendarError, match="naive"):
        CLINIC.business_seconds(datetime(2026, 3, 2, 9), london(2026, 3, 2, 10))
    with pytest.raises(CalendarError, match="naive"):
        CLINIC.is_open(datetime(2026, 3, 2, 9))


def test_a_calendar_that_never_opens_has_no_due_time() -> None:
    closed = BusinessCalendar(LONDON, {})
    assert closed.business_seconds(london(2026, 1, 1), london(2027, 1, 1)) == 0
    with pytest.raises(CalendarError, match="not open"):
        closed.add_business_time(london(2026, 1, 1), 60)
    with pytest.raises(CalendarError, match="not open"):
        closed.next_open(london(2026, 1, 1))


def test_negative_business_time_is_refused() -> None:
    with pytest.raises(CalendarError, match="negative"):
        CLINIC.add_business_time(london(2026, 3, 2, 9), -1)


# -- properties -----------------------------------------------------------------------------------

_YEAR = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31))
_DST_DAYS = st.sampled_from([date(2026, 3, 29), date(2026, 10, 25), date(2026, 3, 8)]).flatmap(
    lambda day: st.datetimes(
        min_value=datetime.combine(day, time(0)) - timedelta(days=1),
        max_value=datetime.combine(day, time(0)) + timedelta(days=2),
    )
)
INSTANTS = st.one_of(_YEAR, _DST_DAYS).map(lambda naive: naive.replace(tzinfo=UTC))
CALENDARS = st.sampled_from([CLINIC, NIGHT_SHIFT, NYC, always_open()])
FAST = settings(max_examples=60, deadline=None)


@FAST
@given(CALENDARS, INSTANTS, INSTANTS)
def test_business_time_is_never_negative_nor_more_than_wall_time(
    calendar: BusinessCalendar, a: datetime, b: datetime
) -> None:
    seconds = calendar.business_seconds(a, b)
    assert 0 <= seconds <= max((b - a).total_seconds(), 0)


@FAST
@given(CALENDARS, st.lists(INSTANTS, min_size=3, max_size=3).map(sorted))
def test_business_time_adds_up(calendar: BusinessCalendar, moments: list[datetime]) -> None:
    a, b, c = moments
    assert calendar.business_time(a, b) + calendar.business_time(b, c) == calendar.business_time(
        a, c
    )


@FAST
@given(CALENDARS, INSTANTS, st.integers(min_value=0, max_value=10 * 86400))
def test_a_due_time_round_trips(calendar: BusinessCalendar, start: datetime, seconds: int) -> None:
    due = calendar.add_business_time(start, seconds)
    assert calendar.business_seconds(start, due) == seconds
    if seconds > 0:  # and it is the earliest such instant: open time was running up to it
        assert calendar.business_seconds(start, due - timedelta(microseconds=1)) < seconds


@FAST
@given(CALENDARS, INSTANTS)
def test_next_open_is_open_and_nothing_before_it_is(
    calendar: BusinessCalendar, at: datetime
) -> None:
    opening = calendar.next_open(at)
    assert calendar.is_open(opening)
    assert calendar.business_seconds(at, opening) == 0
