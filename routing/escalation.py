"""Warnings before an SLA breach, breach alerts, and the escalation actions they call for.

Pure decisions: the live layer measures an SlaClock, asks `warnings` and `breaches` which alerts
are new (alerts already in the log as SLA_WARNING / SLA_BREACHED are not repeated), writes them as
events (`SlaAlert.event_kind`, `SlaAlert.event_data()`), and executes what `escalate` returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from routing.events import EventKind
from routing.sla import ClockState, SlaClock, SlaCycle, SlaError, SlaTargetKind


class AlertLevel(StrEnum):
    WARNING = "warning"
    BREACH = "breach"


class AlertReason(StrEnum):
    SHARE = "share"  # the clock has used the warning share of its target
    PREDICTION = "prediction"  # the queue ahead predicts a breach
    BREACHED = "breached"


class EscalationKind(StrEnum):
    RAISE_PRIORITY = "raise_priority"
    OVERFLOW = "overflow"
    NOTIFY_SUPERVISORS = "notify_supervisors"


@dataclass(frozen=True, slots=True)
class QueueOutlook:
    """Where a queued ticket stands: position 1 is next in line."""

    position: int
    avg_handle_seconds: float
    free_agents: int


@dataclass(frozen=True, slots=True)
class SlaAlert:
    ticket_id: int
    target: SlaTargetKind
    level: AlertLevel
    reason: AlertReason
    due_at: datetime | None
    active: bool  # the cycle is still running (a late response gives an inactive breach)

    @property
    def event_kind(self) -> EventKind:
        return EventKind.SLA_WARNING if self.level == AlertLevel.WARNING else EventKind.SLA_BREACHED

    def event_data(self) -> dict[str, Any]:
        """The `data` of the SLA_WARNING / SLA_BREACHED event recording this alert (JSON-able)."""
        data: dict[str, Any] = {
            "target": self.target.value,
            "due_at": self.due_at.isoformat() if self.due_at else None,
        }
        if self.level == AlertLevel.WARNING:
            data["reason"] = self.reason.value
        return data


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """On a warning or a breach (of one target, or of any when `target` is None), do `action`."""

    on: AlertLevel
    action: EscalationKind
    target: SlaTargetKind | None = None

    def matches(self, alert: SlaAlert) -> bool:
        return self.on == alert.level and self.target in (None, alert.target)


@dataclass(frozen=True, slots=True)
class EscalationAction:
    ticket_id: int
    action: EscalationKind
    alert: SlaAlert


def predict_breach(
    position: int, avg_handle_seconds: float, free_agents: int, remaining_seconds: float
) -> bool:
    """True when the expected wait (position x AHT / free agents) exceeds the time left.

    A ticket not in the queue (position 0) is never predicted to breach; one with no time left
    always is. With no free agent the divisor is 1: the best guess is that one agent frees up
    every average handle time.
    """
    if position < 0 or avg_handle_seconds < 0 or free_agents < 0:
        raise SlaError("position, handle time and free agents cannot be negative")
    if position == 0:
        return False
    if remaining_seconds <= 0:
        return True
    return position * avg_handle_seconds / max(free_agents, 1) > remaining_seconds


def warnings(
    clock: SlaClock, *, outlook: QueueOutlook | None = None, include_recorded: bool = False
) -> tuple[SlaAlert, ...]:
    """Warnings for running, unbreached cycles: past the clock's warning share, or predicted.

    The share was fixed when the clock was measured (`SlaClock.from_events(warning_share=...)`);
    the prediction applies to every running cycle of a queued ticket (pass its `outlook`).
    """
    alerts = []
    for cycle in clock.running():
        if cycle.warned and not include_recorded:
            continue
        if cycle.state == ClockState.WARNING:
            alerts.append(_alert(clock, cycle, AlertLevel.WARNING, AlertReason.SHARE))
        elif cycle.state == ClockState.RUNNING and outlook and _predicted(cycle, outlook):
            alerts.append(_alert(clock, cycle, AlertLevel.WARNING, AlertReason.PREDICTION))
    return tuple(alerts)


def breaches(clock: SlaClock, *, include_recorded: bool = False) -> tuple[SlaAlert, ...]:
    """Breached cycles, running or stopped late, not yet recorded as SLA_BREACHED.

    Record every one: metrics count SLA attainment from SLA_BREACHED events.
    """
    return tuple(
        _alert(clock, cycle, AlertLevel.BREACH, AlertReason.BREACHED)
        for cycle in clock.cycles
        if cycle.state == ClockState.BREACHED and (include_recorded or not cycle.breach_recorded)
    )


def escalate(
    alerts: Iterable[SlaAlert], rules: Sequence[EscalationRule]
) -> tuple[EscalationAction, ...]:
    """The actions the rules call for on active alerts, at most one per ticket and action."""
    actions: dict[tuple[int, EscalationKind], EscalationAction] = {}
    for alert in alerts:
        if not alert.active:
            continue
        for rule in rules:
            if rule.matches(alert):
                key = (alert.ticket_id, rule.action)
                actions.setdefault(key, EscalationAction(alert.ticket_id, rule.action, alert))
    return tuple(actions.values())


def _predicted(cycle: SlaCycle, outlook: QueueOutlook) -> bool:
    return predict_breach(
        outlook.position,
        outlook.avg_handle_seconds,
        outlook.free_agents,
        cycle.remaining.total_seconds(),
    )


def _alert(clock: SlaClock, cycle: SlaCycle, level: AlertLevel, reason: AlertReason) -> SlaAlert:
    return SlaAlert(clock.ticket_id, cycle.kind, level, reason, cycle.due_at, cycle.running)
