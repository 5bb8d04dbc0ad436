"""The supervisors' numbers: per queue, per agent, the SLA warnings list and the day's intervals.

Every figure is routing's (routing.metrics `report_tickets`, routing.realtime `snapshots_by_queue`,
routing.sla clocks; definitions in docs/metrics.md), computed over the ticket logs the desk
reads from the database. The live board is cached for `dashboard_cache` (2 s) so that many
open dashboards and Prometheus scrapes cost one computation.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from desk import sla_view
from desk.config import DeskConfig
from desk.history import DeskHistory
from desk.sla_view import TargetView
from routing.dispatch import AgentState
from routing.events import EventKind, TicketEvent
from routing.metric_records import TicketRecord, agent_id, read_tickets
from routing.metrics import Dimension, GroupKey, QueueMetrics, report_tickets
from routing.realtime import LiveAgent, LiveTicket, RealtimeSnapshot, snapshots_by_queue
from routing.service import RoutingService
from routing.tickets import Ticket

K = EventKind
ENTERS_QUEUE = frozenset({K.CREATED, K.TRANSFERRED, K.OVERFLOWED})
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class AgentRow:
    state: AgentState
    handled_today: int  # tickets they resolved today
    answered_today: int  # tickets they took from a queue today
    handle_time: float | None  # mean seconds over today's resolutions


@dataclass(frozen=True, slots=True)
class Board:
    """The live picture, as of `now`."""

    now: datetime
    day_start: datetime
    realtime: Mapping[str, RealtimeSnapshot]
    today: Mapping[str, QueueMetrics]
    last_hour: Mapping[str, QueueMetrics]
    interval: Mapping[str, QueueMetrics]
    totals: QueueMetrics | None  # today, every queue together
    agents: Sequence[AgentRow]
    alerts: Sequence[TargetView]  # sorted by time left, most urgent first
    open_tickets: Sequence[Ticket]
    breaches_today: Mapping[str, int]  # SLA_BREACHED events today, by queue
    breaches_by_target: Mapping[tuple[str, str], int]  # by (queue, target)
    messages_today: Mapping[tuple[str, str], int] = field(default_factory=dict)


def day_bounds(config: DeskConfig, day: date) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight, as aware datetimes (DST days are 23/25 h)."""
    zone = config.timezone
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def by_queue(metrics: Mapping[GroupKey, QueueMetrics]) -> dict[str, QueueMetrics]:
    return {key.queue: value for key, value in metrics.items() if key.queue is not None}


def queue_of_events(log: Sequence[TicketEvent]) -> list[tuple[TicketEvent, str]]:
    """Each event with the queue the ticket was in when it happened."""
    queue, found = "", []
    for event in log:
        if event.kind == K.CREATED:
            queue = str(event.data.get("queue") or queue)
        elif event.kind in (K.TRANSFERRED, K.OVERFLOWED):
            queue = str(event.data.get("to_queue") or queue)
        found.append((event, queue))
    return found


def queued_at(log: Sequence[TicketEvent]) -> datetime | None:
    """When the ticket last entered its queue (a live figure: wall time)."""
    entered = [event.at for event in log if event.kind in ENTERS_QUEUE]
    return entered[-1] if entered else None


class DeskNumbers:
    def __init__(self, history: DeskHistory, routing: RoutingService, config: DeskConfig) -> None:
        self._history = history
        self._routing = routing
        self._config = config
        self._board: Board | None = None
        self._lock = asyncio.Lock()

    async def board(self, now: datetime) -> Board:
        """The live board, recomputed when older than the cache time."""
        async with self._lock:
            fresh = self._board is not None and now - self._board.now < self._config.dashboard_cache
            if not fresh or self._board is None or now < self._board.now:
                self._board = await self._compute(now)
            return self._board

    def forget(self) -> None:
        """Drop the cached board (after a supervisor's action, so they see its effect)."""
        self._board = None

    async def _compute(self, now: datetime) -> Board:
        config, settings = self._config, self._config.metrics
        day_start = day_bounds(config, now.astimezone(config.timezone).date())[0]
        since = min(day_start, now - HOUR)
        logs = await self._history.events_of(await self._history.active_since(since))
        events = [e for log in logs.values() for e in log if e.at <= now]
        tickets = read_tickets(events, settings=settings, now=now)  # once for every report

        def per_queue(start: datetime) -> dict[str, QueueMetrics]:
            return by_queue(report_tickets(tickets, settings=settings, now=now, since=start))

        totals = report_tickets(tickets, settings=settings, now=now, by=(), since=day_start)
        open_tickets = await self._history.open_tickets()
        states = await self._routing.agents()
        return Board(
            now=now,
            day_start=day_start,
            realtime=self._realtime(open_tickets, logs, states, now),
            today=per_queue(day_start),
            last_hour=per_queue(now - HOUR),
            interval=per_queue(settings.interval_start(now)),
            totals=next(iter(totals.values()), None),
            agents=self._agents(events, tickets, states, day_start, now),
            alerts=self._alerts(open_tickets, logs, now),
            open_tickets=open_tickets,
            breaches_today=self._breaches(logs, day_start, now),
            breaches_by_target=self._breaches_by_target(logs, day_start, now),
            messages_today=await self._history.messages_since(day_start),
        )

    def _realtime(
        self,
        tickets: Sequence[Ticket],
        logs: Mapping[int, Sequence[TicketEvent]],
        states: Sequence[AgentState],
        now: datetime,
    ) -> dict[str, RealtimeSnapshot]:
        live = [
            LiveTicket(t.id, t.status, t.queue, t.priority, queued_at(logs.get(t.id, ())))
            for t in tickets
        ]
        staff = [
            LiveAgent(s.agent_id, s.presence, s.load, s.capacity, frozenset(s.queues))
            for s in states
        ]
        keys = self._routing.parts.queues.keys
        return snapshots_by_queue(live, staff, now=now, queues=keys)

    def _agents(
        self,
        events: Sequence[TicketEvent],
        tickets: Sequence[TicketRecord],
        states: Sequence[AgentState],
        day_start: datetime,
        now: datetime,
    ) -> list[AgentRow]:
        today = [e for e in events if e.at >= day_start]
        handled = Counter(agent_id(e.data.get("agent_id")) for e in today if e.kind == K.RESOLVED)
        answered = Counter(agent_id(e.data.get("agent_id")) for e in today if e.kind == K.ASSIGNED)
        settings = self._config.metrics
        per_agent = report_tickets(
            tickets, settings=settings, now=now, by=(Dimension.AGENT,), since=day_start
        )
        handle = {key.agent: value.handle_time for key, value in per_agent.items()}
        return [
            AgentRow(
                s, handled.get(s.agent_id, 0), answered.get(s.agent_id, 0), handle.get(s.agent_id)
            )
            for s in sorted(states, key=lambda s: s.agent_id)
        ]

    def _alerts(
        self, tickets: Sequence[Ticket], logs: Mapping[int, Sequence[TicketEvent]], now: datetime
    ) -> list[TargetView]:
        found = [
            view
            for ticket in tickets
            for view in sla_view.alerts(ticket, logs.get(ticket.id, ()), self._config, now)
        ]
        return sorted(found, key=lambda v: (v.remaining_seconds, v.ticket_id))

    @staticmethod
    def _breaches(
        logs: Mapping[int, Sequence[TicketEvent]], since: datetime, now: datetime
    ) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for log in logs.values():
            for event, queue in queue_of_events(log):
                if event.kind == K.SLA_BREACHED and since <= event.at <= now:
                    counts[queue] += 1
        return dict(counts)

    @staticmethod
    def _breaches_by_target(
        logs: Mapping[int, Sequence[TicketEvent]], since: datetime, now: datetime
    ) -> dict[tuple[str, str], int]:
        counts: Counter[tuple[str, str]] = Counter()
        for log in logs.values():
            for event, queue in queue_of_events(log):
                if event.kind == K.SLA_BREACHED and since <= event.at <= now:
                    counts[(queue, str(event.data.get("target") or ""))] += 1
        return dict(counts)

    async def intervals(
        self, day: date, now: datetime
    ) -> tuple[dict[GroupKey, QueueMetrics], dict[GroupKey, QueueMetrics]]:
        """The day's intervals: per (queue, interval), and per interval over every queue."""
        start, end = day_bounds(self._config, day)
        until = min(end, now)
        logs = await self._history.events_of(await self._history.active_since(start, end))
        events = [e for log in logs.values() for e in log if e.at <= until]
        settings = self._config.metrics
        tickets = read_tickets(events, settings=settings, now=until)
        queues = report_tickets(
            tickets,
            settings=settings,
            now=until,
            since=start,
            by=(Dimension.QUEUE, Dimension.INTERVAL),
        )
        totals = report_tickets(
            tickets, settings=settings, now=until, since=start, by=(Dimension.INTERVAL,)
        )
        in_day = {k: v for k, v in queues.items() if k.interval is not None and k.interval < end}
        all_day = {k: v for k, v in totals.items() if k.interval is not None and k.interval < end}
        return in_day, all_day

    async def resolutions(self, ticket_ids: Sequence[int]) -> dict[int, tuple[str, int | None]]:
        """(resolution code, resolving agent) of each resolved ticket."""
        logs = await self._history.events_of(ticket_ids)
        found: dict[int, tuple[str, int | None]] = {}
        for ticket_id, log in logs.items():
            for event in log:
                if event.kind == K.RESOLVED:
                    code = str(event.data.get("code") or "")
                    found[ticket_id] = (code, agent_id(event.data.get("agent_id")))
        return found
