"""Messages to a customer that nobody just asked for leave through this port.

Routing says *what* happened (a structured notice); the bot, which owns the channels, the
language and the wording, turns it into a message (bot/app.py wires the port). Routing never
imports a channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

from crm_store.enums import Channel
from routing.dispatch import LiveState, Standing
from routing.events import TicketStatus
from routing.tickets import Ticket


class NoticeKind(StrEnum):
    QUEUED = "queued"  # the case is waiting: position and estimated wait
    AGENT_JOINED = "agent_joined"  # an agent took the case
    AGENT_MESSAGE = "agent_message"  # the agent wrote to the customer: `text`
    TRANSFERRED = "transferred"  # the case moved to another queue or agent
    RESOLVED = "resolved"  # the case is closed: a good moment to ask for a rating


@dataclass(frozen=True, slots=True)
class QueuePosition:
    """Where a ticket stands, for the customer (the bot may ask at any time)."""

    ticket_id: int
    status: TicketStatus
    queue: str
    position: int | None  # 1 is next; None when not waiting in a queue
    waiting: int  # tickets waiting in the queue
    free_agents: int  # available agents for the queue with a free seat now
    avg_handle_seconds: float  # recent average (or the configured default)
    estimated_wait: timedelta | None  # None when not waiting, or nobody serves the queue now


def estimate(ticket: Ticket, standing: Standing | None, default_aht: timedelta) -> QueuePosition:
    """Position and wait: the tickets ahead that free agents cannot take at once, served at
    (average handle time / seats of the agents present for the queue) each."""
    aht = default_aht.total_seconds()
    if standing is None:  # not waiting (or the live layer is being rebuilt)
        return QueuePosition(ticket.id, ticket.status, ticket.queue, None, 0, 0, aht, None)
    aht = standing.avg_handle_seconds or aht
    wait: timedelta | None
    if standing.state is not LiveState.QUEUED:  # on offer: an agent is deciding now
        position, wait = None, timedelta(0)
    else:
        position = standing.position
        ahead = max(0, standing.position - standing.free_agents)
        wait = None if standing.seats == 0 else timedelta(seconds=ahead * aht / standing.seats)
    return QueuePosition(
        ticket.id,
        ticket.status,
        standing.queue,
        position,
        standing.waiting,
        standing.free_agents,
        aht,
        wait,
    )


@dataclass(frozen=True, slots=True)
class CustomerNotice:
    kind: NoticeKind
    ticket_id: int
    customer_id: int
    channel: Channel
    conversation_id: str | None
    position: QueuePosition | None = None
    agent_id: int | None = None
    text: str | None = None


class CustomerNotifier(Protocol):
    async def notify(self, notice: CustomerNotice) -> None: ...


class NullNotifier:
    """Drops every notice (the default when nothing is wired)."""

    async def notify(self, notice: CustomerNotice) -> None:
        return None
