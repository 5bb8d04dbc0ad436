"""The live dispatch layer: the port, and the values that cross it.

The live layer holds what must be fast and atomic across processes: the waiting line of every
queue (ordered by rank, see routing.priority), each agent's seats (capacity, the tickets held or
offered to them), presence, offers and their deadlines, and a recent average handle time per
queue. It is never the record: the database is, and `restore` rebuilds the live layer from it.

Every time is the caller's clock (`now`), so deadlines behave the same in memory and in Redis and
tests can move time. Two adapters: routing.dispatch_memory (one process) and
routing.dispatch_redis (any number of processes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from routing.events import Presence


class LiveState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    HELD = "held"


class NoClaim(StrEnum):
    """Why a pull gave nothing."""

    NO_TICKET = "no_ticket"  # nothing waiting in the agent's queues
    AT_CAPACITY = "at_capacity"
    UNKNOWN_AGENT = "unknown_agent"  # not registered in the live layer (e.g. after a flush)


class OfferAnswer(StrEnum):
    OK = "ok"
    EXPIRED = "expired"
    NOT_OFFERED = "not_offered"  # not offered to this agent (any more)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    ticket_id: int
    queue: str
    rank: float


@dataclass(frozen=True, slots=True)
class Claim:
    ticket_id: int
    queue: str
    rank: float


@dataclass(frozen=True, slots=True)
class Offer:
    ticket_id: int
    agent_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a ticket is in the live layer, and what the wait estimate needs."""

    ticket_id: int
    queue: str
    state: LiveState
    position: int  # 1 is next in its queue; 0 when not waiting (offered or held)
    waiting: int  # tickets in the queue
    free_agents: int  # available agents for the queue with a free seat
    seats: int  # the capacity of all available agents for the queue
    avg_handle_seconds: float | None  # recent average, None before any ticket was resolved


@dataclass(frozen=True, slots=True)
class AgentState:
    agent_id: int
    capacity: int
    queues: tuple[str, ...]
    presence: Presence  # OFFLINE once the last heartbeat's time to live has passed
    load: int  # tickets held or offered
    idle_since: datetime | None  # None unless available


@dataclass(frozen=True, slots=True)
class AgentSeat:
    agent_id: int
    capacity: int
    queues: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """Everything `restore` needs, read from the database."""

    agents: Sequence[AgentSeat] = ()
    queued: Sequence[QueueEntry] = ()
    held: Sequence[tuple[QueueEntry, int]] = ()  # (ticket, agent)
    offered: Sequence[tuple[QueueEntry, Offer]] = ()
    declined: Mapping[int, frozenset[int]] = field(default_factory=dict)
    handle_seconds: Mapping[str, Sequence[float]] = field(default_factory=dict)


class Dispatcher(Protocol):
    """The live layer. Every method is atomic on its own, across all processes using it."""

    # -- agents ------------------------------------------------------------------------------------
    async def register_agent(self, seat: AgentSeat) -> None:
        """Create or update an agent's seat (capacity, eligible queues); keeps what they hold."""
        ...

    async def heartbeat(
        self, agent_id: int, presence: Presence, *, now: datetime, ttl_seconds: float
    ) -> bool:
        """Set presence until now + ttl. False when the agent is not registered."""
        ...

    async def agents(self, now: datetime) -> list[AgentState]: ...

    # -- the waiting line --------------------------------------------------------------------------
    async def enqueue(self, entry: QueueEntry) -> None:
        """Put a ticket in its queue's waiting line (idempotent; moves it if the queue changed)."""
        ...

    async def claim_next(self, agent_id: int, *, now: datetime) -> Claim | NoClaim:
        """Pull: take the best ticket waiting in the agent's queues and one of their seats."""
        ...

    async def settle(
        self,
        entry: QueueEntry,
        agent_id: int | None,
        *,
        stray: int | None,
        offer_expires_at: datetime | None = None,
    ) -> None:
        """Put a ticket where the record says it is, taking it out of wherever it was.

        agent_id None: the ticket waits in entry.queue; otherwise that agent holds it (or, with
        offer_expires_at, has it on offer until then). stray: an agent whose seat the ticket
        must no longer take (e.g. a claimer the database refused).
        """
        ...

    async def drop(
        self, ticket_id: int, *, holder: int | None = None, handle_seconds: float | None = None
    ) -> None:
        """The ticket left routing (resolved, abandoned): forget it, free its seat, and count
        its handle time into the queue's average."""
        ...

    async def standing(self, ticket_id: int, now: datetime) -> Standing | None: ...

    async def queue_lengths(self, queues: Sequence[str]) -> dict[str, int]: ...

    async def heads(self, queue: str, limit: int) -> list[int]:
        """The first `limit` tickets waiting in the queue, best first."""
        ...

    # -- offers (push) -----------------------------------------------------------------------------
    async def offer(self, ticket_id: int, *, now: datetime, expires_at: datetime) -> Offer | None:
        """Offer a waiting ticket to the longest-idle available agent for its queue with a free
        seat who has not declined it; the offer takes the seat. None when nobody fits."""
        ...

    async def accept(self, ticket_id: int, agent_id: int, *, now: datetime) -> OfferAnswer: ...

    async def decline(self, ticket_id: int, agent_id: int) -> bool:
        """Put the ticket back in line, free the seat, remember the agent declined it."""
        ...

    async def expired_offers(self, now: datetime, limit: int = 100) -> list[Offer]:
        """Take back offers past their deadline (as `decline` does), each exactly once."""
        ...

    # -- rebuild -----------------------------------------------------------------------------------
    async def is_built(self) -> bool:
        """False when the live layer was lost (flushed, never built) and needs `restore`."""
        ...

    async def try_lock_rebuild(self, seconds: float) -> bool: ...

    async def unlock_rebuild(self) -> None: ...

    async def reset(self) -> None:
        """Forget all live state (the first half of a rebuild)."""
        ...

    async def restore(self, snapshot: LiveSnapshot) -> None:
        """Add the snapshot to the live layer (the second half of a rebuild; also one ticket's
        resync). Additive: it never removes what is already there."""
        ...

    async def mark_built(self, at: datetime) -> None: ...
