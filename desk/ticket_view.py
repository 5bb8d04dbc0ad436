"""Everything the console shows about one ticket, as JSON: the ticket, the single customer view,
the whole transcript (the bot's part included), and the live SLA countdowns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from crm_store.enums import Direction
from crm_store.records import AppointmentRecord, CustomerView, InteractionRecord
from desk import sla_view
from desk.parts import DeskParts
from routing.events import EventKind, TicketEvent
from routing.queues import QueueBook
from routing.tickets import Ticket

K = EventKind
ECHO_WINDOW = timedelta(minutes=1)  # an agent's reply is also in the contact history
SHOWN_EVENTS = {
    K.CREATED: "handed to a person",
    K.OFFERED: "offered to an agent",
    K.OFFER_DECLINED: "offer declined",
    K.OFFER_TIMED_OUT: "offer timed out",
    K.ASSIGNED: "taken by an agent",
    K.TRANSFERRED: "transferred",
    K.OVERFLOWED: "moved to the overflow queue",
    K.WAITING_ON_CUSTOMER: "waiting on the customer",
    K.RESUMED: "resumed",
    K.PRIORITY_CHANGED: "priority changed",
    K.SLA_WARNING: "SLA warning",
    K.SLA_BREACHED: "SLA breached",
    K.RESOLVED: "resolved",
    K.ABANDONED: "abandoned by the customer",
    K.RATED: "rated",
}


def ticket_json(ticket: Ticket, book: QueueBook) -> dict[str, Any]:
    data = asdict(ticket)
    data["queue_name"] = book[ticket.queue].name if ticket.queue in book else ticket.queue
    for key in ("status", "tier", "urgency", "channel"):
        data[key] = str(data[key])
    for key in ("created_at", "updated_at", "first_response_at", "resolved_at"):
        data[key] = None if data[key] is None else data[key].isoformat()
    return data


def appointment_json(item: AppointmentRecord) -> dict[str, Any]:
    return {
        "id": item.id,
        "service": item.service_name,
        "resource": item.resource_name,
        "start_at": item.start_at.isoformat(),
        "end_at": item.end_at.isoformat(),
        "status": item.status.value,
    }


def customer_json(view: CustomerView) -> dict[str, Any]:
    c = view.customer
    return {
        "id": c.id,
        "full_name": c.full_name,
        "language": c.language,
        "timezone": c.timezone,
        "tier": c.tier.value,
        "lifetime_value": str(c.lifetime_value),
        "heard_about_us": c.heard_about_us,
        "consent_marketing": c.consent_marketing,
        "notes": c.notes,
        "customer_since": c.created_at.isoformat(),
        "erased": c.erased,
        "identities": [
            {
                "channel": i.channel.value,
                "external_id": i.external_id,
                "verified": i.verified,
                "verified_at": None if i.verified_at is None else i.verified_at.isoformat(),
                "unreachable": i.unreachable,
            }
            for i in view.identities
        ],
        "contact_history": [
            {
                "at": i.occurred_at.isoformat(),
                "channel": i.channel.value,
                "direction": i.direction.value,
                "text": i.text,
                "intent": i.intent,
            }
            for i in view.recent_interactions
        ],
        "appointments": [appointment_json(a) for a in view.upcoming_appointments],
    }


def _agent_texts(events: Sequence[TicketEvent]) -> list[tuple[datetime, str]]:
    return [(e.at, str(e.data.get("text") or "")) for e in events if e.kind == K.AGENT_MESSAGE]


def _is_echo(item: InteractionRecord, sent: list[tuple[datetime, str]]) -> bool:
    """The contact history's copy of an agent's reply (recorded as an outbound message)."""
    text = item.text or ""
    return any(
        body and body in text and abs(item.occurred_at - at) <= ECHO_WINDOW for at, body in sent
    )


def _event_entry(event: TicketEvent, names: Mapping[int, str]) -> dict[str, Any] | None:
    at = event.at.isoformat()
    agent_id = event.data.get("agent_id")
    agent = names.get(agent_id) if isinstance(agent_id, int) else None
    if event.kind == K.AGENT_MESSAGE:
        return {"at": at, "author": "agent", "agent": agent, "text": event.data.get("text")}
    if event.kind == K.NOTE:
        who = agent or ("bot" if event.actor == "bot" else event.actor)
        return {"at": at, "author": "note", "agent": who, "text": event.data.get("text")}
    label = SHOWN_EVENTS.get(event.kind)
    if label is None:
        return None
    detail = {k: v for k, v in event.data.items() if k not in ("text", "comment", "reason")}
    return {
        "at": at,
        "author": "event",
        "kind": event.kind.value,
        "text": label,
        "agent": agent,
        "detail": detail,
    }


def transcript(
    events: Sequence[TicketEvent],
    conversation: Sequence[InteractionRecord],
    names: Mapping[int, str],
) -> list[dict[str, Any]]:
    """The conversation (customer and bot, from the contact history) merged in time with the
    ticket's log (agent replies, internal notes, what happened). Without a conversation the
    customer's messages come from the ticket's log."""
    sent = _agent_texts(events)
    entries: list[tuple[datetime, int, dict[str, Any]]] = []
    for n, item in enumerate(conversation):
        inbound = item.direction == Direction.INBOUND
        if not inbound and _is_echo(item, sent):
            continue
        entry = {
            "at": item.occurred_at.isoformat(),
            "author": "customer" if inbound else "bot",
            "text": item.text,
            "channel": item.channel.value,
            "intent": item.intent,
        }
        entries.append((item.occurred_at, n, entry))
    offset = len(entries)
    for event in events:
        if event.kind == K.CUSTOMER_MESSAGE:
            if conversation:
                continue
            entry = {
                "at": event.at.isoformat(),
                "author": "customer",
                "text": event.data.get("text"),
            }
        else:
            found = _event_entry(event, names)
            if found is None:
                continue
            entry = found
        entries.append((event.at, offset + event.seq, entry))
    entries.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in entries]


async def agent_names(parts: DeskParts) -> dict[int, str]:
    return {agent.id: agent.display_name for agent in await parts.store.agents.all()}


async def ticket_detail(
    parts: DeskParts, ticket: Ticket, *, offered_to: int | None, offer_expires: datetime | None
) -> dict[str, Any]:
    now = parts.clock()
    events = await parts.routing.events(ticket.id)
    view = await parts.store.views.view(ticket.customer_id)
    conversation = (
        await parts.history.conversation(ticket.conversation_id) if ticket.conversation_id else []
    )
    names = await agent_names(parts)
    past = await parts.history.customer_tickets(ticket.customer_id)
    transactions = await parts.history.transactions(ticket.customer_id)
    summary = view.transactions
    return {
        "ticket": ticket_json(ticket, parts.queues),
        "assigned_agent": names.get(ticket.assigned_agent_id or 0),
        "offer": None
        if offered_to is None
        else {
            "agent_id": offered_to,
            "expires_at": offer_expires.isoformat() if offer_expires else None,
        },
        "customer": customer_json(view),
        "transactions": {
            "count": summary.count,
            "total": str(summary.total),
            "currency": summary.currency,
            "first_at": None if summary.first_at is None else summary.first_at.isoformat(),
            "last_at": None if summary.last_at is None else summary.last_at.isoformat(),
            "recent": [
                {
                    "at": t.occurred_at.isoformat(),
                    "item": t.item,
                    "amount": str(t.amount),
                    "currency": t.currency,
                }
                for t in transactions
            ],
        },
        "past_tickets": [
            {
                "id": t.id,
                "created_at": t.created_at.isoformat(),
                "queue": t.queue,
                "status": t.status.value,
                "reason": t.reason,
                "rating": t.rating,
                "channel": t.channel.value,
            }
            for t in past
            if t.id != ticket.id
        ],
        "transcript": transcript(events, conversation, names),
        "sla": [target.to_json() for target in sla_view.targets(ticket, events, parts.config, now)],
        "now": now.isoformat(),
    }
