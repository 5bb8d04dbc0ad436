"""The ticket vocabulary and its append-only event log, the record every metric comes from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class TicketStatus(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    ABANDONED = "abandoned"


class Urgency(StrEnum):
    NORMAL = "normal"
    COMPLAINT = "complaint"
    EMERGENCY = "emergency"


class Presence(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class EventKind(StrEnum):
    """What happened to a ticket. `data` keys per kind are listed beside each."""

    CREATED = "created"  # queue, tier, urgency, channel, customer_id, reason, intent, confidence
    OFFERED = "offered"  # agent_id, expires_at
    OFFER_DECLINED = "offer_declined"  # agent_id
    OFFER_TIMED_OUT = "offer_timed_out"  # agent_id
    ASSIGNED = "assigned"  # agent_id, via ("pull" | "push" | "transfer" | "supervisor")
    # from_queue, to_queue, from_agent_id, to_agent_id (any may be None)
    TRANSFERRED = "transferred"
    WAITING_ON_CUSTOMER = "waiting_on_customer"  # (none): SLA clocks pause
    RESUMED = "resumed"  # (none): back to assigned, clocks run again
    CUSTOMER_MESSAGE = "customer_message"  # text (may be omitted for privacy)
    AGENT_MESSAGE = "agent_message"  # agent_id, text
    NOTE = "note"  # agent_id, text (internal)
    PRIORITY_CHANGED = "priority_changed"  # priority, reason
    POLICY_CHANGED = "policy_changed"  # from_policy, to_policy
    # target ("first_response" | "next_response" | "resolution"), due_at, reason
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"  # target, due_at
    OVERFLOWED = "overflowed"  # from_queue, to_queue
    RESOLVED = "resolved"  # agent_id, code
    ABANDONED = "abandoned"  # reason ("customer_cancelled" | "customer_left" | ...)
    RATED = "rated"  # score (1-5), comment


@dataclass(frozen=True, slots=True)
class TicketEvent:
    ticket_id: int
    kind: EventKind
    at: datetime  # timezone-aware
    actor: str  # "bot", "customer", "agent:<id>", "supervisor:<id>", "system"
    data: dict[str, Any] = field(default_factory=dict)
    seq: int = 0  # position in the ticket's log, assigned by the store (1, 2, ...)
