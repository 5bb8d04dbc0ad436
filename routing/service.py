"""RoutingService: the one front the dialogue (bot) and the desk call.

Every change is first written to the record (one transaction, refused with a reason when the
ticket's state does not allow it), then mirrored in the live layer, then announced to the desks
and, where the customer should hear of it, sent through the outbound port.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from crm_store.clock import Clock, system_clock
from crm_store.enums import Channel
from crm_store.tiers import Tier
from routing.assignment import Assigner, agent_actor
from routing.background import Rounds
from routing.desk_bus import DeskBus, MemoryDeskBus
from routing.dispatch import AgentState, Dispatcher, Offer
from routing.errors import DispatchUnavailable, InvalidTransition
from routing.events import EventKind, Presence, TicketEvent, TicketStatus, Urgency
from routing.notify import (
    CustomerNotice,
    CustomerNotifier,
    NoticeKind,
    NullNotifier,
    QueuePosition,
    estimate,
)
from routing.parts import RoutingOptions, RoutingParts
from routing.priority import FirstResponseDue, PriorityPolicy, no_deadline
from routing.queues import QueueBook, QueueSpec
from routing.rebuild import Rebuilder, RebuildReport
from routing.ticket_changes import Change
from routing.ticket_store import TicketStore
from routing.tickets import HELD, OPEN, WAITING_FOR_AGENT, NewTicket, Step, Ticket

K = EventKind
log = logging.getLogger(__name__)
SLA_KINDS = frozenset({K.SLA_WARNING, K.SLA_BREACHED})


@dataclass(frozen=True, slots=True)
class TickReport:
    rebuilt: RebuildReport | None
    offers_expired: int
    offers_made: int


class RoutingService:
    def __init__(
        self,
        store: TicketStore,
        dispatcher: Dispatcher,
        queues: Sequence[QueueSpec] | QueueBook,
        *,
        bus: DeskBus | None = None,
        notifier: CustomerNotifier | None = None,
        policy: PriorityPolicy | None = None,
        first_response_due: FirstResponseDue = no_deadline,
        options: RoutingOptions | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.parts = RoutingParts(
            store=store,
            dispatcher=dispatcher,
            queues=queues if isinstance(queues, QueueBook) else QueueBook(queues),
            bus=bus or MemoryDeskBus(),
            notifier=notifier or NullNotifier(),
            policy=policy or PriorityPolicy(),
            first_response_due=first_response_due,
            options=options or RoutingOptions(),
            clock=clock,
        )
        self.assigner = Assigner(self.parts)
        self.rebuilder = Rebuilder(self.parts)

    @property
    def store(self) -> TicketStore:
        return self.parts.store

    @property
    def dispatcher(self) -> Dispatcher:
        return self.parts.dispatcher

    # -- the dialogue's side -----------------------------------------------------------------------

    async def open_ticket(
        self,
        *,
        customer_id: int,
        queue: str,
        tier: Tier,
        channel: Channel,
        urgency: Urgency = Urgency.NORMAL,
        conversation_id: str | None = None,
        reason: str | None = None,
        intent: str | None = None,
        confidence: float | None = None,
        actor: str = "bot",
    ) -> Ticket:
        """Queue a new ticket, offer it to an agent (push), tell the customer where it stands."""
        spec = self.parts.queues[queue]
        new = NewTicket(
            customer_id=customer_id,
            queue=spec.key,
            tier=tier,
            channel=channel,
            sla_policy=spec.sla_policy,
            priority=self.parts.policy.priority(tier, urgency),
            urgency=urgency,
            conversation_id=conversation_id,
            reason=reason,
            intent=intent,
            confidence=confidence,
        )
        data = {
            "queue": spec.key,
            "tier": tier.value,
            "urgency": urgency.value,
            "channel": channel.value,
            "customer_id": customer_id,
            "reason": reason,
            "intent": intent,
            "confidence": confidence,
        }
        change = await self.store.create(new, at=self.parts.clock(), actor=actor, data=data)
        ticket = change.ticket
        await self.parts.after_commit(self.dispatcher.enqueue(self.parts.entry(ticket)))
        await self.parts.announce(change)
        if self.parts.options.push and await self._offer_now(ticket.id) is not None:
            ticket = await self.store.get(ticket.id)
        await self._notify(NoticeKind.QUEUED, ticket, position=await self._position(ticket))
        return ticket

    async def _offer_now(self, ticket_id: int) -> Offer | None:
        """Push a ticket already in the record. With the live layer down it waits in the record:
        the rebuild queues it and a later tick offers it; the caller's work stands."""
        try:
            return await self.assigner.offer_next(ticket_id)
        except DispatchUnavailable as exc:
            self.parts.dirty = True
            log.warning("ticket %s not offered now (%s); the rebuild will queue it", ticket_id, exc)
            return None

    async def position(self, ticket_id: int) -> QueuePosition:
        """Where the ticket stands and the estimated wait (the bot may ask at any time)."""
        return await self._position(await self.store.get(ticket_id))

    async def _position(self, ticket: Ticket) -> QueuePosition:
        standing = None
        if ticket.status in WAITING_FOR_AGENT:
            try:
                standing = await self.dispatcher.standing(ticket.id, self.parts.clock())
            except DispatchUnavailable:  # the live layer is down: an estimate without it
                standing = None
        return estimate(ticket, standing, self.parts.options.default_handle_time)

    async def customer_message(
        self, ticket_id: int, text: str | None = None, *, message_id: str | None = None
    ) -> Ticket:
        """Record the customer's message; a ticket waiting on the customer resumes.

        With the channel's `message_id`, a message already recorded (a retry of a turn whose
        own commit failed after this) is not recorded again.
        """
        data: dict[str, str] = {"text": text} if text is not None else {}
        if message_id is not None:
            data["message_id"] = message_id  # the channels cut it to 128 characters
            if await self.store.has_customer_message(ticket_id, message_id):
                return await self.store.get(ticket_id)
        for _attempt in range(2):
            ticket = await self.store.get(ticket_id)
            steps = [Step(K.CUSTOMER_MESSAGE, data)]
            if ticket.status is TicketStatus.WAITING_ON_CUSTOMER:
                steps.append(Step(K.RESUMED))
            try:
                return (await self._apply(ticket_id, steps, actor="customer")).ticket
            except InvalidTransition:
                if ticket.status is not TicketStatus.WAITING_ON_CUSTOMER:
                    raise
        raise InvalidTransition(ticket_id, "the ticket kept changing; try again")

    async def abandon(self, ticket_id: int, reason: str = "customer_left") -> Ticket:
        """The customer cancelled or left before an agent took the ticket."""
        change = await self._apply(
            ticket_id, [Step(K.ABANDONED, {"reason": reason})], actor="customer"
        )
        await self.parts.after_commit(self.dispatcher.drop(ticket_id))
        return change.ticket

    async def rate(self, ticket_id: int, score: int, comment: str | None = None) -> Ticket:
        if not 1 <= score <= 5:
            raise InvalidTransition(ticket_id, f"a rating is 1 to 5, not {score}")
        step = Step(K.RATED, {"score": score, "comment": comment}, changes={"rating": score})
        return (await self._apply(ticket_id, [step], actor="customer")).ticket

    async def open_ticket_of(self, conversation_id: str) -> Ticket | None:
        """The conversation's open ticket, if any (the newest)."""
        found = await self.store.tickets(statuses=sorted(OPEN), conversation_id=conversation_id)
        return found[-1] if found else None

    # -- the agent's side --------------------------------------------------------------------------

    async def sign_in(self, agent_id: int) -> None:
        await self.assigner.sign_in(agent_id)
        await self.assigner.heartbeat(agent_id, Presence.AVAILABLE)

    async def heartbeat(self, agent_id: int, presence: Presence = Presence.AVAILABLE) -> None:
        await self.assigner.heartbeat(agent_id, presence)

    async def sign_out(self, agent_id: int) -> None:
        await self.assigner.heartbeat(agent_id, Presence.OFFLINE)

    async def next_ticket(self, agent_id: int) -> Ticket | None:
        return await self.assigner.next_ticket(agent_id)

    async def accept_offer(self, ticket_id: int, agent_id: int) -> Ticket:
        return await self.assigner.accept(ticket_id, agent_id)

    async def decline_offer(self, ticket_id: int, agent_id: int) -> Offer | None:
        """Decline; returns the offer to the next agent, if one was made."""
        return await self.assigner.decline(ticket_id, agent_id)

    async def agent_message(self, ticket_id: int, agent_id: int, text: str) -> Ticket:
        """Record the agent's reply and send it to the customer through the outbound port."""
        step = Step(K.AGENT_MESSAGE, {"agent_id": agent_id, "text": text})
        change = await self._apply(ticket_id, [step], actor=agent_actor(agent_id), holder=agent_id)
        await self._notify(NoticeKind.AGENT_MESSAGE, change.ticket, agent_id=agent_id, text=text)
        return change.ticket

    async def note(
        self, ticket_id: int, actor: str, text: str, *, agent_id: int | None = None
    ) -> Ticket:
        """An internal note (never sent to the customer)."""
        data: dict[str, Any] = (
            {"text": text} if agent_id is None else {"agent_id": agent_id, "text": text}
        )
        return (await self._apply(ticket_id, [Step(K.NOTE, data)], actor=actor)).ticket

    async def wait_on_customer(self, ticket_id: int, agent_id: int) -> Ticket:
        step = Step(K.WAITING_ON_CUSTOMER)
        return (
            await self._apply(ticket_id, [step], actor=agent_actor(agent_id), holder=agent_id)
        ).ticket

    async def resume(self, ticket_id: int, agent_id: int) -> Ticket:
        step = Step(K.RESUMED)
        return (
            await self._apply(ticket_id, [step], actor=agent_actor(agent_id), holder=agent_id)
        ).ticket

    async def resolve(self, ticket_id: int, agent_id: int, code: str = "resolved") -> Ticket:
        now = self.parts.clock()
        step = Step(K.RESOLVED, {"agent_id": agent_id, "code": code}, changes={"resolved_at": now})
        change = await self._apply(ticket_id, [step], actor=agent_actor(agent_id), holder=agent_id)
        held = None if change.held_since is None else (now - change.held_since).total_seconds()
        await self.parts.after_commit(
            self.dispatcher.drop(ticket_id, holder=agent_id, handle_seconds=held)
        )
        await self._notify(NoticeKind.RESOLVED, change.ticket, agent_id=agent_id)
        return change.ticket

    async def transfer(
        self,
        ticket_id: int,
        *,
        actor: str,
        to_queue: str | None = None,
        to_agent: int | None = None,
        reason: str | None = None,
    ) -> Ticket:
        """Move an open ticket to another queue (it waits there) and/or straight to an agent."""
        if to_queue is None and to_agent is None:
            raise InvalidTransition(ticket_id, "a transfer needs a queue or an agent to go to")
        current = await self.store.get(ticket_id)
        target = self.parts.queues[to_queue or current.queue].key
        data: dict[str, Any] = {
            "from_queue": current.queue,
            "to_queue": target,
            "from_agent_id": current.assigned_agent_id,
            "to_agent_id": to_agent,
        }
        if reason:
            data["reason"] = reason
        steps = [Step(K.TRANSFERRED, data, changes={"queue": target})]
        if to_agent is not None:
            steps.append(Step(K.ASSIGNED, {"agent_id": to_agent, "via": "transfer"}))
            await self.assigner.sign_in(to_agent)  # the live layer must know their seat
        change = await self._apply(ticket_id, steps, actor=actor, seat=to_agent, announce=False)
        ticket = change.ticket
        await self.parts.after_commit(
            self.dispatcher.settle(
                self.parts.entry(ticket), to_agent, stray=current.assigned_agent_id
            )
        )
        await self.parts.announce(change, agent_id=to_agent)
        if current.assigned_agent_id not in (None, to_agent):
            await self.parts.announce(change, agent_id=current.assigned_agent_id)
        await self._notify(NoticeKind.TRANSFERRED, ticket, agent_id=to_agent)
        if to_agent is None and self.parts.options.push:
            await self.assigner.offer_next(ticket_id)
        return ticket

    async def my_tickets(self, agent_id: int) -> list[Ticket]:
        return await self.store.tickets(statuses=sorted(HELD), agent_id=agent_id)

    # -- supervisors and the SLA monitor -----------------------------------------------------------

    async def reprioritise(
        self, ticket_id: int, priority: int, *, actor: str, reason: str
    ) -> Ticket:
        step = Step(
            K.PRIORITY_CHANGED,
            {"priority": priority, "reason": reason},
            changes={"priority": priority},
        )
        change = await self._apply(ticket_id, [step], actor=actor)
        await self.parts.after_commit(self.parts.resync(ticket_id, stray=None))
        return change.ticket

    async def overflow(self, ticket_id: int, *, actor: str = "system") -> Ticket:
        """Move a waiting ticket into its queue's overflow queue."""
        current = await self.store.get(ticket_id)
        target = self.parts.queues[current.queue].overflow
        if target is None:
            raise InvalidTransition(ticket_id, f"queue {current.queue!r} has no overflow queue")
        step = Step(
            K.OVERFLOWED,
            {"from_queue": current.queue, "to_queue": target},
            changes={"queue": target},
            expected=frozenset({TicketStatus.QUEUED}),
        )
        change = await self._apply(ticket_id, [step], actor=actor)
        await self.parts.after_commit(self.parts.resync(ticket_id, stray=None))
        if self.parts.options.push:
            await self.assigner.offer_next(ticket_id)
        return change.ticket

    async def record_sla_alert(
        self, ticket_id: int, kind: EventKind, data: Mapping[str, Any]
    ) -> Ticket:
        if kind not in SLA_KINDS:
            raise ValueError(f"{kind} is not an SLA alert")
        return (await self._apply(ticket_id, [Step(kind, data)], actor="system")).ticket

    async def ticket(self, ticket_id: int) -> Ticket:
        return await self.store.get(ticket_id)

    async def events(self, ticket_id: int) -> list[TicketEvent]:
        return await self.store.events(ticket_id)

    async def agents(self) -> list[AgentState]:
        return await self.dispatcher.agents(self.parts.clock())

    async def queue_lengths(self) -> dict[str, int]:
        return await self.dispatcher.queue_lengths(self.parts.queues.keys)

    # -- running -----------------------------------------------------------------------------------

    async def offer_next(self, ticket_id: int) -> Offer | None:
        return await self.assigner.offer_next(ticket_id)

    async def expire_offers(self) -> int:
        return await self.assigner.expire_offers()

    async def rebuild(self) -> RebuildReport:
        """Rebuild the live layer from the record (`frontdesk routing rebuild`)."""
        return await self.rebuilder.rebuild()

    async def start(self) -> RebuildReport | None:
        """At start-up: build the live layer unless another process already has."""
        return await self.rebuilder.rebuild_if_lost()

    async def tick(self) -> TickReport:
        """Housekeeping, every second or so: rebuild a lost live layer, expire offers, offer
        waiting tickets to agents who came free."""
        rebuilt = await self.rebuilder.rebuild_if_lost()
        expired = await self.assigner.expire_offers()
        made = await self.assigner.push_waiting() if self.parts.options.push else 0
        return TickReport(rebuilt, expired, made)

    async def run(self, every: timedelta = timedelta(seconds=1)) -> None:
        """Tick until cancelled (bot/app.py runs this as a background task)."""
        rounds = Rounds("routing tick", log)
        while True:
            try:
                await self.tick()
            except Exception as exc:  # the loop must outlive a failed tick; the next one retries
                rounds.failed(exc)
            else:
                rounds.succeeded()
            await asyncio.sleep(every.total_seconds())

    # -- helpers -----------------------------------------------------------------------------------

    async def _apply(
        self,
        ticket_id: int,
        steps: Sequence[Step],
        *,
        actor: str,
        holder: int | None = None,
        seat: int | None = None,
        announce: bool = True,
    ) -> Change:
        change = await self.store.apply(
            ticket_id, steps, at=self.parts.clock(), actor=actor, holder=holder, seat=seat
        )
        if announce:
            await self.parts.announce(change, agent_id=holder)
        return change

    async def _notify(
        self,
        kind: NoticeKind,
        ticket: Ticket,
        *,
        position: QueuePosition | None = None,
        agent_id: int | None = None,
        text: str | None = None,
    ) -> None:
        await self.parts.notify(
            CustomerNotice(
                kind,
                ticket.id,
                ticket.customer_id,
                ticket.channel,
                ticket.conversation_id,
                position=position,
                agent_id=agent_id,
                text=text,
            )
        )
