"""Free appointment slots: schedules, holidays, bookings, the service's length, notice and horizon.

A practitioner's schedule is wall-clock time in their own zone ("08:00-12:30" on Mondays); a
slot is an absolute UTC interval that fits entirely inside one schedule interval, starts on the
step grid of that interval, is not on a holiday (a date on the practitioner's own calendar), and
overlaps no booked appointment. The customer's zone only matters for showing a slot (`label`).

Datetimes go in and come out; inside, a search works on integer Stamps (bot.dialogue.slot_grid).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from operator import itemgetter
from typing import Protocol
from zoneinfo import ZoneInfo

from bot.config import Settings, Weekday
from bot.dialogue import slot_grid as grid
from bot.dialogue.slot_grid import MICROSECOND, Stamp, Window
from crm_store.clock import Clock

WEEK = timedelta(days=7) // MICROSECOND  # the first search window reaches this far around
WEEKDAYS = tuple(Weekday)  # in date.weekday() order


class AvailabilityError(Exception):
    """What the slot finder refuses on purpose; `known` lists names the bot can offer instead."""

    known: tuple[str, ...] = ()


class UnknownService(AvailabilityError):
    """No service has this key; `known` names the services there are."""

    def __init__(self, key: str, known: Sequence[str]) -> None:
        super().__init__(f"we do not offer {key!r}; we offer {_listing(known)}")
        self.key, self.known = key, tuple(known)


class UnknownPractitioner(AvailabilityError):
    """No practitioner has this key; `known` names those who provide the service."""

    def __init__(self, key: str, service_name: str, known: Sequence[str]) -> None:
        super().__init__(f"nobody called {key!r} works here; {_offered_by(service_name, known)}")
        self.key, self.service_name, self.known = key, service_name, tuple(known)


class NotOffered(AvailabilityError):
    """The practitioner exists but does not provide the service; `known` names those who do."""

    def __init__(self, name: str, service_name: str, known: Sequence[str]) -> None:
        reason = f"{name} does not provide {service_name}; {_offered_by(service_name, known)}"
        super().__init__(reason)
        self.name, self.service_name, self.known = name, service_name, tuple(known)


def _listing(names: Sequence[str]) -> str:
    return f"{', '.join(names[:-1])} and {names[-1]}" if len(names) > 1 else "".join(names)


def _offered_by(service_name: str, names: Sequence[str]) -> str:
    if not names:
        return f"nobody provides {service_name}"
    return f"{service_name} is with {_listing(names)}"


class IntervalLike(Protocol):
    @property
    def start(self) -> time: ...
    @property
    def end(self) -> time: ...


class ServiceLike(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def duration_minutes(self) -> int: ...
    @property
    def skill(self) -> str: ...


class ResourceLike(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def skills(self) -> Sequence[str]: ...
    @property
    def schedule(self) -> Mapping[Weekday, Sequence[IntervalLike]]: ...


class BusyTimes(Protocol):
    """The appointment book's read side (crm_store.appointments.AppointmentBook)."""

    async def busy(
        self, resource_key: str, start: datetime, end: datetime
    ) -> Sequence[tuple[datetime, datetime]]: ...


@dataclass(frozen=True)
class Slot:
    """A bookable stretch of one practitioner's time; start and end are UTC."""

    start: datetime
    end: datetime
    resource_key: str
    resource_name: str
    service_key: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None or self.end <= self.start:
            raise ValueError(f"a slot needs aware datetimes, start before end: {self!r}")

    def label(self, zone: tzinfo) -> str:
        """The start as a customer in `zone` reads it, e.g. "Wed 25 Nov 15:00"."""
        start = self.start.astimezone(zone)
        return f"{start:%a} {start.day} {start:%b %H:%M}"


@dataclass(frozen=True)
class SlotSearch:
    """`exact`: the time asked for, free; else `options` to offer (at most `count`, in order).

    `outside_request`: nothing was free inside the requested interval, so the options are the
    nearest ones outside it. With `exact`, options is (exact,).
    """

    exact: Slot | None
    options: tuple[Slot, ...]
    outside_request: bool


@dataclass(frozen=True)
class _Worker:
    key: str
    name: str
    zone: ZoneInfo
    skills: frozenset[str]
    week: Mapping[Weekday, tuple[tuple[time, time], ...]]


Found = tuple[Stamp, _Worker]  # a free start and who is free then


def _worker(resource: ResourceLike) -> _Worker:
    if resource.timezone is None:
        raise ValueError(f"resource {resource.key!r} has no time zone")
    week = {
        Weekday(day): tuple((interval.start, interval.end) for interval in intervals)
        for day, intervals in resource.schedule.items()
    }
    return _Worker(
        resource.key, resource.name, ZoneInfo(resource.timezone), frozenset(resource.skills), week
    )


class SlotFinder:
    def __init__(
        self,
        services: Iterable[ServiceLike],
        resources: Iterable[ResourceLike],
        book: BusyTimes,
        clock: Clock,
        *,
        holidays: Iterable[date] = (),
        step: timedelta = timedelta(minutes=15),
        min_notice: timedelta = timedelta(hours=2),
        horizon: timedelta = timedelta(days=60),
    ) -> None:
        if step <= timedelta(0) or horizon <= timedelta(0) or min_notice < timedelta(0):
            raise ValueError("step and horizon must be positive, min_notice not negative")
        self._services = {service.key: service for service in services}
        self._workers = [_worker(resource) for resource in resources]
        self._book, self._clock = book, clock
        self._holidays = frozenset(holidays)
        self._step, self._notice, self._horizon = (
            delta // MICROSECOND for delta in (step, min_notice, horizon)
        )

    @classmethod
    def from_settings(cls, settings: Settings, book: BusyTimes, clock: Clock) -> SlotFinder:
        booking = settings.booking
        calendar = settings.calendars[booking.calendar] if booking.calendar else None
        return cls(
            settings.services,
            settings.resources,
            book,
            clock,
            holidays=calendar.holidays if calendar else (),
            step=booking.slot_step,
            min_notice=booking.min_notice,
            horizon=timedelta(days=booking.horizon_days),
        )

    async def find(
        self,
        service_key: str,
        *,
        at: datetime | None = None,
        between: tuple[datetime, datetime | None] | None = None,
        practitioner_key: str | None = None,
        count: int = 3,
    ) -> SlotSearch:
        """The slot at `at` if free, else the `count` nearest; inside `between` first; else the
        earliest. Raises UnknownService, UnknownPractitioner, NotOffered."""
        service = self._service(service_key)
        workers = self._workers_for(service, practitioner_key)
        if at is not None and between is not None:
            raise ValueError("ask for a time (at) or an interval (between), not both")
        if count < 1:
            raise ValueError("count must be at least 1")
        bounds = self._bounds()
        if between is not None:
            return await self._find_between(service, workers, between, bounds, count)
        target = bounds[0] if at is None else grid.stamp(_aware("at", at))
        found = await self._nearest(service, workers, (target, target), bounds, count)
        hit = next((item for item in found if item[0] == target), None)
        if at is not None and hit is not None:
            exact = _slot(service, hit)
            return SlotSearch(exact, (exact,), outside_request=False)
        return SlotSearch(None, _slots(service, found), outside_request=False)

    async def is_free(self, service_key: str, resource_key: str, start: datetime) -> bool:
        """Whether `start` is a slot find() could offer: on the grid, inside the schedule, not on a
        holiday, within notice and horizon, and not booked."""
        service = self._service(service_key)
        (worker,) = self._workers_for(service, resource_key)
        first, (earliest, latest) = grid.stamp(_aware("start", start)), self._bounds()
        length = _length(service)
        starts = self._grid(worker, length, (first, first + 1))
        if not earliest <= first < latest or not any(first in each for each in starts):
            return False
        return not await self._book.busy(worker.key, start, grid.moment(first + length))

    def _bounds(self) -> Window:
        now = grid.stamp(_aware("clock()", self._clock()))
        return now + self._notice, now + self._horizon

    async def _find_between(
        self,
        service: ServiceLike,
        workers: Sequence[_Worker],
        between: tuple[datetime, datetime | None],
        bounds: Window,
        count: int,
    ) -> SlotSearch:
        lo = grid.stamp(_aware("between", between[0]))
        hi = bounds[1] if between[1] is None else grid.stamp(_aware("between", between[1]))
        if hi <= lo:
            raise ValueError("the interval asked for must start before it ends")
        inside = grid.clip((lo, hi), bounds)
        found = await self._open(service, workers, inside) if inside else []
        if found:
            return SlotSearch(None, _slots(service, found[:count]), outside_request=False)
        near = await self._nearest(service, workers, (lo, hi), bounds, count)
        return SlotSearch(None, _slots(service, near), outside_request=bool(near))

    async def _nearest(
        self,
        service: ServiceLike,
        workers: Sequence[_Worker],
        target: Window,
        bounds: Window,
        count: int,
    ) -> list[Found]:
        """The `count` free starts nearest the target, in time order.

        A week either side of the target (moved inside the bounds, which keeps the order of
        distances) first: if that holds `count` free starts, nothing farther can be nearer;
        otherwise the whole horizon (one more busy() query per practitioner).
        """
        lo, hi = (min(max(edge, bounds[0]), bounds[1]) for edge in target)
        found: list[Found] = []
        for window in (grid.clip((lo - WEEK, hi + WEEK), bounds), bounds):
            if window is None:
                continue
            found = await self._open(service, workers, window)
            if len(found) >= count or window == bounds:
                break
        low = bisect_left(found, target[0], key=itemgetter(0))
        high = bisect_right(found, target[1], key=itemgetter(0))
        around = found[max(0, low - count) : high + count]  # holds the `count` nearest
        by_distance = heapq.nsmallest(
            count, around, key=lambda item: (grid.distance(item[0], target), item[0])
        )
        return sorted(by_distance, key=itemgetter(0))

    async def _open(
        self, service: ServiceLike, workers: Sequence[_Worker], window: Window
    ) -> list[Found]:
        """Free starts in the window, one per start time (the first practitioner listed wins)."""
        length = _length(service)
        free = [(worker, await self._free(worker, length, window)) for worker in workers]
        first: dict[Stamp, _Worker] = {}
        for worker, spans in reversed(free):  # written last, the first listed wins
            for span in spans:
                first.update(dict.fromkeys(span, worker))
        return sorted(first.items(), key=itemgetter(0))

    async def _free(self, worker: _Worker, length: Stamp, window: Window) -> list[range]:
        """The worker's unbooked grid starts in the window, from one busy() query."""
        lo, hi = grid.moment(window[0]), grid.moment(window[1] + length)
        booked = grid.merged(
            (grid.stamp(begin), grid.stamp(end))
            for begin, end in await self._book.busy(worker.key, lo, hi)
        )
        starts = self._grid(worker, length, window)
        return [span for each in starts for span in grid.unbooked(each, length, booked)]

    def _grid(self, worker: _Worker, length: Stamp, window: Window) -> Iterator[range]:
        """Per schedule interval, the grid starts in the window whose slot fits inside it."""
        lo, hi = window
        day, last = (grid.moment(edge).astimezone(worker.zone).date() for edge in window)
        while day <= last:
            intervals = () if day in self._holidays else worker.week.get(WEEKDAYS[day.weekday()])
            for start, end in grid.day_windows(day, intervals or (), worker.zone):
                if start < lo:
                    start += self._step * -((start - lo) // self._step)  # first at/after lo
                yield range(start, min(hi, end - length + 1), self._step)
            day += timedelta(days=1)

    def _service(self, key: str) -> ServiceLike:
        service = self._services.get(key)
        if service is None:
            raise UnknownService(key, [s.name for s in self._services.values()])
        return service

    def _workers_for(self, service: ServiceLike, key: str | None) -> list[_Worker]:
        able = [worker for worker in self._workers if service.skill in worker.skills]
        if key is None:
            return able
        names = [worker.name for worker in able]
        chosen = next((worker for worker in self._workers if worker.key == key), None)
        if chosen is None:
            raise UnknownPractitioner(key, service.name, names)
        if service.skill not in chosen.skills:
            raise NotOffered(chosen.name, service.name, names)
        return [chosen]


def _aware(what: str, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what}: a naive datetime; use a timezone-aware one")
    return moment


def _length(service: ServiceLike) -> Stamp:
    return timedelta(minutes=service.duration_minutes) // MICROSECOND


def _slot(service: ServiceLike, found: Found) -> Slot:
    start = grid.moment(found[0])
    end = start + timedelta(minutes=service.duration_minutes)
    return Slot(start, end, found[1].key, found[1].name, service.key)


def _slots(service: ServiceLike, found: Iterable[Found]) -> tuple[Slot, ...]:
    return tuple(_slot(service, item) for item in found)
