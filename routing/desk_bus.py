"""Live desk events (pub/sub): what the agents' consoles and the supervisors' dashboard watch.

Best effort by design: a desk that reconnects reloads its lists from the record, so a missed
event costs a refresh, never a ticket. The memory bus fans out inside this process; the Redis bus
(routing.desk_bus_redis) across processes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from routing.events import EventKind, TicketEvent, TicketStatus

SUBSCRIBER_BUFFER = 1000  # events a slow subscriber may fall behind before the oldest are lost


@dataclass(frozen=True, slots=True)
class DeskEvent:
    ticket_id: int
    seq: int
    kind: EventKind
    status: TicketStatus
    queue: str
    agent_id: int | None  # the agent concerned (offered to, assigned, released), if any
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, event: TicketEvent, *, status: TicketStatus, queue: str, agent_id: int | None
    ) -> DeskEvent:
        return cls(
            event.ticket_id, event.seq, event.kind, status, queue, agent_id, event.at, event.data
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "ticket_id": self.ticket_id,
                "seq": self.seq,
                "kind": self.kind.value,
                "status": self.status.value,
                "queue": self.queue,
                "agent_id": self.agent_id,
                "at": self.at.isoformat(),
                "data": dict(self.data),
            },
            default=str,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> DeskEvent:
        raw = json.loads(text)
        return cls(
            raw["ticket_id"],
            raw["seq"],
            EventKind(raw["kind"]),
            TicketStatus(raw["status"]),
            raw["queue"],
            raw["agent_id"],
            datetime.fromisoformat(raw["at"]),
            raw["data"],
        )


@dataclass(frozen=True, slots=True)
class Interest:
    """Which events a subscriber wants: of these queues, for this agent, or all of them."""

    queues: frozenset[str] = frozenset()
    agent_id: int | None = None
    everything: bool = False

    def wants(self, event: DeskEvent) -> bool:
        return (
            self.everything
            or event.queue in self.queues
            or (self.agent_id is not None and event.agent_id == self.agent_id)
        )


class DeskBus(Protocol):
    async def publish(self, events: Sequence[DeskEvent]) -> None: ...

    def subscribe(self, interest: Interest) -> Any:
        """An async context manager yielding an async iterator of DeskEvents."""
        ...


class MemoryDeskBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[Interest, asyncio.Queue[DeskEvent]]] = []

    async def publish(self, events: Sequence[DeskEvent]) -> None:
        for event in events:
            for interest, inbox in self._subscribers:
                if interest.wants(event):
                    if inbox.full():
                        inbox.get_nowait()
                    inbox.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self, interest: Interest) -> AsyncIterator[AsyncIterator[DeskEvent]]:
        inbox: asyncio.Queue[DeskEvent] = asyncio.Queue(SUBSCRIBER_BUFFER)
        entry = (interest, inbox)
        self._subscribers.append(entry)

        async def events() -> AsyncIterator[DeskEvent]:
            while True:
                yield await inbox.get()

        try:
            yield events()
        finally:
            self._subscribers.remove(entry)
