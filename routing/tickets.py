"""A ticket's record and its lifecycle: which event may happen in which status, and what follows.

    queued -> offered -> assigned <-> waiting_on_customer -> resolved
       \\________/ (abandoned: the customer cancelled or left before an agent took it)

Transfers put an open ticket back into a queue (to_queue) or straight onto an agent (the
TRANSFERRED event is then followed by ASSIGNED via "transfer"). Every change is one event in the
ticket's append-only log; a change the current status does not allow is refused with a reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_store.enums import Channel
from crm_store.tiers import Tier
from routing.errors import InvalidTransition
from routing.events import EventKind, TicketStatus, Urgency

S = TicketStatus
K = EventKind

OPEN = frozenset({S.QUEUED, S.OFFERED, S.ASSIGNED, S.WAITING_ON_CUSTOMER})
HELD = frozenset({S.ASSIGNED, S.WAITING_ON_CUSTOMER})  # count against the agent's capacity
WAITING_FOR_AGENT = frozenset({S.QUEUED, S.OFFERED})
CLOSED = frozenset({S.RESOLVED, S.ABANDONED})


@dataclass(frozen=True, slots=True)
class Move:
    """The statuses an event may happen in, and the status it leaves (None: unchanged)."""

    allowed_from: frozenset[TicketStatus]
    to: TicketStatus | None


MOVES: Mapping[EventKind, Move] = {
    K.CREATED: Move(frozenset(), S.QUEUED),
    K.OFFERED: Move(frozenset({S.QUEUED}), S.OFFERED),
    K.OFFER_DECLINED: Move(frozenset({S.OFFERED}), S.QUEUED),
    K.OFFER_TIMED_OUT: Move(frozenset({S.OFFERED}), S.QUEUED),
    K.ASSIGNED: Move(WAITING_FOR_AGENT, S.ASSIGNED),
    K.TRANSFERRED: Move(OPEN, S.QUEUED),
    K.OVERFLOWED: Move(frozenset({S.QUEUED}), S.QUEUED),
    K.WAITING_ON_CUSTOMER: Move(frozenset({S.ASSIGNED}), S.WAITING_ON_CUSTOMER),
    K.RESUMED: Move(frozenset({S.WAITING_ON_CUSTOMER}), S.ASSIGNED),
    K.RESOLVED: Move(HELD, S.RESOLVED),
    K.ABANDONED: Move(WAITING_FOR_AGENT, S.ABANDONED),
    K.CUSTOMER_MESSAGE: Move(OPEN, None),
    K.AGENT_MESSAGE: Move(HELD, None),
    K.NOTE: Move(frozenset(S), None),
    K.PRIORITY_CHANGED: Move(OPEN, None),
    K.POLICY_CHANGED: Move(OPEN, None),
    K.SLA_WARNING: Move(OPEN, None),
    K.SLA_BREACHED: Move(OPEN, None),
    K.RATED: Move(frozenset({S.RESOLVED}), None),
}


def _listed(statuses: Iterable[TicketStatus]) -> str:
    names = sorted(s.value for s in statuses)
    return " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]


def refusal(kind: EventKind, status: TicketStatus, allowed: frozenset[TicketStatus]) -> str:
    """The plain-words reason an event is refused in a status."""
    if not allowed:
        return f"'{kind}' only starts a ticket's log"
    return f"the ticket is {status}; '{kind}' is only allowed while it is {_listed(allowed)}"


def next_status(
    ticket_id: int,
    status: TicketStatus,
    kind: EventKind,
    expected: frozenset[TicketStatus] | None = None,
) -> TicketStatus:
    """The status after `kind` happens in `status`, or InvalidTransition with the reason."""
    move = MOVES[kind]
    allowed = move.allowed_from if expected is None else move.allowed_from & expected
    if status not in allowed:
        raise InvalidTransition(ticket_id, refusal(kind, status, allowed), status=status)
    return status if move.to is None else move.to


@dataclass(frozen=True, slots=True)
class NewTicket:
    customer_id: int
    queue: str
    tier: Tier
    channel: Channel
    sla_policy: str
    priority: int
    urgency: Urgency = Urgency.NORMAL
    conversation_id: str | None = None
    reason: str | None = None
    intent: str | None = None
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    customer_id: int
    queue: str
    status: TicketStatus
    priority: int
    tier: Tier
    urgency: Urgency
    channel: Channel
    conversation_id: str | None
    reason: str | None
    intent: str | None
    confidence: float | None
    assigned_agent_id: int | None
    sla_policy: str
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    rating: int | None
    last_seq: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True, slots=True)
class Step:
    """One event to append, with the ticket columns it sets besides the status.

    `expected` narrows the statuses the state machine allows (a pull takes only a queued ticket,
    accepting an offer only an offered one).
    """

    kind: EventKind
    data: Mapping[str, Any] = field(default_factory=dict)
    changes: Mapping[str, Any] = field(default_factory=dict)
    expected: frozenset[TicketStatus] | None = None

    def allowed(self) -> frozenset[TicketStatus]:
        move = MOVES[self.kind]
        return move.allowed_from if self.expected is None else move.allowed_from & self.expected
