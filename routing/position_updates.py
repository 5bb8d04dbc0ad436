"""Queue-position updates: a waiting customer hears when their place or wait changes.

Every run looks at the queued tickets. A ticket is told its position and estimated wait when it
has waited at least `every` since it was opened (the opening notice already told it), when at
least `every` has passed since its last update, and when what it would hear differs from what it
heard last. Who may send is decided by an atomic claim, so several processes running this job
send each update once; losing the claims (Redis flushed) at worst repeats one update.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Protocol

import redis.asyncio as aioredis

from crm_store.clock import Clock
from routing.background import Rounds
from routing.events import TicketStatus
from routing.notify import CustomerNotice, NoticeKind, QueuePosition
from routing.redis_keys import RedisKeys
from routing.service import RoutingService

log = logging.getLogger(__name__)
LAST_TTL_MS = 24 * 3600 * 1000

# KEYS[1] quiet-period key, KEYS[2] last-told key; ARGV[1] what to tell, ARGV[2] period (ms),
# ARGV[3] how long to remember what was told (ms). 1: this caller sends; 0: not now.
CLAIM_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('GET', KEYS[2]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return 1
"""


class UpdateClaims(Protocol):
    async def claim(self, ticket_id: int, told: str, every: timedelta) -> bool:
        """True (and remembered) if `told` is news for the ticket and its quiet period is over."""
        ...


class MemoryUpdateClaims:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last: dict[int, tuple[str, datetime]] = {}

    async def claim(self, ticket_id: int, told: str, every: timedelta) -> bool:
        now = self._clock()
        last = self._last.get(ticket_id)
        if last is not None and (now - last[1] < every or last[0] == told):
            return False
        self._last[ticket_id] = (told, now)
        return True


class RedisUpdateClaims:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys | None = None) -> None:
        self._keys = keys or RedisKeys()
        self._script = client.register_script(CLAIM_LUA)

    async def claim(self, ticket_id: int, told: str, every: timedelta) -> bool:
        keys = [self._keys.position_quiet(ticket_id), self._keys.position_told(ticket_id)]
        period = max(1, int(every.total_seconds() * 1000))
        return bool(await self._script(keys=keys, args=[told, period, LAST_TTL_MS]))


def what_to_tell(position: QueuePosition) -> str | None:
    """The update as the customer would hear it (position, wait in minutes); None: nothing."""
    if position.position is None:
        return None
    if position.estimated_wait is None:
        return f"{position.position}:?"
    minutes = max(1, round(position.estimated_wait.total_seconds() / 60))
    return f"{position.position}:{minutes}"


class PositionUpdates:
    def __init__(
        self, service: RoutingService, claims: UpdateClaims, every: timedelta, clock: Clock
    ) -> None:
        self._service = service
        self._claims = claims
        self._every = every
        self._clock = clock

    async def run_once(self) -> int:
        """Send the updates that are due; the number sent."""
        sent = 0
        now = self._clock()
        for found in await self._service.store.open_tickets():
            ticket = found.ticket
            if ticket.status is not TicketStatus.QUEUED or ticket.conversation_id is None:
                continue
            if now - ticket.created_at < self._every:
                continue
            position = await self._service.position(ticket.id)
            told = what_to_tell(position)
            if told is None or not await self._claims.claim(ticket.id, told, self._every):
                continue
            await self._service.parts.notify(
                CustomerNotice(
                    NoticeKind.QUEUED,
                    ticket.id,
                    ticket.customer_id,
                    ticket.channel,
                    ticket.conversation_id,
                    position=position,
                )
            )
            sent += 1
        return sent

    async def run(self, interval: timedelta = timedelta(seconds=15)) -> None:
        rounds = Rounds("queue-position updates", log)
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # the loop must outlive a failed run; the next one retries
                rounds.failed(exc)
            else:
                rounds.succeeded()
            await asyncio.sleep(interval.total_seconds())
