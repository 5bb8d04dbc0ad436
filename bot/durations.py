"""Config value types for time: zones, durations ("1h30m"), opening intervals ("08:00-12:30")."""

from __future__ import annotations

import re
from datetime import time, timedelta
from itertools import pairwise
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    model_serializer,
    model_validator,
)

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def check_time_zone(name: str) -> str:
    """Accept an IANA zone name the system knows, such as "Europe/London"."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/London)"
        ) from None
    return name


TimeZoneName = Annotated[str, AfterValidator(check_time_zone)]


def parse_duration(value: object) -> timedelta:
    """Parse "30s", "5m", "4h", "2d", "1h30m" or integer seconds into a positive timedelta."""
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, int) and not isinstance(value, bool):
        delta = timedelta(seconds=value)
    elif isinstance(value, str) and value.strip().isdigit():
        delta = timedelta(seconds=int(value))
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value.strip().lower())
        if not value.strip() or match is None:
            raise ValueError(
                f"invalid duration {value!r}: use e.g. '30s', '5m', '4h', '2d', '1h30m' or seconds"
            )
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        delta = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    else:
        raise ValueError(f"invalid duration {value!r}: expected text like '5m' or whole seconds")
    if delta <= timedelta(0):
        raise ValueError("a duration must be longer than zero")
    return delta


def format_duration(delta: timedelta) -> str:
    """The inverse of parse_duration: timedelta(hours=1, minutes=30) -> "1h30m"."""
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    parts = zip((days, hours, minutes, seconds), "dhms", strict=True)
    return "".join(f"{amount}{unit}" for amount, unit in parts if amount) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]


def _parse_clock(text: str) -> time:
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"invalid time of day {text.strip()!r}: use 24-hour HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


class TimeInterval(BaseModel):
    """A half-open stretch of one day, written "08:00-12:30"; start is always before end."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        start, sep, end = value.partition("-")
        if not sep:
            raise ValueError(f"invalid interval {value!r}: use 'HH:MM-HH:MM', e.g. '08:00-12:30'")
        return {"start": _parse_clock(start), "end": _parse_clock(end)}

    @model_validator(mode="after")
    def _ordered(self) -> TimeInterval:
        if self.start >= self.end:
            raise ValueError(f"interval {self} must start before it ends")
        return self

    @model_serializer(mode="plain", when_used="json")
    def _to_text(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def __contains__(self, moment: time) -> bool:
        return self.start <= moment < self.end


def _sorted_without_overlaps(intervals: tuple[TimeInterval, ...]) -> tuple[TimeInterval, ...]:
    ordered = tuple(sorted(intervals, key=lambda interval: interval.start))
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"intervals {before} and {after} overlap")
    return ordered


DaySchedule = Annotated[tuple[TimeInterval, ...], AfterValidator(_sorted_without_overlaps)]
"""One day's opening intervals, sorted by start; overlapping intervals are rejected."""
