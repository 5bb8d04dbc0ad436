"""Giving tickets to agents: pull ("next ticket"), push (offers with a deadline), presence.

The live layer decides atomically (one Lua script, or one uninterrupted method in memory): which
ticket, which agent, and it reserves the agent's seat at once. The database then records the
decision, and refuses it if the record disagrees (the ticket was taken, abandoned, or the agent
is full); the live layer is then put back in step with the record (`RoutingParts.resync`).
Either way a ticket never has two owners and an agent never holds more than their capacity.
"""

from __future__ import annotations

from routing.dispatch import AgentSeat, Claim, NoClaim, Offer, OfferAnswer, QueueEntry
from routing.errors import AgentAtCapacity, InvalidTransition, TicketNotFound
from routing.events import EventKind, Presence, TicketStatus
from routing.notify import CustomerNotice, NoticeKind
from routing.parts import RoutingParts
from routing.ticket_changes import Change
from routing.tickets import Step, Ticket

K = EventKind
QUEUED_ONLY = frozenset({TicketStatus.QUEUED})
OFFERED_ONLY = frozenset({TicketStatus.OFFERED})


def agent_actor(agent_id: int) -> str:
    return f"agent:{agent_id}"


class Assigner:
    def __init__(self, parts: RoutingParts) -> None:
        self.parts = parts

    # -- presence ----------------------------------------------------------------------------------

    async def sign_in(self, agent_id: int) -> AgentSeat:
        """(Re)register the agent's seat in the live layer from the record."""
        seat = await self.parts.store.seat(agent_id)
        live = AgentSeat(agent_id, seat.capacity, self.parts.queues.served_by(seat.skills))
        await self.parts.dispatcher.register_agent(live)
        return live

    async def heartbeat(self, agent_id: int, presence: Presence = Presence.AVAILABLE) -> None:
        """The desk's regular "still here": presence lapses to offline without it."""
        ttl = self.parts.options.presence_ttl.total_seconds()
        now = self.parts.clock()
        dispatcher = self.parts.dispatcher
        if not await dispatcher.heartbeat(agent_id, presence, now=now, ttl_seconds=ttl):
            await self.sign_in(agent_id)
            await dispatcher.heartbeat(agent_id, presence, now=now, ttl_seconds=ttl)

    # -- pull --------------------------------------------------------------------------------------

    async def next_ticket(self, agent_id: int) -> Ticket | None:
        """The best ticket the agent may take, now theirs; None when there is none or they are
        full."""
        registered = False
        for _attempt in range(self.parts.options.claim_attempts):
            now = self.parts.clock()
            claim = await self.parts.dispatcher.claim_next(agent_id, now=now)
            if claim is NoClaim.UNKNOWN_AGENT and not registered:
                await self.sign_in(agent_id)
                registered = True
                continue
            if not isinstance(claim, Claim):
                return None
            step = Step(K.ASSIGNED, {"agent_id": agent_id, "via": "pull"}, expected=QUEUED_ONLY)
            try:
                change = await self.parts.store.apply(
                    claim.ticket_id, [step], at=now, actor=agent_actor(agent_id), seat=agent_id
                )
            except AgentAtCapacity:
                await self.parts.resync(claim.ticket_id, stray=agent_id)
                return None
            except (InvalidTransition, TicketNotFound):
                await self.parts.resync(claim.ticket_id, stray=agent_id)
                continue
            except Exception:  # the record could not be written: give the ticket back, re-raise
                entry = QueueEntry(claim.ticket_id, claim.queue, claim.rank)
                await self.parts.after_commit(
                    self.parts.dispatcher.settle(entry, None, stray=agent_id)
                )
                raise
            await self._assigned(change, agent_id)
            return change.ticket
        return None

    # -- push --------------------------------------------------------------------------------------

    async def offer_next(self, ticket_id: int) -> Offer | None:
        """Offer a waiting ticket to the longest-idle fitting agent; None when nobody fits."""
        now = self.parts.clock()
        expires = now + self.parts.options.offer_timeout
        offer = await self.parts.dispatcher.offer(ticket_id, now=now, expires_at=expires)
        if offer is None:
            return None
        data = {"agent_id": offer.agent_id, "expires_at": expires.isoformat()}
        try:
            change = await self.parts.store.apply(
                ticket_id, [Step(K.OFFERED, data)], at=now, actor="system"
            )
        except (InvalidTransition, TicketNotFound):
            await self.parts.resync(ticket_id, stray=offer.agent_id)
            return None
        await self.parts.announce(change, agent_id=offer.agent_id)
        return offer

    async def accept(self, ticket_id: int, agent_id: int) -> Ticket:
        now = self.parts.clock()
        answer = await self.parts.dispatcher.accept(ticket_id, agent_id, now=now)
        if answer is OfferAnswer.EXPIRED:
            raise InvalidTransition(ticket_id, "the offer has expired", status="offered")
        if answer is not OfferAnswer.OK:
            raise InvalidTransition(ticket_id, f"the ticket is not on offer to agent {agent_id}")
        step = Step(K.ASSIGNED, {"agent_id": agent_id, "via": "push"}, expected=OFFERED_ONLY)
        try:
            change = await self.parts.store.apply(
                ticket_id, [step], at=now, actor=agent_actor(agent_id), seat=agent_id
            )
        except (AgentAtCapacity, InvalidTransition, TicketNotFound):
            await self.parts.resync(ticket_id, stray=agent_id)
            raise
        await self._assigned(change, agent_id)
        return change.ticket

    async def decline(self, ticket_id: int, agent_id: int) -> Offer | None:
        """Record the decline and offer the ticket to the next agent (returned, if any)."""
        if not await self.parts.dispatcher.decline(ticket_id, agent_id):
            raise InvalidTransition(ticket_id, f"the ticket is not on offer to agent {agent_id}")
        return await self._taken_back(ticket_id, agent_id, K.OFFER_DECLINED, agent_actor(agent_id))

    async def expire_offers(self) -> int:
        """Take back offers past their deadline, record the timeouts, offer to the next."""
        offers = await self.parts.dispatcher.expired_offers(self.parts.clock())
        for offer in offers:
            await self._taken_back(offer.ticket_id, offer.agent_id, K.OFFER_TIMED_OUT, "system")
        return len(offers)

    async def push_waiting(self, per_queue: int = 3) -> int:
        """Offer the first tickets waiting in each queue to free agents (after a busy spell)."""
        made = 0
        for queue in self.parts.queues.keys:
            for ticket_id in await self.parts.dispatcher.heads(queue, per_queue):
                made += await self.offer_next(ticket_id) is not None
        return made

    # -- helpers -----------------------------------------------------------------------------------

    async def _taken_back(
        self, ticket_id: int, agent_id: int, kind: EventKind, actor: str
    ) -> Offer | None:
        now = self.parts.clock()
        try:
            change = await self.parts.store.apply(
                ticket_id, [Step(kind, {"agent_id": agent_id})], at=now, actor=actor
            )
        except (InvalidTransition, TicketNotFound):
            await self.parts.resync(ticket_id, stray=None)
            return None
        await self.parts.announce(change, agent_id=agent_id)
        if not self.parts.options.push:
            return None
        return await self.offer_next(ticket_id)

    async def _assigned(self, change: Change, agent_id: int) -> None:
        ticket = change.ticket
        await self.parts.announce(change, agent_id=agent_id)
        await self.parts.notify(
            CustomerNotice(
                NoticeKind.AGENT_JOINED,
                ticket.id,
                ticket.customer_id,
                ticket.channel,
                ticket.conversation_id,
                agent_id=agent_id,
            )
        )
