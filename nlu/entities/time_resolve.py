"""Time expressions -> moments and intervals in the context's timezone.

Conventions (a booking bot's, documented in docs/nlu-entities.md):
* a clock time with no day is the next one: "at 9" said at 10:00 is tomorrow 09:00;
* an hour said without am/pm is read as clinic hours: 1-7 pm, 8-11 am, 12 noon;
* a part of the day with no day is today's unless it is over ("in the morning" at 13:00 is
  tomorrow's); "tonight" is 18:00-24:00;
* wall-clock times that do not exist (the hour skipped in spring) move forward by the gap;
  times that happen twice (autumn) are the first of the two;
* the end of an interval is exclusive ("Wednesday morning" = 08:00 to 12:00).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nlu.entities.time_days import add_months, monday_of, resolve_day
from nlu.entities.time_lexicon import PARTS_OF_DAY, PM_PARTS
from nlu.entities.time_spec import (
    Bound,
    CalendarKind,
    CalendarSpec,
    ClockSpec,
    DaySpec,
    Grain,
    InstantSpec,
    Spec,
    TimeSpec,
)


@dataclass(frozen=True, slots=True)
class Resolved:
    """A moment (`start` with `end` None and not `interval`) or an interval, open or closed."""

    start: datetime | None
    end: datetime | None
    grain: Grain
    interval: bool = False


def local(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    """A wall-clock time in `tz`; hour 24 is the next day's midnight; gaps move forward."""
    extra = timedelta(days=1) if hour == 24 else timedelta()
    naive_day = day + extra
    wall = datetime.combine(naive_day, time(hour % 24, minute), tzinfo=tz)
    return wall.astimezone(UTC).astimezone(tz)


def resolve(spec: Spec, reference: datetime, tz: ZoneInfo) -> Resolved | None:
    """What `spec` means when said at `reference` (aware, in `tz`)."""
    try:
        if isinstance(spec, TimeSpec):
            found = _time(spec, reference, tz)
        elif isinstance(spec, CalendarSpec):
            found = _calendar(spec, reference.date(), tz)
        else:
            found = _instant(spec, reference, tz)
    except (OverflowError, ValueError):  # a date beyond year 9999
        return None
    if found is None:
        return None
    return _apply_bound(found, spec.bound)


def _apply_bound(found: Resolved, bound: Bound | None) -> Resolved:
    if bound is None:
        return found
    start = found.start
    end = found.end if found.end is not None else found.start
    if bound is Bound.AFTER:
        return Resolved(end, None, found.grain, interval=True)
    if bound is Bound.FROM:
        return Resolved(start, None, found.grain, interval=True)
    if bound is Bound.BEFORE:
        return Resolved(None, start, found.grain, interval=True)
    return Resolved(None, end, found.grain, interval=True)


def _day_interval(day: date, tz: ZoneInfo) -> Resolved:
    """A day as a moment with a day grain; bounds read it as the interval [day, day + 1)."""
    return Resolved(local(day, 0, 0, tz), local(day, 24, 0, tz), Grain.DAY)


def _time(spec: TimeSpec, reference: datetime, tz: ZoneInfo) -> Resolved | None:
    day = resolve_day(spec.day, reference.date()) if spec.day is not None else None
    if spec.day is not None and day is None:
        return None
    if day is not None and spec.day_end is not None:
        return _days(day, spec.day_end, reference.date(), tz)
    if spec.clock is not None:
        return _clock(spec, day, reference, tz)
    if spec.part is not None:
        return _part(spec.part, day, reference, tz)
    if day is not None:
        return _day_interval(day, tz)
    return None


def _days(first: date, end: DaySpec, today: date, tz: ZoneInfo) -> Resolved | None:
    """ "Monday to Wednesday": both days, the second read from the first if it would precede it."""
    last = resolve_day(end, today)
    if last is not None and last < first:
        last = resolve_day(end, first)
    if last is None or last < first:
        return None
    return _interval(first, last + timedelta(days=1), Grain.DAY, tz)


def hour_of(clock: ClockSpec, part: str | None) -> int:
    """The 24-hour hour a clock time means (24 = the end of the day)."""
    if clock.meridiem == "am":
        return clock.hour % 12
    if clock.meridiem == "pm":
        return clock.hour % 12 + 12
    if clock.exact_hour or clock.hour > 12:
        return clock.hour
    if part is not None:
        if part in PM_PARTS:
            return clock.hour % 12 + 12 if clock.hour < 12 else 12
        return clock.hour % 12 if clock.hour < 12 else 12
    if clock.hour == 12 or 8 <= clock.hour <= 11:
        return clock.hour
    return clock.hour + 12 if 1 <= clock.hour <= 7 else clock.hour


def _range_end_hour(start: ClockSpec, end: ClockSpec, start_hour: int, part: str | None) -> int:
    hour = hour_of(end, part)
    if end.meridiem is None and not end.exact_hour and hour <= start_hour and hour < 12:
        hour += 12  # "from 10 to 2": 2 pm
    return hour


def _clock_start_hour(start: ClockSpec, end: ClockSpec | None, part: str | None) -> int:
    hour = hour_of(start, part)
    if end is None or end.meridiem is None or start.meridiem is not None or start.exact_hour:
        return hour
    end_hour = hour_of(end, part)
    same = start.hour % 12 + (12 if end.meridiem == "pm" else 0)  # "2-4pm": 2 pm
    return same if same < end_hour else hour % 12


def _clock(spec: TimeSpec, day: date | None, reference: datetime, tz: ZoneInfo) -> Resolved:
    clock = spec.clock
    assert clock is not None
    grain = Grain.MINUTE if clock.minute_given else Grain.HOUR
    start_hour = _clock_start_hour(clock, spec.clock_end, spec.part)
    on = day if day is not None else reference.date()
    start = local(on, start_hour, clock.minute, tz)
    if day is None and start < reference:
        on = on + timedelta(days=1)
        start = local(on, start_hour, clock.minute, tz)
    if spec.clock_end is None:
        return Resolved(start, None, grain)
    end_clock = spec.clock_end
    end_hour = _range_end_hour(clock, end_clock, start_hour, spec.part)
    end = local(on, end_hour, end_clock.minute, tz)
    if end <= start:
        end = local(on + timedelta(days=1), end_hour, end_clock.minute, tz)
    if end_clock.minute_given:
        grain = Grain.MINUTE
    return Resolved(start, end, grain, interval=True)


def _part(part: str, day: date | None, reference: datetime, tz: ZoneInfo) -> Resolved:
    first, last = PARTS_OF_DAY[part]
    on = day if day is not None else reference.date()
    end = local(on, last, 0, tz)
    if day is None and end <= reference:
        on = on + timedelta(days=1)
        end = local(on, last, 0, tz)
    return Resolved(local(on, first, 0, tz), end, Grain.HOUR, interval=True)


def _calendar(spec: CalendarSpec, today: date, tz: ZoneInfo) -> Resolved:
    kind = spec.kind
    if kind is CalendarKind.MONTH:
        first = _month_start(spec, today)
        return Resolved(local(first, 0, 0, tz), local(add_months(first, 1), 0, 0, tz), Grain.MONTH)
    if kind in (CalendarKind.MONTH_END, CalendarKind.MONTH_START):
        first = add_months(today.replace(day=1), spec.offset)
        if kind is CalendarKind.MONTH_END:
            begin, end = first.replace(day=21), add_months(first, 1)
        else:
            begin, end = first, first.replace(day=11)
        return _interval(begin, end, Grain.DAY, tz)
    monday = monday_of(today, spec.offset)
    if kind is CalendarKind.WEEK:
        return _interval(monday, monday + timedelta(days=7), Grain.WEEK, tz)
    spans = {
        CalendarKind.WEEKEND: (5, 7),
        CalendarKind.WEEK_END: (3, 7),
        CalendarKind.WEEK_START: (0, 3),
    }
    begin_day, end_day = spans[kind]
    begin, end = monday + timedelta(days=begin_day), monday + timedelta(days=end_day)
    return _interval(begin, end, Grain.DAY, tz)


def _month_start(spec: CalendarSpec, today: date) -> date:
    if spec.month is None:
        return add_months(today.replace(day=1), spec.offset)
    if spec.year is not None:
        return date(spec.year, spec.month, 1)
    year = today.year if spec.month >= today.month else today.year + 1
    return date(year, spec.month, 1)


def _interval(begin: date, end: date, grain: Grain, tz: ZoneInfo) -> Resolved:
    return Resolved(local(begin, 0, 0, tz), local(end, 0, 0, tz), grain, interval=True)


def _instant(spec: InstantSpec, reference: datetime, tz: ZoneInfo) -> Resolved:
    if spec.moment is not None:
        return Resolved(spec.moment.astimezone(tz), None, spec.grain)
    moment = (reference.astimezone(UTC) + timedelta(minutes=spec.minutes)).astimezone(tz)
    return Resolved(moment.replace(second=0, microsecond=0), None, Grain.MINUTE)
