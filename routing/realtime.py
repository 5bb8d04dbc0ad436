"""The live picture of a desk: who is waiting, for how long, and who could take them.

Computed from the current tickets and agents (the live layer's view), not from the log; see
docs/metrics.md ("Real time") for the definitions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from routing.events import Presence, TicketStatus

WAITING_STATUSES = frozenset({TicketStatus.QUEUED, TicketStatus.OFFERED})


@dataclass(frozen=True, slots=True)
class LiveTicket:
    ticket_id: int
    status: TicketStatus
    queue: str
    priority: int
    queued_at: datetime | None  # when it (last) entered its queue; None when not queued


@dataclass(frozen=True, slots=True)
class LiveAgent:
    agent_id: int
    presence: Presence
    load: int  # tickets held now
    capacity: int  # tickets they may hold at once
    queues: frozenset[str] = frozenset()  # queues they serve

    @property
    def free(self) -> int:
        """Tickets they could take now: 0 unless available."""
        if self.presence != Presence.AVAILABLE:
            return 0
        return max(self.capacity - self.load, 0)


@dataclass(frozen=True, slots=True)
class RealtimeSnapshot:
    waiting: int
    waiting_by_priority: Mapping[int, int]
    longest_wait: float | None  # seconds, of the ticket waiting longest
    oldest_ticket_id: int | None
    agents_available: int  # available with at least one free slot
    agents_busy: int  # available but full (load >= capacity)
    agents_away: int
    free_capacity: int  # sum of free slots over available agents


def snapshot(
    tickets: Iterable[LiveTicket], agents: Iterable[LiveAgent], *, now: datetime
) -> RealtimeSnapshot:
    """The whole desk at `now`. Offline agents are not counted anywhere."""
    waiting = [t for t in tickets if t.status in WAITING_STATUSES]
    staff = list(agents)
    oldest = min(
        (t for t in waiting if t.queued_at is not None),
        key=lambda t: (t.queued_at or now, t.ticket_id),
        default=None,
    )
    longest = None
    if oldest is not None and oldest.queued_at is not None:
        longest = max((now - oldest.queued_at).total_seconds(), 0.0)
    available = [a for a in staff if a.presence == Presence.AVAILABLE]
    return RealtimeSnapshot(
        waiting=len(waiting),
        waiting_by_priority=dict(sorted(Counter(t.priority for t in waiting).items())),
        longest_wait=longest,
        oldest_ticket_id=oldest.ticket_id if oldest else None,
        agents_available=sum(a.free > 0 for a in available),
        agents_busy=sum(a.free == 0 for a in available),
        agents_away=sum(a.presence == Presence.AWAY for a in staff),
        free_capacity=sum(a.free for a in available),
    )


def snapshots_by_queue(
    tickets: Iterable[LiveTicket],
    agents: Iterable[LiveAgent],
    *,
    now: datetime,
    queues: Iterable[str] = (),
) -> dict[str, RealtimeSnapshot]:
    """One snapshot per queue (every queue named, served or waited in); an agent counts in each
    queue they serve, so agents and capacity do not add up across queues."""
    all_tickets, staff = list(tickets), list(agents)
    names = set(queues) | {t.queue for t in all_tickets}
    names |= {queue for agent in staff for queue in agent.queues}
    return {
        name: snapshot(
            (t for t in all_tickets if t.queue == name),
            (a for a in staff if name in a.queues),
            now=now,
        )
        for name in sorted(names)
    }
