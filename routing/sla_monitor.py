"""The SLA monitor: on a timer, measure every open ticket's clocks, record new warnings and
breaches, and carry out the escalation actions the ticket's policy calls for.

Everything it knows comes from the record: a clock is rebuilt from the ticket's events each run,
and an alert already in the log is not recorded again (`warnings` / `breaches` skip it), so runs
may overlap or repeat, and a restarted monitor picks up where the last one stopped.

The escalation actions:
- raise_priority: the ticket's priority goes up by `priority_step` (200 by default: as much as
  20 minutes of ageing at the default 10 points a minute), once per alert;
- overflow: a queued ticket moves to its queue's overflow queue (skipped when the ticket is not
  queued or the queue has none);
- notify_supervisors: a desk event (kind SLA_WARNING / SLA_BREACHED, `data["escalation"] ==
  "notify_supervisors"`) on the desk bus, with the ticket, queue, target, level and due time.
An alert is recorded before its actions run; an action that fails is logged, not retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm_store.clock import Clock, system_clock
from crm_store.tiers import Tier
from routing.background import Rounds
from routing.calendar import BusinessCalendar
from routing.desk_bus import DeskEvent
from routing.errors import RoutingError
from routing.escalation import (
    AlertLevel,
    EscalationAction,
    EscalationKind,
    EscalationRule,
    QueueOutlook,
    SlaAlert,
    breaches,
    escalate,
    warnings,
)
from routing.events import EventKind, TicketEvent, TicketStatus
from routing.service import RoutingService
from routing.sla import SlaClock, SlaError, SlaTargets
from routing.tickets import WAITING_FOR_AGENT, Ticket

log = logging.getLogger(__name__)
ACTOR = "system"
DEFAULT_PRIORITY_STEP = 200


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """One SLA policy as the monitor uses it: targets per tier, escalation rules, warning share."""

    targets: Mapping[Tier, SlaTargets]
    rules: tuple[EscalationRule, ...] = ()
    warning_share: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.warning_share <= 1:
            raise SlaError(f"warning_share must be in (0, 1], not {self.warning_share}")


@dataclass(frozen=True, slots=True)
class MonitorReport:
    checked: int = 0  # open tickets measured
    warnings: int = 0  # SLA_WARNING events recorded
    breaches: int = 0  # SLA_BREACHED events recorded
    actions: int = 0  # escalation actions carried out
    skipped: int = 0  # open tickets that could not be checked (logged)

    def __add__(self, other: MonitorReport) -> MonitorReport:
        return MonitorReport(
            self.checked + other.checked,
            self.warnings + other.warnings,
            self.breaches + other.breaches,
            self.actions + other.actions,
            self.skipped + other.skipped,
        )


@dataclass(slots=True)
class _Check:
    """One ticket's run: the ticket as last written, and what was done to it."""

    ticket: Ticket
    alerts: list[SlaAlert] = field(default_factory=list)
    actions: int = 0

    def report(self) -> MonitorReport:
        levels = [alert.level for alert in self.alerts]
        return MonitorReport(
            1, levels.count(AlertLevel.WARNING), levels.count(AlertLevel.BREACH), self.actions
        )


class SlaMonitor:
    """Checks every open ticket's SLA clocks; `run_once` once, `run` on a timer."""

    def __init__(
        self,
        service: RoutingService,
        calendars: Mapping[str, BusinessCalendar],
        policies: Mapping[str, SlaPolicy],
        *,
        priority_step: int = DEFAULT_PRIORITY_STEP,
        clock: Clock = system_clock,
    ) -> None:
        self._service = service
        self._calendars = calendars  # queue key -> its calendar
        self._policies = policies  # policy name -> SlaPolicy
        self._step = priority_step
        self._clock = clock

    async def run_once(self) -> MonitorReport:
        now = self._clock()
        report = MonitorReport()
        for found in await self._service.store.open_tickets():
            try:
                report += await self.check(found.ticket, now)
            except RoutingError as exc:  # one ticket's trouble must not stop the others
                log.warning("SLA check of ticket %s skipped: %s", found.ticket.id, exc)
                report += MonitorReport(skipped=1)
        return report

    async def run(self, every: timedelta = timedelta(seconds=30)) -> None:
        """Check until cancelled (run it as a background task beside RoutingService.run)."""
        rounds = Rounds("SLA monitor run", log)
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # the loop must outlive a failed run; the next one retries
                rounds.failed(exc)
            else:
                rounds.succeeded()
            await asyncio.sleep(every.total_seconds())

    async def check(self, ticket: Ticket, now: datetime) -> MonitorReport:
        """Measure one ticket at `now`, record its new alerts, carry out its escalations."""
        policy = self.policy(ticket.sla_policy)
        events = await self._service.events(ticket.id)
        clock = self._clock_of(ticket, events, now)
        outlook = await self._outlook(ticket)
        check = _Check(ticket, [*warnings(clock, outlook=outlook), *breaches(clock)])
        for alert in check.alerts:
            check.ticket = await self._service.record_sla_alert(
                ticket.id, alert.event_kind, alert.event_data()
            )
        for action in escalate(check.alerts, policy.rules):
            await self._carry_out(check, action)
        return check.report()

    def _clock_of(self, ticket: Ticket, events: Sequence[TicketEvent], now: datetime) -> SlaClock:
        calendar = self._calendars.get(ticket.queue)
        if calendar is None:
            raise SlaError(f"queue {ticket.queue!r} has no business calendar")
        start = self.policy(_initial_policy(ticket, events))
        return SlaClock.from_events(
            events,
            calendar=calendar,
            targets=start.targets[ticket.tier],
            now=now,
            policies={name: p.targets[ticket.tier] for name, p in self._policies.items()},
            warning_share=self.policy(ticket.sla_policy).warning_share,
        )

    def policy(self, name: str) -> SlaPolicy:
        """The policy of this name (SlaError when there is none)."""
        policy = self._policies.get(name)
        if policy is None:
            raise SlaError(f"no SLA policy named {name!r}")
        return policy

    async def _outlook(self, ticket: Ticket) -> QueueOutlook | None:
        """Where a ticket waiting for an agent stands (for breach predictions)."""
        if ticket.status not in WAITING_FOR_AGENT:
            return None
        standing = await self._service.position(ticket.id)
        if standing.position is None:  # on offer, or the live layer is being rebuilt
            return None
        return QueueOutlook(standing.position, standing.avg_handle_seconds, standing.free_agents)

    async def _carry_out(self, check: _Check, action: EscalationAction) -> None:
        try:
            done = await self._act(check.ticket, action)
        except RoutingError as exc:  # e.g. the ticket moved on since it was read
            log.warning(
                "escalation %s of ticket %s failed: %s", action.action, check.ticket.id, exc
            )
            return
        if done is not None:
            check.ticket, check.actions = done, check.actions + 1

    async def _act(self, ticket: Ticket, action: EscalationAction) -> Ticket | None:
        """Carry out one action; the ticket afterwards, or None when it did not apply."""
        alert = action.alert
        match action.action:
            case EscalationKind.RAISE_PRIORITY:
                reason = f"SLA {alert.level} on {alert.target}"
                return await self._service.reprioritise(
                    ticket.id, ticket.priority + self._step, actor=ACTOR, reason=reason
                )
            case EscalationKind.OVERFLOW:
                if not self._can_overflow(ticket):
                    return None
                return await self._service.overflow(ticket.id, actor=ACTOR)
            case EscalationKind.NOTIFY_SUPERVISORS:
                await self._service.parts.publish([supervisor_alert(ticket, alert, self._clock())])
                return ticket

    def _can_overflow(self, ticket: Ticket) -> bool:
        queues = self._service.parts.queues
        return (
            ticket.status is TicketStatus.QUEUED
            and ticket.queue in queues
            and queues[ticket.queue].overflow is not None
        )


def supervisor_alert(ticket: Ticket, alert: SlaAlert, at: datetime) -> DeskEvent:
    """The desk event that tells the supervisors' dashboard about an SLA alert."""
    data = {
        "escalation": EscalationKind.NOTIFY_SUPERVISORS.value,
        "ticket_id": ticket.id,
        "queue": ticket.queue,
        "level": alert.level.value,
        **alert.event_data(),
    }
    return DeskEvent(
        ticket.id,
        ticket.last_seq,
        alert.event_kind,
        ticket.status,
        ticket.queue,
        ticket.assigned_agent_id,
        at,
        data,
    )


def _initial_policy(ticket: Ticket, events: Sequence[TicketEvent]) -> str:
    """The policy at creation: the first POLICY_CHANGED's from_policy, else the ticket's."""
    for event in events:
        if event.kind == EventKind.POLICY_CHANGED and event.data.get("from_policy"):
            return str(event.data["from_policy"])
    return ticket.sla_policy
