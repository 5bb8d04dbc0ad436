"""SLA clocks: first response, next response and resolution, in business time, from the event log.

A clock is a pure function of a ticket's events, its calendar, its targets and `now`; nothing is
stored. The rules (docs/metrics.md has the full table and the sources):

- first response runs from CREATED to the first AGENT_MESSAGE;
- next response runs from the first CUSTOMER_MESSAGE after an agent message to the next
  AGENT_MESSAGE (one cycle per exchange, started by the oldest unanswered customer message);
- resolution runs from CREATED to RESOLVED;
- RESOLVED stops every running cycle as fulfilled; ABANDONED cancels them; events after either
  are ignored;
- every clock pauses from WAITING_ON_CUSTOMER until RESUMED or CUSTOMER_MESSAGE;
- POLICY_CHANGED switches the targets from that instant and keeps the time already spent;
- a cycle is breached once the wall clock passes its due time (a response exactly at the due time
  meets it); a breach is final, even if a later policy change lengthens the target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Protocol

from routing.calendar import ZERO, BusinessCalendar
from routing.errors import RoutingError
from routing.events import EventKind, TicketEvent

Pause = tuple[datetime, datetime | None]


class SlaError(RoutingError, ValueError):
    """SLA clocks asked about something they cannot measure."""


class UnknownPolicy(SlaError):
    """A POLICY_CHANGED event names a policy the caller did not supply targets for."""


class SlaTargetKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class ClockState(StrEnum):
    RUNNING = "running"
    WARNING = "warning"  # running, past the warning share of its target
    PAUSED = "paused"
    BREACHED = "breached"  # past due, whether still running or stopped late
    MET = "met"
    CANCELLED = "cancelled"  # the ticket was abandoned before the target was met or breached


class CycleEnd(StrEnum):
    RESPONDED = "responded"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class TargetLike(Protocol):
    """The shape of bot.config.SlaTarget."""

    @property
    def first_response(self) -> timedelta: ...
    @property
    def next_response(self) -> timedelta: ...
    @property
    def resolution(self) -> timedelta: ...


@dataclass(frozen=True, slots=True)
class SlaTargets:
    first_response: timedelta
    next_response: timedelta
    resolution: timedelta

    def __post_init__(self) -> None:
        if min(self.first_response, self.next_response, self.resolution) <= ZERO:
            raise SlaError("SLA targets must be longer than zero")

    @classmethod
    def from_settings(cls, target: TargetLike) -> SlaTargets:
        """From bot.config.SlaTarget, e.g. `SlaTargets.from_settings(policy.target_for(tier))`."""
        return cls(target.first_response, target.next_response, target.resolution)

    def for_kind(self, kind: SlaTargetKind) -> timedelta:
        match kind:
            case SlaTargetKind.FIRST_RESPONSE:
                return self.first_response
            case SlaTargetKind.NEXT_RESPONSE:
                return self.next_response
            case SlaTargetKind.RESOLUTION:
                return self.resolution


@dataclass(frozen=True, slots=True)
class CycleSpan:
    """Where one measured cycle starts and stops, from the events alone (no calendar)."""

    kind: SlaTargetKind
    started_at: datetime
    stopped_at: datetime | None = None
    end: CycleEnd | None = None


@dataclass(frozen=True, slots=True)
class SlaCycle:
    """One measured cycle: business time spent (pauses excluded) against the target in force."""

    kind: SlaTargetKind
    started_at: datetime
    stopped_at: datetime | None
    target: timedelta  # the target in force at the end of the measurement
    elapsed: timedelta  # business time, pauses excluded, up to stopped_at or now
    due_at: datetime | None  # breach instant; projected while running; None if paused or met
    breached_at: datetime | None
    state: ClockState
    warned: bool = False  # an SLA_WARNING for this cycle is already in the log
    breach_recorded: bool = False  # an SLA_BREACHED for this cycle is already in the log

    @property
    def remaining(self) -> timedelta:
        """Business time left; negative once overdue."""
        return self.target - self.elapsed

    @property
    def running(self) -> bool:
        return self.stopped_at is None


@dataclass(frozen=True, slots=True)
class SlaClock:
    ticket_id: int
    now: datetime
    targets: SlaTargets  # in force at `now`
    cycles: tuple[SlaCycle, ...]  # every cycle, in the order they started

    @classmethod
    def from_events(
        cls,
        events: Iterable[TicketEvent],
        *,
        calendar: BusinessCalendar,
        targets: SlaTargets,
        now: datetime,
        policies: Mapping[str, SlaTargets] | None = None,
        warning_share: float = 0.8,
    ) -> SlaClock:
        """Measure one ticket's clocks at `now`.

        `targets` apply from CREATED; `policies` maps the policy names POLICY_CHANGED events
        switch to (`to_policy`) onto the targets for this ticket's tier. Events after `now` are
        ignored, so a clock can be measured as of any instant.
        """
        if not 0 < warning_share <= 1:
            raise SlaError(f"warning_share must be in (0, 1], not {warning_share}")
        everything = ordered(events)
        log = [event for event in everything if event.at <= now]
        changes = _policy_changes(log, policies or {})
        pauses = paused_spans(log)
        measure = _Measure(calendar, targets, changes, pauses, now, warning_share)
        cycles = tuple(_with_alerts(measure(span), log) for span in sla_cycles(log))
        return cls(everything[0].ticket_id, now, _targets_at(targets, changes, now), cycles)

    def latest(self, kind: SlaTargetKind) -> SlaCycle | None:
        return next((c for c in reversed(self.cycles) if c.kind == kind), None)

    @property
    def first_response(self) -> SlaCycle | None:
        return self.latest(SlaTargetKind.FIRST_RESPONSE)

    @property
    def next_response(self) -> SlaCycle | None:
        """The current (or last) next-response cycle; None before any exchange."""
        return self.latest(SlaTargetKind.NEXT_RESPONSE)

    @property
    def resolution(self) -> SlaCycle | None:
        return self.latest(SlaTargetKind.RESOLUTION)

    def running(self) -> tuple[SlaCycle, ...]:
        return tuple(cycle for cycle in self.cycles if cycle.running)


def ordered(events: Iterable[TicketEvent]) -> list[TicketEvent]:
    """One ticket's events in log order (time, then seq); refuses an empty or mixed log."""
    log = sorted(events, key=lambda event: (event.at, event.seq))
    if not log:
        raise SlaError("a clock needs the ticket's events; got none")
    if len({event.ticket_id for event in log}) > 1:
        raise SlaError("events of several tickets given for one clock")
    return log


def sla_cycles(events: Sequence[TicketEvent]) -> tuple[CycleSpan, ...]:
    """Start and stop of every cycle in an ordered log (see the module docstring for the rules)."""
    done: list[CycleSpan] = []
    running: list[CycleSpan] = []
    created = agent_spoke = False
    for event in events:
        kind = event.kind
        if kind == EventKind.CREATED and not created:
            created = True
            running += [CycleSpan(target, event.at) for target in _AT_CREATION]
        elif not created:
            continue
        elif kind == EventKind.AGENT_MESSAGE:
            agent_spoke = True
            done += _stop(running, _RESPONSES, event, CycleEnd.RESPONDED)
        elif kind == EventKind.CUSTOMER_MESSAGE and agent_spoke:
            if not any(span.kind == SlaTargetKind.NEXT_RESPONSE for span in running):
                running.append(CycleSpan(SlaTargetKind.NEXT_RESPONSE, event.at))
        elif kind in (EventKind.RESOLVED, EventKind.ABANDONED):
            end = CycleEnd.RESOLVED if kind == EventKind.RESOLVED else CycleEnd.CANCELLED
            done += _stop(running, set(SlaTargetKind), event, end)
            break
    return tuple(sorted([*done, *running], key=lambda s: (s.started_at, _ORDER.index(s.kind))))


def paused_spans(events: Sequence[TicketEvent]) -> tuple[Pause, ...]:
    """When the ticket waited on the customer: [from, to) pairs, `to` None while still waiting."""
    spans: list[Pause] = []
    since: datetime | None = None
    for event in events:
        if event.kind == EventKind.WAITING_ON_CUSTOMER and since is None:
            since = event.at
        elif since is not None and event.kind in _PAUSE_ENDS:
            spans.append((since, event.at))
            since = None
        if event.kind in (EventKind.RESOLVED, EventKind.ABANDONED):
            break
    if since is not None:
        spans.append((since, None))
    return tuple(spans)


_ORDER = tuple(SlaTargetKind)
_AT_CREATION = (SlaTargetKind.FIRST_RESPONSE, SlaTargetKind.RESOLUTION)
_RESPONSES = frozenset({SlaTargetKind.FIRST_RESPONSE, SlaTargetKind.NEXT_RESPONSE})
_PAUSE_ENDS = frozenset(
    {EventKind.RESUMED, EventKind.CUSTOMER_MESSAGE, EventKind.RESOLVED, EventKind.ABANDONED}
)


def _stop(
    running: list[CycleSpan], kinds: Set[SlaTargetKind], event: TicketEvent, end: CycleEnd
) -> list[CycleSpan]:
    stopped = [span for span in running if span.kind in kinds]
    running[:] = [span for span in running if span.kind not in kinds]
    return [CycleSpan(span.kind, span.started_at, event.at, end) for span in stopped]


def _policy_changes(
    events: Sequence[TicketEvent], policies: Mapping[str, SlaTargets]
) -> tuple[tuple[datetime, SlaTargets], ...]:
    changes = []
    for event in events:
        if event.kind == EventKind.POLICY_CHANGED:
            name = str(event.data.get("to_policy"))
            if name not in policies:
                raise UnknownPolicy(f"ticket {event.ticket_id} changed to unknown policy {name!r}")
            changes.append((event.at, policies[name]))
    return tuple(changes)


def _targets_at(
    initial: SlaTargets, changes: Sequence[tuple[datetime, SlaTargets]], moment: datetime
) -> SlaTargets:
    current = initial
    for at, targets in changes:
        if at > moment:
            break
        current = targets
    return current


@dataclass(frozen=True, slots=True)
class _Measure:
    calendar: BusinessCalendar
    initial: SlaTargets
    changes: tuple[tuple[datetime, SlaTargets], ...]
    pauses: tuple[Pause, ...]
    now: datetime
    share: float

    def __call__(self, span: CycleSpan) -> SlaCycle:
        end = span.stopped_at if span.stopped_at is not None else self.now
        elapsed, breached_at = ZERO, None
        for start, stop in self._segments(span.started_at, end):
            target = self._target(span.kind, start)
            if self._paused(start):
                continue
            if breached_at is None:
                due = self.calendar.add_business_time(start, max(target - elapsed, ZERO))
                breached_at = due if due < stop else None
            elapsed += self.calendar.business_time(start, stop)
        target = self._target(span.kind, end)
        paused = span.stopped_at is None and self._paused(end)
        state = self._state(span, target, elapsed, breached_at, paused)
        due_at = breached_at
        if breached_at is None and state in (ClockState.RUNNING, ClockState.WARNING):
            due_at = self.calendar.add_business_time(end, max(target - elapsed, ZERO))
        return SlaCycle(
            span.kind, span.started_at, span.stopped_at, target, elapsed, due_at, breached_at, state
        )

    def _segments(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """[start, end) cut wherever a pause starts or ends or the policy changes."""
        cuts = {at for at, _ in self.changes}
        for since, until in self.pauses:
            cuts.add(since)
            if until is not None:
                cuts.add(until)
        points = [start, *sorted(cut for cut in cuts if start < cut < end), end]
        return [(a, b) for a, b in pairwise(points) if a < b]

    def _target(self, kind: SlaTargetKind, moment: datetime) -> timedelta:
        return _targets_at(self.initial, self.changes, moment).for_kind(kind)

    def _paused(self, moment: datetime) -> bool:
        return any(
            since <= moment and (until is None or moment < until) for since, until in self.pauses
        )

    def _state(
        self,
        span: CycleSpan,
        target: timedelta,
        elapsed: timedelta,
        breached_at: datetime | None,
        paused: bool,
    ) -> ClockState:
        if breached_at is not None:
            return ClockState.BREACHED
        if span.end == CycleEnd.CANCELLED:
            return ClockState.CANCELLED
        if span.stopped_at is not None:
            return ClockState.MET
        if paused:
            return ClockState.PAUSED
        if elapsed >= target * self.share:
            return ClockState.WARNING
        return ClockState.RUNNING


def _with_alerts(cycle: SlaCycle, events: Sequence[TicketEvent]) -> SlaCycle:
    """Mark the warnings and breaches already written to the log for this cycle."""
    recorded = {
        event.kind
        for event in events
        if event.kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED)
        and event.data.get("target") == cycle.kind.value
        and cycle.started_at <= event.at
        and (cycle.stopped_at is None or event.at <= cycle.stopped_at)
    }
    return replace(
        cycle,
        warned=EventKind.SLA_WARNING in recorded,
        breach_recorded=EventKind.SLA_BREACHED in recorded,
    )
