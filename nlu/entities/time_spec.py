"""What the time grammar understood, before it is resolved against a reference time.

A matched phrase becomes an `Atom`: its span plus one of three specs. `TimeSpec` is the
composable one: a day, a clock time (or a range of them), a part of the day and a bound
("after", "before"), any of which adjacent atoms may fill in ("next Tuesday" + "after 2").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum


class Bound(StrEnum):
    AFTER = "after"  # strictly after: after Friday = from Saturday
    FROM = "from"  # from this moment on, inclusive
    BEFORE = "before"  # strictly before
    UNTIL = "until"  # up to and including: by Friday = to the end of Friday


class Grain(StrEnum):
    SECOND = "second"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Modifier(StrEnum):
    NONE = ""  # "Friday": the coming one, never today
    THIS = "this"  # "this Friday": this week's, today included, if not past
    NEXT = "next"  # "next Friday": next week's (weeks start on Monday)
    LAST = "last"  # "last Friday": the latest one before today


# -- days ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelativeDay:
    offset: int  # today 0, tomorrow 1


@dataclass(frozen=True, slots=True)
class WeekdaySpec:
    weekday: int  # Monday 0
    modifier: Modifier = Modifier.NONE
    week_offset: int | None = None  # "Friday next week": 1


@dataclass(frozen=True, slots=True)
class MonthDay:
    day: int
    month: int | None = None  # None: the next month that has this day
    year: int | None = None  # None: the next such date from today


@dataclass(frozen=True, slots=True)
class ExplicitDate:
    value: date


@dataclass(frozen=True, slots=True)
class ShiftedDate:
    amount: int
    unit: str  # day, week, fortnight, month


@dataclass(frozen=True, slots=True)
class IntersectedDay:
    weekday: int
    date: MonthDay | ExplicitDate  # "Friday the 5th": the next 5th that is a Friday


DaySpec = RelativeDay | WeekdaySpec | MonthDay | ExplicitDate | ShiftedDate | IntersectedDay


# -- times of day ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockSpec:
    hour: int  # 0-24 as written (24 and "midnight" = the end of the day)
    minute: int = 0
    meridiem: str | None = None  # "am", "pm", or None when not said
    exact_hour: bool = False  # a 24-hour reading is certain (15:30, 09:00, noon, midnight)
    minute_given: bool = False  # the minutes were said (grain minute)


@dataclass(frozen=True, slots=True)
class TimeSpec:
    day: DaySpec | None = None
    clock: ClockSpec | None = None
    clock_end: ClockSpec | None = None  # with clock: a range "2-4pm"
    part: str | None = None  # a key of PARTS_OF_DAY
    bound: Bound | None = None
    day_end: DaySpec | None = None  # with day: a range of days "Monday to Wednesday"

    @property
    def is_marker(self) -> bool:
        """Only a bound word ("after", "before"): meaningful only with what follows it."""
        return self.bound is not None and self.day is None and self.clock is None and not self.part

    def merged(self, other: TimeSpec) -> TimeSpec | None:
        """Both specs' fields together, or None when both fill the same field."""
        if self.day_end is not None or other.day_end is not None:
            return None
        fits, day = _merge_days(self.day, other.day)
        if not fits or (self.clock and other.clock) or (self.part and other.part):
            return None
        if self.bound and other.bound:
            return None
        return replace(
            self,
            day=day,
            clock=self.clock or other.clock,
            clock_end=self.clock_end or other.clock_end,
            part=self.part or other.part,
            bound=self.bound or other.bound,
        )


def _merge_days(first: DaySpec | None, second: DaySpec | None) -> tuple[bool, DaySpec | None]:
    """(whether two days fit together, the day they make): a weekday fits a date."""
    if first is None or second is None:
        return True, first or second
    for weekday, other in ((first, second), (second, first)):
        if _plain_weekday(weekday) and isinstance(other, MonthDay | ExplicitDate):
            assert isinstance(weekday, WeekdaySpec)
            return True, IntersectedDay(weekday.weekday, other)
    return False, None


def _plain_weekday(day: DaySpec) -> bool:
    """A weekday that a date may pin down: "Friday" or "this Friday", not "next Friday"."""
    if not isinstance(day, WeekdaySpec) or day.week_offset is not None:
        return False
    return day.modifier in (Modifier.NONE, Modifier.THIS)


# -- other shapes ----------------------------------------------------------------------------------


class CalendarKind(StrEnum):
    WEEK = "week"
    WEEKEND = "weekend"
    WEEK_END = "week_end"  # "the end of the week"
    WEEK_START = "week_start"
    MONTH = "month"  # "next month" (offset) or "March" (month)
    MONTH_END = "month_end"
    MONTH_START = "month_start"


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    kind: CalendarKind
    offset: int = 0
    month: int | None = None
    year: int | None = None
    bound: Bound | None = None


@dataclass(frozen=True, slots=True)
class InstantSpec:
    moment: datetime | None = None  # an ISO timestamp with its own offset
    minutes: int = 0  # "in two hours": 120 minutes from the reference time
    grain: Grain = Grain.MINUTE
    bound: Bound | None = None


Spec = TimeSpec | CalendarSpec | InstantSpec


@dataclass(frozen=True, slots=True)
class Atom:
    """A span of the text the grammar read as (part of) a time expression."""

    start: int
    end: int
    spec: Spec
    confidence: float = 1.0
    needs_support: bool = False  # only counts when joined to another atom ("good morning")
    invalid: bool = False  # reads as a date that does not exist: blocks its parts, yields nothing

    @property
    def length(self) -> int:
        return self.end - self.start
