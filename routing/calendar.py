"""Business calendars: when a queue is open, and how much open time lies between two instants.

A calendar is a week of opening intervals in local wall-clock time (several per day), a time zone
and a set of closed dates (holidays). SLA clocks and metrics count only the time it is open.

The rule for daylight-saving days: **the calendar is open whenever the local wall clock reads a
time inside one of the day's intervals.** So
- on the spring-forward day the skipped wall-clock hour is never open: in Europe/London on
  2026-03-29 an interval 00:00-03:00 lasts 2 real hours, and 01:00-01:30 does not occur at all;
- on the fall-back day the repeated hour is open twice: 00:00-03:00 on 2026-10-25 lasts 4 real
  hours, and 01:00-01:30 is open from 01:00 to 01:30 BST and again from 01:00 to 01:30 GMT.
Intervals that avoid 01:00-03:00 (the usual 08:00-18:00) are not affected at all.

An interval ending at 00:00 runs to the end of its day (midnight), so (00:00, 00:00) is a whole day.
Arithmetic happens in UTC; every datetime in or out is timezone-aware (naive ones are refused).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from routing.errors import RoutingError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIDNIGHT = time(0)
ZERO = timedelta(0)
_DAY = timedelta(days=1)
_MARGIN = timedelta(hours=15)  # wider than any UTC offset: covers every instant of a local day
_PROBE = timedelta(hours=6)  # offset changes closer together than this are not looked for
_SEARCH_DAYS = 3660  # how far ahead add_business_time / next_open look before giving up
_CACHE_DAYS = 4096

Interval = tuple[time, time]
Span = tuple[datetime, datetime]  # [start, end) in UTC

K = TypeVar("K", bound=str)


class CalendarError(RoutingError, ValueError):
    """A calendar that cannot be built or answered (bad interval, naive datetime, never open)."""


class IntervalLike(Protocol):
    @property
    def start(self) -> time: ...
    @property
    def end(self) -> time: ...


class CalendarLike(Protocol[K]):
    """The shape of bot.config.CalendarSettings, without importing the bot."""

    @property
    def timezone(self) -> str: ...
    @property
    def week(self) -> Mapping[K, Sequence[IntervalLike]]: ...
    @property
    def holidays(self) -> Sequence[date]: ...


class BusinessCalendar:
    """Opening hours in one time zone; answers is_open, business time and due times."""

    __slots__ = ("_days", "_holidays", "_spans", "_tz")

    def __init__(
        self,
        timezone: ZoneInfo,
        week: Mapping[str, Sequence[Interval]],
        holidays: Collection[date] = (),
    ) -> None:
        named = {str(day): intervals for day, intervals in week.items()}  # StrEnum keys too
        unknown = sorted(day for day in named if day not in DAYS)
        if unknown:
            raise CalendarError(f"unknown weekday(s) {', '.join(unknown)}: use {', '.join(DAYS)}")
        self._tz = timezone
        self._days = tuple(_checked_day(day, named.get(day, ())) for day in DAYS)
        self._holidays = frozenset(holidays)
        self._spans: dict[date, tuple[Span, ...]] = {}

    @classmethod
    def from_settings(cls, cal: CalendarLike[K]) -> BusinessCalendar:
        """Build from bot.config.CalendarSettings (or anything of the same shape)."""
        week = {
            str(day): [(i.start, i.end) for i in intervals] for day, intervals in cal.week.items()
        }
        return cls(ZoneInfo(cal.timezone), week, cal.holidays)

    @property
    def timezone(self) -> ZoneInfo:
        return self._tz

    @property
    def week(self) -> Mapping[str, tuple[Interval, ...]]:
        return dict(zip(DAYS, self._days, strict=True))

    @property
    def holidays(self) -> frozenset[date]:
        return self._holidays

    def __repr__(self) -> str:
        week = {day: [f"{a:%H:%M}-{b:%H:%M}" for a, b in iv] for day, iv in self.week.items() if iv}
        return f"BusinessCalendar({str(self._tz)!r}, {week}, holidays={len(self._holidays)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return (self._tz, self._days, self._holidays) == (other._tz, other._days, other._holidays)

    def __hash__(self) -> int:
        return hash((self._tz, self._days, self._holidays))

    # -- questions --------------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        moment = _utc(at)
        return any(
            start <= moment < end for start, end in self._day_spans(self._local_date(moment))
        )

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Open time in [start, end); zero when end <= start. Exact to the microsecond."""
        lo, hi = _utc(start), _utc(end)
        total = ZERO
        if hi <= lo:
            return total
        for day in _dates(self._local_date(lo), self._local_date(hi)):
            for span_start, span_end in self._day_spans(day):
                overlap = min(span_end, hi) - max(span_start, lo)
                if overlap > ZERO:
                    total += overlap
        return total

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Open seconds in [start, end); 0.0 when end <= start, never negative."""
        return self.business_time(start, end).total_seconds()

    def add_business_time(self, start: datetime, seconds: float | timedelta) -> datetime:
        """The earliest instant with `seconds` of open time since `start` (a due time).

        Zero returns `start` itself. A due time that falls exactly at closing is that closing
        instant, not the next opening. The result is in `start`'s time zone.
        """
        left = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if left < ZERO:
            raise CalendarError(f"cannot add a negative business time ({left})")
        moment = _utc(start)
        if left == ZERO:
            return start
        for span_start, span_end in self._spans_from(moment):
            lo = max(span_start, moment)
            if span_end - lo >= left:
                return (lo + left).astimezone(start.tzinfo)
            left -= span_end - lo
        raise CalendarError(f"the calendar is not open within {_SEARCH_DAYS} days of {start}")

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when open, else the next opening instant (in `at`'s time zone)."""
        moment = _utc(at)
        for span_start, _end in self._spans_from(moment):
            return max(span_start, moment).astimezone(at.tzinfo)
        raise CalendarError(f"the calendar is not open within {_SEARCH_DAYS} days of {at}")

    # -- internals --------------------------------------------------------------------------------

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._tz).date()

    def _spans_from(self, moment: datetime) -> Iterator[Span]:
        """Open spans ending after `moment`, in order, for up to _SEARCH_DAYS days."""
        if not any(self._days):
            return
        first = self._local_date(moment)
        for day in _dates(first, first + timedelta(days=_SEARCH_DAYS)):
            for span in self._day_spans(day):
                if span[1] > moment:
                    yield span

    def _day_spans(self, day: date) -> tuple[Span, ...]:
        cached = self._spans.get(day)
        if cached is None:
            if len(self._spans) >= _CACHE_DAYS:
                self._spans.clear()
            cached = self._spans[day] = self._compute_spans(day)
        return cached

    def _compute_spans(self, day: date) -> tuple[Span, ...]:
        intervals = self._days[day.weekday()]
        if day in self._holidays or not intervals:
            return ()
        midnight = datetime.combine(day, MIDNIGHT, tzinfo=UTC)  # local wall midnight, as UTC digits
        segments = _offset_segments(self._tz, midnight - _MARGIN, midnight + _DAY + _MARGIN)
        spans: list[Span] = []
        for start, end in intervals:
            wall_start = midnight + _since_midnight(start)
            wall_end = midnight + (_DAY if end == MIDNIGHT else _since_midnight(end))
            for seg_start, seg_end, offset in segments:
                lo, hi = max(seg_start, wall_start - offset), min(seg_end, wall_end - offset)
                if lo < hi:
                    spans.append((lo, hi))
        return _merged(spans)


def always_open() -> BusinessCalendar:
    """A 24/7 calendar in UTC, for queues without opening hours."""
    return BusinessCalendar(ZoneInfo("UTC"), {day: [(MIDNIGHT, MIDNIGHT)] for day in DAYS})


def _checked_day(day: str, intervals: Sequence[Interval]) -> tuple[Interval, ...]:
    ordered = tuple(sorted(intervals))
    for start, end in ordered:
        if start.tzinfo is not None or end.tzinfo is not None:
            raise CalendarError(f"{day}: opening times are local wall-clock times, without a zone")
        if end != MIDNIGHT and start >= end:
            raise CalendarError(
                f"{day}: interval {start:%H:%M}-{end:%H:%M} must start before it ends"
            )
    for (_, before_end), (after_start, _) in pairwise(ordered):
        if before_end == MIDNIGHT or after_start < before_end:
            raise CalendarError(f"{day}: intervals overlap at {after_start:%H:%M}")
    return ordered


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CalendarError(f"{moment} is a naive datetime; calendars need timezone-aware ones")
    return moment.astimezone(UTC)


def _since_midnight(moment: time) -> timedelta:
    return timedelta(
        hours=moment.hour, minutes=moment.minute, seconds=moment.second,
        microseconds=moment.microsecond,
    )  # fmt: skip


def _dates(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += _DAY


def _offset(tz: ZoneInfo, moment: datetime) -> timedelta:
    return moment.astimezone(tz).utcoffset() or ZERO


def _offset_segments(
    tz: ZoneInfo, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime, timedelta]]:
    """Split [lo, hi) (UTC) into stretches of constant UTC offset in `tz`."""
    segments: list[tuple[datetime, datetime, timedelta]] = []
    start, offset, probe = lo, _offset(tz, lo), lo
    while probe < hi:
        step = min(probe + _PROBE, hi)
        if _offset(tz, step) == offset:
            probe = step
            continue
        cut = _first_change(tz, probe, step, offset)
        segments.append((start, cut, offset))
        start, offset, probe = cut, _offset(tz, cut), cut
    segments.append((start, hi, offset))
    return segments


def _first_change(tz: ZoneInfo, lo: datetime, hi: datetime, offset: timedelta) -> datetime:
    """The first whole second in (lo, hi] whose offset is not `offset` (tz changes on seconds)."""
    low, high = int(lo.timestamp()), int(hi.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(tz, datetime.fromtimestamp(middle, UTC)) == offset:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def _merged(spans: list[Span]) -> tuple[Span, ...]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)
