"""The live dispatch layer in this process's memory: the default with no Redis configured.

No method awaits anything between reading and writing its state, so each one runs whole on the
event loop: that is what makes them atomic here (one process only; use Redis for several).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from routing.dispatch import (
    AgentSeat,
    AgentState,
    Claim,
    LiveSnapshot,
    LiveState,
    NoClaim,
    Offer,
    OfferAnswer,
    QueueEntry,
    Standing,
)
from routing.events import Presence

EMA_WEIGHT = 0.2  # weight of the newest handle time in a queue's running average


@dataclass
class _Ticket:
    queue: str
    rank: float
    state: LiveState = LiveState.QUEUED
    agent: int | None = None
    expires_at: datetime | None = None


@dataclass
class _Agent:
    capacity: int
    queues: tuple[str, ...]
    presence: Presence = Presence.OFFLINE
    until: datetime | None = None
    idle_since: datetime | None = None  # set while in the line of available agents

    def available(self, now: datetime) -> bool:
        return self.presence is Presence.AVAILABLE and self.until is not None and self.until > now


class MemoryDispatcher:
    def __init__(self) -> None:
        self._lines: dict[str, list[tuple[float, int]]] = {}
        self._tickets: dict[int, _Ticket] = {}
        self._agents: dict[int, _Agent] = {}
        self._seats: dict[int, set[int]] = {}  # agent -> tickets held or offered (their load)
        self._declined: dict[int, set[int]] = {}
        self._aht: dict[str, float] = {}
        self._built = False
        self._rebuilding = False

    # -- agents ------------------------------------------------------------------------------------

    async def register_agent(self, seat: AgentSeat) -> None:
        agent = self._agents.get(seat.agent_id)
        if agent is None:
            self._agents[seat.agent_id] = _Agent(seat.capacity, tuple(seat.queues))
        else:
            agent.capacity, agent.queues = seat.capacity, tuple(seat.queues)

    async def heartbeat(
        self, agent_id: int, presence: Presence, *, now: datetime, ttl_seconds: float
    ) -> bool:
        agent = self._agents.get(agent_id)
        if agent is None:
            return False
        was_available = agent.available(now)
        agent.presence = presence
        agent.until = now + timedelta(seconds=ttl_seconds)
        if presence is not Presence.AVAILABLE:
            agent.idle_since = None
        elif not was_available or agent.idle_since is None:
            agent.idle_since = now
        return True

    async def agents(self, now: datetime) -> list[AgentState]:
        return [
            AgentState(
                agent_id,
                agent.capacity,
                agent.queues,
                agent.presence
                if agent.until is not None and agent.until > now
                else Presence.OFFLINE,
                self._load(agent_id),
                agent.idle_since if agent.available(now) else None,
            )
            for agent_id, agent in sorted(self._agents.items())
        ]

    # -- the waiting line --------------------------------------------------------------------------

    async def enqueue(self, entry: QueueEntry) -> None:
        ticket = self._tickets.get(entry.ticket_id)
        if ticket is not None:
            self._unline(entry.ticket_id, ticket)
            self._unseat(entry.ticket_id, ticket)
        self._tickets[entry.ticket_id] = _Ticket(entry.queue, entry.rank)
        self._line(entry.ticket_id, entry.queue, entry.rank)

    async def claim_next(self, agent_id: int, *, now: datetime) -> Claim | NoClaim:
        agent = self._agents.get(agent_id)
        if agent is None:
            return NoClaim.UNKNOWN_AGENT
        if self._load(agent_id) >= agent.capacity:
            return NoClaim.AT_CAPACITY
        heads = [(line[0], queue) for queue in agent.queues if (line := self._lines.get(queue))]
        if not heads:
            return NoClaim.NO_TICKET
        (rank, ticket_id), queue = min(heads)
        ticket = self._tickets[ticket_id]
        self._unline(ticket_id, ticket)
        self._seat(ticket_id, ticket, agent_id, LiveState.HELD)
        self._given_work(agent, now)
        return Claim(ticket_id, queue, rank)

    async def settle(
        self,
        entry: QueueEntry,
        agent_id: int | None,
        *,
        stray: int | None,
        offer_expires_at: datetime | None = None,
    ) -> None:
        if stray is not None and stray != agent_id:
            self._seats.get(stray, set()).discard(entry.ticket_id)
        if agent_id is None:
            await self.enqueue(entry)
            return
        ticket = self._tickets.get(entry.ticket_id)
        if ticket is not None:
            self._unline(entry.ticket_id, ticket)
            self._unseat(entry.ticket_id, ticket)
        ticket = self._tickets[entry.ticket_id] = _Ticket(entry.queue, entry.rank)
        if offer_expires_at is None:
            self._seat(entry.ticket_id, ticket, agent_id, LiveState.HELD)
        else:
            self._seat(entry.ticket_id, ticket, agent_id, LiveState.OFFERED)
            ticket.expires_at = offer_expires_at

    async def drop(
        self, ticket_id: int, *, holder: int | None = None, handle_seconds: float | None = None
    ) -> None:
        ticket = self._tickets.pop(ticket_id, None)
        if ticket is not None:
            self._unline(ticket_id, ticket)
            self._unseat(ticket_id, ticket)
            if handle_seconds is not None:
                old = self._aht.get(ticket.queue)
                self._aht[ticket.queue] = (
                    handle_seconds if old is None else old + EMA_WEIGHT * (handle_seconds - old)
                )
        if holder is not None:
            self._seats.get(holder, set()).discard(ticket_id)
        self._declined.pop(ticket_id, None)

    async def standing(self, ticket_id: int, now: datetime) -> Standing | None:
        ticket = self._tickets.get(ticket_id)
        if ticket is None:
            return None
        line = self._lines.get(ticket.queue, [])
        position = 0
        if ticket.state is LiveState.QUEUED:
            position = bisect.bisect_left(line, (ticket.rank, ticket_id)) + 1
        serving = [
            (agent_id, agent)
            for agent_id, agent in self._agents.items()
            if agent.available(now) and ticket.queue in agent.queues
        ]
        free = sum(1 for agent_id, agent in serving if self._load(agent_id) < agent.capacity)
        return Standing(
            ticket_id,
            ticket.queue,
            ticket.state,
            position,
            len(line),
            free,
            sum(agent.capacity for _id, agent in serving),
            self._aht.get(ticket.queue),
        )

    async def queue_lengths(self, queues: Sequence[str]) -> dict[str, int]:
        return {queue: len(self._lines.get(queue, ())) for queue in queues}

    async def heads(self, queue: str, limit: int) -> list[int]:
        return [ticket_id for _rank, ticket_id in self._lines.get(queue, [])[:limit]]

    # -- offers ------------------------------------------------------------------------------------

    async def offer(self, ticket_id: int, *, now: datetime, expires_at: datetime) -> Offer | None:
        ticket = self._tickets.get(ticket_id)
        if ticket is None or ticket.state is not LiveState.QUEUED:
            return None
        declined = self._declined.get(ticket_id, set())
        candidates = sorted(
            (agent.idle_since, agent_id)
            for agent_id, agent in self._agents.items()
            if agent.idle_since is not None
            and agent.available(now)
            and ticket.queue in agent.queues
            and self._load(agent_id) < agent.capacity
            and agent_id not in declined
        )
        if not candidates:
            return None
        agent_id = candidates[0][1]
        self._unline(ticket_id, ticket)
        self._seat(ticket_id, ticket, agent_id, LiveState.OFFERED)
        ticket.expires_at = expires_at
        self._given_work(self._agents[agent_id], now)
        return Offer(ticket_id, agent_id, expires_at)

    async def accept(self, ticket_id: int, agent_id: int, *, now: datetime) -> OfferAnswer:
        ticket = self._tickets.get(ticket_id)
        if ticket is None or ticket.state is not LiveState.OFFERED or ticket.agent != agent_id:
            return OfferAnswer.NOT_OFFERED
        assert ticket.expires_at is not None
        if ticket.expires_at < now:
            return OfferAnswer.EXPIRED
        ticket.state, ticket.expires_at = LiveState.HELD, None
        return OfferAnswer.OK

    async def decline(self, ticket_id: int, agent_id: int) -> bool:
        ticket = self._tickets.get(ticket_id)
        if ticket is None or ticket.state is not LiveState.OFFERED or ticket.agent != agent_id:
            return False
        self._unseat(ticket_id, ticket)
        self._declined.setdefault(ticket_id, set()).add(agent_id)
        self._line(ticket_id, ticket.queue, ticket.rank)
        return True

    async def expired_offers(self, now: datetime, limit: int = 100) -> list[Offer]:
        due = sorted(
            (ticket.expires_at, ticket_id, ticket.agent)
            for ticket_id, ticket in self._tickets.items()
            if ticket.state is LiveState.OFFERED
            and ticket.expires_at is not None
            and ticket.expires_at <= now
            and ticket.agent is not None
        )[:limit]
        offers = [Offer(ticket_id, agent, expires) for expires, ticket_id, agent in due]
        for offer in offers:
            await self.decline(offer.ticket_id, offer.agent_id)
        return offers

    # -- rebuild -----------------------------------------------------------------------------------

    async def is_built(self) -> bool:
        return self._built

    async def try_lock_rebuild(self, seconds: float) -> bool:
        if self._rebuilding:
            return False
        self._rebuilding = True
        return True

    async def unlock_rebuild(self) -> None:
        self._rebuilding = False

    async def reset(self) -> None:
        self._lines.clear()
        self._tickets.clear()
        self._agents.clear()
        self._seats.clear()
        self._declined.clear()
        self._aht.clear()
        self._built = False

    async def restore(self, snapshot: LiveSnapshot) -> None:
        for seat in snapshot.agents:
            await self.register_agent(seat)
        for entry in snapshot.queued:
            await self.enqueue(entry)
        for entry, agent_id in snapshot.held:
            await self.settle(entry, agent_id, stray=None)
        for entry, offer in snapshot.offered:
            await self.settle(entry, offer.agent_id, stray=None, offer_expires_at=offer.expires_at)
        for ticket_id, agents in snapshot.declined.items():
            self._declined.setdefault(ticket_id, set()).update(agents)
        for queue, seconds in snapshot.handle_seconds.items():
            if seconds:
                self._aht[queue] = sum(seconds) / len(seconds)

    async def mark_built(self, at: datetime) -> None:
        self._built = True

    # -- helpers -----------------------------------------------------------------------------------

    def _line(self, ticket_id: int, queue: str, rank: float) -> None:
        ticket = self._tickets[ticket_id]
        ticket.queue, ticket.rank, ticket.state, ticket.agent = queue, rank, LiveState.QUEUED, None
        ticket.expires_at = None
        bisect.insort(self._lines.setdefault(queue, []), (rank, ticket_id))

    def _unline(self, ticket_id: int, ticket: _Ticket) -> None:
        line = self._lines.get(ticket.queue, [])
        i = bisect.bisect_left(line, (ticket.rank, ticket_id))
        if i < len(line) and line[i] == (ticket.rank, ticket_id):
            del line[i]

    def _seat(self, ticket_id: int, ticket: _Ticket, agent_id: int, state: LiveState) -> None:
        ticket.state, ticket.agent = state, agent_id
        self._seats.setdefault(agent_id, set()).add(ticket_id)

    def _unseat(self, ticket_id: int, ticket: _Ticket) -> None:
        if ticket.agent is not None:
            self._seats.get(ticket.agent, set()).discard(ticket_id)
        ticket.agent = None

    def _load(self, agent_id: int) -> int:
        return len(self._seats.get(agent_id, ()))

    def _given_work(self, agent: _Agent, now: datetime) -> None:
        """An agent who was just given a ticket goes to the back of the idle line."""
        if agent.idle_since is not None:
            agent.idle_since = now
