"""Rebuilding the live layer from the record: at start-up, on `frontdesk routing rebuild`, and
automatically when the live layer was lost (Redis flushed or restarted empty).

Order matters: the live layer is wiped *before* the record is read, so anything that changes
after the read (a new ticket, a decline) is written to the live layer after the wipe and is not
lost. What the read missed and the restore then re-adds (say, a ticket claimed meanwhile) is at
worst a stale entry, which the database refuses at the next claim and `resync` corrects.
Every clock survives: ranks come from the tickets' created times, offer deadlines from their
OFFERED events, SLA clocks from the event log, none of which lives in Redis.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from routing.dispatch import AgentSeat, LiveSnapshot, Offer, QueueEntry
from routing.errors import RebuildBusy
from routing.events import TicketStatus
from routing.parts import RoutingParts
from routing.tickets import HELD

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RebuildReport:
    agents: int
    queued: int
    offered: int
    held: int


class Rebuilder:
    def __init__(self, parts: RoutingParts) -> None:
        self.parts = parts

    async def rebuild(self) -> RebuildReport:
        dispatcher = self.parts.dispatcher
        limit = self.parts.options.rebuild_time_limit.total_seconds()
        if not await dispatcher.try_lock_rebuild(limit):
            raise RebuildBusy("the live layer is being rebuilt by another process")
        try:
            self.parts.dirty = False
            await dispatcher.reset()
            snapshot = await self.snapshot()
            await dispatcher.restore(snapshot)
            await dispatcher.mark_built(self.parts.clock())
        finally:
            await dispatcher.unlock_rebuild()
        report = RebuildReport(
            len(snapshot.agents), len(snapshot.queued), len(snapshot.offered), len(snapshot.held)
        )
        log.info("live layer rebuilt from the database: %s", report)
        return report

    async def rebuild_if_lost(self) -> RebuildReport | None:
        if not self.parts.dirty and await self.parts.dispatcher.is_built():
            return None
        try:
            return await self.rebuild()
        except RebuildBusy:
            return None

    async def snapshot(self) -> LiveSnapshot:
        store, queues = self.parts.store, self.parts.queues
        seats = [
            AgentSeat(seat.agent_id, seat.capacity, queues.served_by(seat.skills))
            for seat in await store.seats()
        ]
        queued: list[QueueEntry] = []
        held: list[tuple[QueueEntry, int]] = []
        offered: list[tuple[QueueEntry, Offer]] = []
        declined: dict[int, frozenset[int]] = {}
        for found in await store.open_tickets():
            ticket = found.ticket
            entry = self.parts.entry(ticket)
            if found.declined_by:
                declined[ticket.id] = found.declined_by
            if ticket.status is TicketStatus.QUEUED:
                queued.append(entry)
            elif ticket.status in HELD and ticket.assigned_agent_id is not None:
                held.append((entry, ticket.assigned_agent_id))
            elif found.offered_to is not None and found.offer_expires_at is not None:
                offer = Offer(ticket.id, found.offered_to, found.offer_expires_at)
                offered.append((entry, offer))
        since = self.parts.clock() - self.parts.options.handle_time_window
        handle: dict[str, list[float]] = defaultdict(list)
        for queue, seconds in await store.handle_times(since):
            handle[queue].append(seconds)
        return LiveSnapshot(seats, queued, held, offered, declined, dict(handle))
