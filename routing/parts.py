"""What the routing pieces share: the record, the live layer, the queues, the policy, the clock.

Also the two rules that keep record and live layer in step:
- `resync` puts one ticket in the live layer where the record says it is (after the database
  refused a change the live layer had already made, e.g. a claim of a ticket someone else took);
- `after_commit` runs a live-layer update that follows a committed change: if Redis is down then,
  the change stands (the database is the record) and the live layer is marked for a rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from crm_store.clock import Clock, system_clock
from routing.desk_bus import DeskBus, DeskEvent, MemoryDeskBus
from routing.dispatch import Dispatcher, QueueEntry
from routing.errors import DispatchUnavailable
from routing.events import TicketStatus
from routing.notify import CustomerNotice, CustomerNotifier, NullNotifier
from routing.priority import FirstResponseDue, PriorityPolicy, no_deadline
from routing.queues import QueueBook
from routing.ticket_changes import Change
from routing.ticket_store import TicketStore
from routing.tickets import HELD, Ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RoutingOptions:
    offer_timeout: timedelta = timedelta(seconds=30)
    presence_ttl: timedelta = timedelta(seconds=60)
    push: bool = True  # offer new tickets to agents (else agents only pull)
    default_handle_time: timedelta = timedelta(minutes=5)  # for wait estimates before any data
    claim_attempts: int = 5  # stale live entries a pull skips before giving up
    rebuild_time_limit: timedelta = timedelta(minutes=2)
    handle_time_window: timedelta = timedelta(days=1)  # resolved tickets a rebuild averages


@dataclass
class RoutingParts:
    store: TicketStore
    dispatcher: Dispatcher
    queues: QueueBook
    bus: DeskBus = field(default_factory=MemoryDeskBus)
    notifier: CustomerNotifier = field(default_factory=NullNotifier)
    policy: PriorityPolicy = field(default_factory=PriorityPolicy)
    first_response_due: FirstResponseDue = no_deadline
    options: RoutingOptions = field(default_factory=RoutingOptions)
    clock: Clock = system_clock
    dirty: bool = False  # a live-layer update was lost: rebuild at the next tick

    def entry(self, ticket: Ticket) -> QueueEntry:
        """The ticket's place in its queue's line (see routing.priority)."""
        due = self.first_response_due(
            queue=ticket.queue,
            sla_policy=ticket.sla_policy,
            tier=ticket.tier,
            urgency=ticket.urgency,
            created_at=ticket.created_at,
        )
        rank = self.policy.rank(priority=ticket.priority, created_at=ticket.created_at, due_at=due)
        return QueueEntry(ticket.id, ticket.queue, rank)

    async def after_commit(self, update: Awaitable[object]) -> None:
        try:
            await update
        except DispatchUnavailable as exc:
            self.dirty = True
            log.warning("live layer update lost (%s); it will be rebuilt from the database", exc)

    async def announce(self, change: Change, *, agent_id: int | None = None) -> None:
        """Publish the change's events to the desks (best effort)."""
        ticket = change.ticket
        concerned = agent_id if agent_id is not None else ticket.assigned_agent_id
        events = [
            DeskEvent.of(e, status=ticket.status, queue=ticket.queue, agent_id=concerned)
            for e in change.events
        ]
        await self.publish(events)

    async def publish(self, events: Sequence[DeskEvent]) -> None:
        try:
            await self.bus.publish(events)
        except DispatchUnavailable as exc:
            log.warning("desk events not published: %s", exc)

    async def notify(self, notice: CustomerNotice) -> None:
        await self.notifier.notify(notice)

    async def resync(self, ticket_id: int, *, stray: int | None) -> None:
        """Put the ticket in the live layer where the record says it is."""
        found = await self.store.open_ticket(ticket_id)
        if found is None:
            await self.dispatcher.drop(ticket_id, holder=stray)
            return
        ticket = found.ticket
        entry = self.entry(ticket)
        if ticket.status is TicketStatus.QUEUED:
            await self.dispatcher.settle(entry, None, stray=stray)
        elif ticket.status in HELD:
            await self.dispatcher.settle(entry, ticket.assigned_agent_id, stray=stray)
        elif found.offered_to is not None:
            await self.dispatcher.settle(
                entry, found.offered_to, stray=stray, offer_expires_at=found.offer_expires_at
            )
