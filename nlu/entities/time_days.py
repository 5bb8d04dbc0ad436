"""Day specs -> calendar dates, relative to the reference date (today)."""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator
from datetime import date, timedelta

from nlu.entities.time_spec import (
    DaySpec,
    ExplicitDate,
    IntersectedDay,
    Modifier,
    MonthDay,
    RelativeDay,
    ShiftedDate,
    WeekdaySpec,
)

_INTERSECT_LOOKAHEAD = 12  # months searched for "Friday the 13th"
_SEARCH_MONTHS = 12 * 30  # how far a date such as "Friday the 29th of February" is looked for


def monday_of(day: date, week_offset: int = 0) -> date:
    return day - timedelta(days=day.weekday()) + timedelta(weeks=week_offset)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def resolve_day(spec: DaySpec, today: date) -> date | None:
    """The date a day spec means when said on `today`, or None when there is none."""
    if isinstance(spec, RelativeDay):
        return today + timedelta(days=spec.offset)
    if isinstance(spec, WeekdaySpec):
        return _weekday(spec, today)
    if isinstance(spec, ExplicitDate):
        return spec.value
    if isinstance(spec, ShiftedDate):
        return _shifted(spec, today)
    if isinstance(spec, MonthDay):
        return next(_occurrences(spec, today), None)
    return _intersected(spec, today)


def _weekday(spec: WeekdaySpec, today: date) -> date:
    if spec.week_offset is not None:
        return monday_of(today, spec.week_offset) + timedelta(days=spec.weekday)
    ahead = (spec.weekday - today.weekday()) % 7
    if spec.modifier is Modifier.THIS:
        return today + timedelta(days=ahead)
    if spec.modifier is Modifier.NEXT:
        return monday_of(today, 1) + timedelta(days=spec.weekday)
    if spec.modifier is Modifier.LAST:
        return today - timedelta(days=(today.weekday() - spec.weekday) % 7 or 7)
    return today + timedelta(days=ahead or 7)


def _shifted(spec: ShiftedDate, today: date) -> date | None:
    if spec.unit == "month":
        return add_months(today, spec.amount)
    days = {"day": 1, "week": 7, "fortnight": 14}.get(spec.unit)
    return None if days is None else today + timedelta(days=days * spec.amount)


def _occurrences(spec: MonthDay, today: date) -> Iterator[date]:
    """The dates a day-of-month spec may mean, from `today` on (or the one date it names)."""
    if spec.year is not None and spec.month is not None:
        yield from _valid_dates([(spec.year, spec.month)], spec.day)
        return
    months = ((today.year * 12 + today.month - 1 + k) for k in range(_SEARCH_MONTHS))
    pairs = ((index // 12, index % 12 + 1) for index in months)
    if spec.month is not None:
        pairs = ((year, month) for year, month in pairs if month == spec.month)
    if spec.year is not None:
        pairs = ((year, month) for year, month in pairs if year == spec.year)
    yield from (d for d in _valid_dates(pairs, spec.day) if d >= today)


def _valid_dates(
    pairs: Iterator[tuple[int, int]] | list[tuple[int, int]], day: int
) -> Iterator[date]:
    for year, month in pairs:
        if day <= calendar.monthrange(year, month)[1]:
            yield date(year, month, day)


def _intersected(spec: IntersectedDay, today: date) -> date | None:
    """ "Friday the 4th": the next 4th that is a Friday, looking a year ahead at most; when none
    is, the weekday was wrong and the date wins ("Friday 5th December" in 2026, a Saturday)."""
    inner = spec.date
    if isinstance(inner, ExplicitDate):
        return inner.value
    candidates = list(itertools.islice(_occurrences(inner, today), _INTERSECT_LOOKAHEAD))
    if inner.month is not None:
        candidates = candidates[:1]
    for candidate in candidates:
        if candidate.weekday() == spec.weekday:
            return candidate
    return candidates[0] if candidates else None
