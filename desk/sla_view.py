"""A ticket's SLA clocks as the desk shows them: each target's state, due time and time left.

The clocks are routing's (routing.sla.SlaClock, docs/metrics.md); this module only picks the
calendar and policy the way the SLA monitor does and turns the latest cycle of each target into
plain data for the console's countdowns and the dashboard's warnings list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from desk.config import DeskConfig
from routing.events import EventKind, TicketEvent
from routing.sla import ClockState, SlaClock, SlaCycle, SlaError, SlaTargetKind
from routing.tickets import Ticket

ALERT_STATES = frozenset({ClockState.WARNING, ClockState.BREACHED})


@dataclass(frozen=True, slots=True)
class TargetView:
    ticket_id: int
    target: SlaTargetKind
    state: ClockState
    started_at: datetime
    due_at: datetime | None
    target_seconds: float
    elapsed_seconds: float
    remaining_seconds: float  # business time; negative once overdue
    running: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.value,
            "state": self.state.value,
            "started_at": self.started_at.isoformat(),
            "due_at": None if self.due_at is None else self.due_at.isoformat(),
            "target_seconds": self.target_seconds,
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "remaining_seconds": round(self.remaining_seconds, 1),
            "running": self.running,
        }


def _initial_policy(ticket: Ticket, events: Sequence[TicketEvent]) -> str:
    """The policy at creation (as routing.sla_monitor reads it)."""
    for event in events:
        if event.kind == EventKind.POLICY_CHANGED and event.data.get("from_policy"):
            return str(event.data["from_policy"])
    return ticket.sla_policy


def clock_of(
    ticket: Ticket, events: Sequence[TicketEvent], config: DeskConfig, now: datetime
) -> SlaClock | None:
    """The ticket's clocks at `now`; None when its queue or policy has no SLA configured."""
    calendar = config.calendars.get(ticket.queue)
    start = config.sla_policies.get(_initial_policy(ticket, events))
    current = config.sla_policies.get(ticket.sla_policy, start)
    if calendar is None or start is None or current is None or not events:
        return None
    try:
        return SlaClock.from_events(
            events,
            calendar=calendar,
            targets=start.targets[ticket.tier],
            now=now,
            policies={name: p.targets[ticket.tier] for name, p in config.sla_policies.items()},
            warning_share=current.warning_share,
        )
    except SlaError:
        return None


def _view(ticket_id: int, cycle: SlaCycle) -> TargetView:
    return TargetView(
        ticket_id,
        cycle.kind,
        cycle.state,
        cycle.started_at,
        cycle.due_at,
        cycle.target.total_seconds(),
        cycle.elapsed.total_seconds(),
        cycle.remaining.total_seconds(),
        cycle.running,
    )


def targets(
    ticket: Ticket, events: Sequence[TicketEvent], config: DeskConfig, now: datetime
) -> list[TargetView]:
    """The latest cycle of each target (first response, next response, resolution)."""
    clock = clock_of(ticket, events, config, now)
    if clock is None:
        return []
    latest = (clock.latest(kind) for kind in SlaTargetKind)
    return [_view(ticket.id, cycle) for cycle in latest if cycle is not None]


def alerts(
    ticket: Ticket, events: Sequence[TicketEvent], config: DeskConfig, now: datetime
) -> list[TargetView]:
    """Running targets in warning or breached: what the dashboard's warnings list shows."""
    return [
        view
        for view in targets(ticket, events, config, now)
        if view.running and view.state in ALERT_STATES
    ]
