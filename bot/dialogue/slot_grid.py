"""Wall-clock schedules as UTC instants: the integer arithmetic under the slot finder.

A `Stamp` is whole microseconds since 1970-01-01 UTC (lossless from and to an aware datetime),
so that scanning 60 days of a team's grid is integer arithmetic on `range` objects instead of
millions of datetime operations. Nothing outside bot.dialogue.availability needs this module.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
Stamp = int  # microseconds since EPOCH
Window = tuple[Stamp, Stamp]  # [lo, hi)


def stamp(moment: datetime) -> Stamp:
    """An aware datetime as a Stamp."""
    return (moment - EPOCH) // MICROSECOND


def moment(instant: Stamp) -> datetime:
    """A Stamp as a UTC datetime."""
    return EPOCH + timedelta(microseconds=instant)


def clip(window: Window, bounds: Window) -> Window | None:
    lo, hi = max(window[0], bounds[0]), min(window[1], bounds[1])
    return (lo, hi) if lo < hi else None


def distance(instant: Stamp, target: Window) -> Stamp:
    """How far `instant` lies outside `target` (0 inside it)."""
    return max(target[0] - instant, instant - target[1], 0)


def merged(booked: Iterable[Window]) -> list[Window]:
    """Booked intervals sorted, overlapping or touching ones joined."""
    joined: list[Window] = []
    for begin, end in sorted(booked):
        if joined and begin <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
        else:
            joined.append((begin, end))
    return joined


def unbooked(grid: range, length: Stamp, booked: Sequence[Window]) -> Iterator[range]:
    """The parts of the grid whose [start, start + length) overlaps no booking (`merged` ones)."""
    start, step = grid.start, grid.step
    i = bisect_right(booked, start, key=itemgetter(1))  # the first booking still running
    while i < len(booked) and start < grid.stop:
        begin, end = booked[i]
        yield range(start, min(grid.stop, begin - length + 1), step)  # slots done by `begin`
        start = max(start, end + (start - end) % step)  # the first grid start at/after `end`
        i += 1
    yield range(start, grid.stop, step)


def day_windows(day: date, intervals: Sequence[tuple[time, time]], zone: ZoneInfo) -> list[Window]:
    """The day's wall-clock intervals in `zone` as Stamps.

    On a day with one UTC offset throughout this is arithmetic from local midnight; on a DST
    change day each boundary is read generously (`boundary`).
    """
    if not intervals:
        return []
    midnight = datetime.combine(day, time(), zone)
    if midnight.utcoffset() == (midnight + timedelta(days=1)).utcoffset():
        base = stamp(midnight)
        return [(base + _since_midnight(opens), base + _since_midnight(closes))
                for opens, closes in intervals]  # fmt: skip
    return [
        (stamp(boundary(day, opens, zone, closing=False)),
         stamp(boundary(day, closes, zone, closing=True)))
        for opens, closes in intervals
    ]  # fmt: skip


def _since_midnight(clock: time) -> Stamp:
    return timedelta(hours=clock.hour, minutes=clock.minute, seconds=clock.second) // MICROSECOND


def boundary(day: date, clock: time, zone: ZoneInfo, *, closing: bool) -> datetime:
    """The instant `clock` o'clock on `day` in `zone`, read generously on DST change days.

    A time the clocks pass twice opens at its first and closes at its second occurrence; a time
    the clocks skip is the instant they jump (the first moment the wall clock shows it or later).
    """
    first = datetime.combine(day, clock, zone).astimezone(UTC)
    second = datetime.combine(day, clock.replace(fold=1), zone).astimezone(UTC)
    if first <= second:
        return second if closing else first
    return _transition(zone, second, first)


def _transition(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The first whole minute in (before, after] with the UTC offset `after` has."""
    offset = before.astimezone(zone).utcoffset()
    low, high = 0, (after - before) // timedelta(minutes=1)
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(minutes=middle)).astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return before + timedelta(minutes=high)
