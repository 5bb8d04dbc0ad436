"""The ticket event log read into metric records: queue visits and measured samples.

A QueueVisit is one stay in a queue (from CREATED or a re-queue until answered, abandoned or moved
on); a Sample is one measured value (first response, handle and resolution time, a rating, an SLA
cycle met or breached). Each carries its own queue, tier, agent and instant, so routing.metrics
can group them any way. Durations are business time on the calendar of the record's queue (wall
time for a queue without one). docs/metrics.md defines every timestamp used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from routing.calendar import ZERO, BusinessCalendar
from routing.events import EventKind, TicketEvent
from routing.sla import CycleEnd, SlaTargetKind, ordered, paused_spans, sla_cycles


class VisitOutcome(StrEnum):
    WAITING = "waiting"  # still in the queue at `now`
    ANSWERED = "answered"  # ASSIGNED
    ABANDONED = "abandoned"  # ABANDONED while queued or offered
    LEFT = "left"  # overflowed / transferred to another queue, or resolved, unanswered


class Measure(StrEnum):
    FIRST_RESPONSE = "first_response_time"
    HANDLE = "handle_time"
    RESOLUTION = "resolution_time"
    SATISFACTION = "satisfaction"
    SLA_MET = "sla_met"  # 1.0 met, 0.0 breached; `target` says which


class ReadingRules(Protocol):
    """What reading needs from routing.metrics.MetricSettings."""

    @property
    def short_abandon(self) -> timedelta: ...
    def threshold(self, queue: str) -> timedelta: ...
    def calendar(self, queue: str) -> BusinessCalendar: ...


@dataclass(frozen=True, slots=True)
class QueueVisit:
    ticket_id: int
    queue: str
    tier: str | None
    entered_at: datetime
    ended_at: datetime | None
    outcome: VisitOutcome
    agent_id: int | None  # who answered
    wait: timedelta  # entered -> ended (or now), business time of the queue's calendar
    within_threshold: bool  # answered / abandoned with wait <= the queue's threshold
    short_abandon: bool  # abandoned with wait <= short_abandon


@dataclass(frozen=True, slots=True)
class Sample:
    ticket_id: int
    measure: Measure
    value: float  # seconds, a score, or 1.0 / 0.0 for SLA_MET
    at: datetime
    queue: str
    tier: str | None
    agent_id: int | None
    target: SlaTargetKind | None = None


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """One ticket read from its log: its records and its (at, queue, agent) history."""

    ticket_id: int
    tier: str | None
    created_at: datetime
    closed_at: datetime | None
    visits: tuple[QueueVisit, ...]
    samples: tuple[Sample, ...]
    states: tuple[tuple[datetime, str, int | None], ...]

    def state_at(self, at: datetime, *, open_only: bool = True) -> tuple[str, int | None] | None:
        """(queue, agent) at `at`; None before creation, and after closing when open_only."""
        closed = self.closed_at is not None and at >= self.closed_at
        if at < self.created_at or (open_only and closed):
            return None
        current = self.states[0]
        for state in self.states:
            if state[0] > at:
                break
            current = state
        return current[1], current[2]


def read_tickets(
    events: Iterable[TicketEvent], *, settings: ReadingRules, now: datetime
) -> list[TicketRecord]:
    """Every ticket with a CREATED event, read into visits and samples (see docs/metrics.md)."""
    logs: dict[int, list[TicketEvent]] = defaultdict(list)
    for event in events:
        logs[event.ticket_id].append(event)
    tickets = (_read(ordered(log), settings, now) for _, log in sorted(logs.items()))
    return [ticket for ticket in tickets if ticket is not None]


def _read(log: Sequence[TicketEvent], settings: ReadingRules, now: datetime) -> TicketRecord | None:
    created = next((event for event in log if event.kind == EventKind.CREATED), None)
    if created is None:
        return None
    walk = _Walk(settings, now, log, created)
    for event in log[log.index(created) + 1 :]:
        walk.step(event)
    return walk.finish()


class _Walk:
    """Reads one ticket's log in order, tracking its queue, agent and current queue visit."""

    def __init__(
        self,
        settings: ReadingRules,
        now: datetime,
        log: Sequence[TicketEvent],
        created: TicketEvent,
    ) -> None:
        self.settings, self.now, self.log, self.created = settings, now, log, created
        self.tier = _text(created.data.get("tier"))
        self.queue = str(created.data.get("queue") or "")
        self.agent: int | None = None
        self.entered: datetime | None = created.at  # the open queue visit started here
        self.first_assigned: datetime | None = None
        self.responded = False
        self.closed_at: datetime | None = None
        self.rating: TicketEvent | None = None
        self.visits: list[QueueVisit] = []
        self.samples: list[Sample] = []
        self.states: list[tuple[datetime, str, int | None]] = [(created.at, self.queue, None)]

    def step(self, event: TicketEvent) -> None:
        if event.kind == EventKind.RATED:
            self.rating = event
        elif self.closed_at is not None:
            return
        elif event.kind == EventKind.ASSIGNED:
            self.agent = agent_id(event.data.get("agent_id"))
            self.first_assigned = self.first_assigned or event.at
            self._close_visit(VisitOutcome.ANSWERED, event.at)
        elif event.kind in (EventKind.TRANSFERRED, EventKind.OVERFLOWED):
            self._move(event)
        elif event.kind == EventKind.AGENT_MESSAGE and not self.responded:
            self.responded = True
            agent = agent_id(event.data.get("agent_id")) or self.agent
            self._sample(Measure.FIRST_RESPONSE, self._since_created(event.at), event.at, agent)
        elif event.kind == EventKind.RESOLVED:
            self._resolve(event)
        elif event.kind == EventKind.ABANDONED:
            self._close_visit(VisitOutcome.ABANDONED, event.at)
            self.closed_at = event.at
        self.states.append((event.at, self.queue, self.agent))

    def finish(self) -> TicketRecord:
        self._close_visit(VisitOutcome.WAITING, None)
        if self.rating is not None and isinstance(
            score := self.rating.data.get("score"), int | float
        ):
            self._sample(Measure.SATISFACTION, float(score), self.rating.at, self.agent)
        record = TicketRecord(
            self.created.ticket_id, self.tier, self.created.at, self.closed_at,
            tuple(self.visits), tuple(self.samples), tuple(self.states),
        )  # fmt: skip
        return _with_sla_samples(record, self.log)

    def _move(self, event: TicketEvent) -> None:
        """OVERFLOWED / TRANSFERRED: a new visit when queued into another queue or re-queued."""
        to_queue = str(event.data.get("to_queue") or self.queue)
        queued = self.entered is not None
        requeue = queued
        if event.kind == EventKind.TRANSFERRED and not queued:
            self.agent = agent_id(event.data.get("to_agent_id"))
            requeue = self.agent is None
        if queued and to_queue != self.queue:
            self._close_visit(VisitOutcome.LEFT, event.at)
        self.queue = to_queue
        if requeue and self.entered is None:
            self.entered = event.at

    def _resolve(self, event: TicketEvent) -> None:
        self._close_visit(VisitOutcome.LEFT, event.at)
        self.agent = agent_id(event.data.get("agent_id")) or self.agent
        self.closed_at = event.at
        self._sample(Measure.RESOLUTION, self._since_created(event.at), event.at, self.agent)
        if self.first_assigned is not None:
            handle = self._handle_time(self.first_assigned, event.at)
            self._sample(Measure.HANDLE, handle.total_seconds(), event.at, self.agent)

    def _handle_time(self, start: datetime, end: datetime) -> timedelta:
        calendar = self.settings.calendar(self.queue)
        waited = sum(
            (
                calendar.business_time(max(since, start), min(until or end, end))
                for since, until in paused_spans(self.log)
            ),
            ZERO,
        )
        return calendar.business_time(start, end) - waited

    def _since_created(self, at: datetime) -> float:
        return self.settings.calendar(self.queue).business_seconds(self.created.at, at)

    def _close_visit(self, outcome: VisitOutcome, at: datetime | None) -> None:
        if self.entered is None:
            return
        wait = self.settings.calendar(self.queue).business_time(self.entered, at or self.now)
        settled = outcome in (VisitOutcome.ANSWERED, VisitOutcome.ABANDONED)
        self.visits.append(
            QueueVisit(
                self.created.ticket_id, self.queue, self.tier, self.entered, at, outcome,
                self.agent if outcome == VisitOutcome.ANSWERED else None, wait,
                within_threshold=settled and wait <= self.settings.threshold(self.queue),
                short_abandon=outcome == VisitOutcome.ABANDONED
                and wait <= self.settings.short_abandon,
            )
        )  # fmt: skip
        self.entered = None

    def _sample(self, measure: Measure, value: float, at: datetime, agent: int | None) -> None:
        sample = Sample(self.created.ticket_id, measure, value, at, self.queue, self.tier, agent)
        self.samples.append(sample)


def _with_sla_samples(record: TicketRecord, log: Sequence[TicketEvent]) -> TicketRecord:
    """One SLA_MET sample per cycle: 0.0 at its recorded SLA_BREACHED, else 1.0 when fulfilled."""
    samples = list(record.samples)
    breaches = [event for event in log if event.kind == EventKind.SLA_BREACHED]
    for span in sla_cycles(log):
        breach = next(
            (
                event
                for event in breaches
                if event.data.get("target") == span.kind.value
                and span.started_at <= event.at
                and (span.stopped_at is None or event.at <= span.stopped_at)
            ),
            None,
        )
        if breach is not None:
            at, value = breach.at, 0.0
        elif span.stopped_at is not None and span.end != CycleEnd.CANCELLED:
            at, value = span.stopped_at, 1.0
        else:
            continue
        queue, agent = record.state_at(at, open_only=False) or ("", None)
        samples.append(
            Sample(
                record.ticket_id, Measure.SLA_MET, value, at, queue, record.tier, agent, span.kind
            )
        )
    return replace(record, samples=tuple(samples))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def agent_id(value: object) -> int | None:
    """Agent ids in event data are ints; digit strings are accepted, anything else is None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None
