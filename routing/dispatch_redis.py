"""The live dispatch layer in Redis, shared by every process: sorted sets, hashes, Lua scripts.

Each operation that reads and then writes is one Lua script (routing.dispatch_scripts), so it is
atomic across processes; plain writes go in a MULTI pipeline. Key names and lifetimes are in
routing.redis_keys. Library errors become DispatchUnavailable.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from routing import dispatch_scripts as lua
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
from routing.dispatch_memory import EMA_WEIGHT
from routing.errors import DispatchUnavailable
from routing.events import Presence
from routing.redis_keys import DECLINED_TTL_MS, RedisKeys, agent_member, member

RESTORE_BATCH = 500
SCAN_BATCH = 1000


def ms(at: datetime) -> int:
    return round(at.timestamp() * 1000)


def from_ms(value: float) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise DispatchUnavailable(f"redis: {exc}") from exc


class RedisDispatcher:
    def __init__(self, client: aioredis.Redis, keys: RedisKeys | None = None) -> None:
        self._redis = client
        self.client = client  # for the jobs that share the live layer's connection
        self.keys = keys or RedisKeys()
        self._token = secrets.token_hex(8)
        self._scripts = {
            name: client.register_script(getattr(lua, name))
            for name in (
                "CLAIM", "SETTLE", "DROP", "STANDING", "OFFER", "ACCEPT", "DECLINE", "EXPIRE",
                "HEARTBEAT", "UNLOCK",
            )
        }  # fmt: skip

    async def _run(self, name: str, *args: Any, keys: Sequence[str] = ()) -> Any:
        async with _translated():
            script = self._scripts[name]
            return await script(keys=list(keys), args=[self.keys.prefix, *args])

    # -- agents ------------------------------------------------------------------------------------

    async def register_agent(self, seat: AgentSeat) -> None:
        async with _translated():
            await self._register(self._redis.pipeline(transaction=True), seat).execute()

    def _register(self, pipe: Any, seat: AgentSeat) -> Any:
        queues = "," + ",".join(seat.queues) + "," if seat.queues else ","
        pipe.hset(
            self.keys.agent(seat.agent_id), mapping={"capacity": seat.capacity, "queues": queues}
        )
        pipe.sadd(self.keys.agents, agent_member(seat.agent_id))
        return pipe

    async def heartbeat(
        self, agent_id: int, presence: Presence, *, now: datetime, ttl_seconds: float
    ) -> bool:
        until = ms(now) + round(ttl_seconds * 1000)
        done = await self._run("HEARTBEAT", agent_member(agent_id), presence.value, ms(now), until)
        return bool(done)

    async def agents(self, now: datetime) -> list[AgentState]:
        async with _translated():
            ids = sorted(_text(a) for a in await self._redis.smembers(self.keys.agents))
            pipe = self._redis.pipeline(transaction=False)
            for aid in ids:
                agent_id = int(aid)
                pipe.hmget(self.keys.agent(agent_id), ["capacity", "queues", "presence", "until"])
                pipe.scard(self.keys.seats(agent_id))
                pipe.zscore(self.keys.idle, aid)
            replies = await pipe.execute()
        states = []
        for i, aid in enumerate(ids):
            (capacity, queues, presence, until), load, idle = replies[3 * i : 3 * i + 3]
            live = until is not None and float(until) > ms(now)
            state = Presence(_text(presence)) if presence is not None and live else Presence.OFFLINE
            states.append(
                AgentState(
                    int(aid),
                    int(capacity or 0),
                    tuple(q for q in _text(queues or b"").split(",") if q),
                    state,
                    int(load),
                    from_ms(idle) if idle is not None and state is Presence.AVAILABLE else None,
                )
            )
        return states

    # -- the waiting line --------------------------------------------------------------------------

    async def enqueue(self, entry: QueueEntry) -> None:
        await self.settle(entry, None, stray=None)

    async def claim_next(self, agent_id: int, *, now: datetime) -> Claim | NoClaim:
        reply = await self._run("CLAIM", agent_member(agent_id), ms(now))
        if _text(reply[0]) != "ok":
            return NoClaim(_text(reply[0]))
        return Claim(int(reply[1]), _text(reply[2]), float(reply[3]))

    async def settle(
        self,
        entry: QueueEntry,
        agent_id: int | None,
        *,
        stray: int | None,
        offer_expires_at: datetime | None = None,
    ) -> None:
        await self._run(
            "SETTLE",
            member(entry.ticket_id),
            entry.queue,
            repr(entry.rank),
            "" if agent_id is None else agent_member(agent_id),
            "" if stray is None else agent_member(stray),
            "" if offer_expires_at is None else ms(offer_expires_at),
        )

    async def drop(
        self, ticket_id: int, *, holder: int | None = None, handle_seconds: float | None = None
    ) -> None:
        await self._run(
            "DROP",
            member(ticket_id),
            "" if holder is None else agent_member(holder),
            "" if handle_seconds is None else repr(float(handle_seconds)),
            repr(EMA_WEIGHT),
        )

    async def standing(self, ticket_id: int, now: datetime) -> Standing | None:
        reply = await self._run("STANDING", member(ticket_id), ms(now))
        if reply is None:
            return None
        queue, state, position, waiting, free, seats, aht = reply
        return Standing(
            ticket_id,
            _text(queue),
            LiveState(_text(state)),
            int(position),
            int(waiting),
            int(free),
            int(seats),
            float(aht) if _text(aht) else None,
        )

    async def queue_lengths(self, queues: Sequence[str]) -> dict[str, int]:
        async with _translated():
            pipe = self._redis.pipeline(transaction=False)
            for queue in queues:
                pipe.zcard(self.keys.queue(queue))
            counts = await pipe.execute()
        return {queue: int(n) for queue, n in zip(queues, counts, strict=True)}

    async def heads(self, queue: str, limit: int) -> list[int]:
        async with _translated():
            members = await self._redis.zrange(self.keys.queue(queue), 0, limit - 1)
        return [int(_text(m)) for m in members]

    # -- offers ------------------------------------------------------------------------------------

    async def offer(self, ticket_id: int, *, now: datetime, expires_at: datetime) -> Offer | None:
        agent = await self._run("OFFER", member(ticket_id), ms(now), ms(expires_at))
        if agent is None:
            return None
        return Offer(ticket_id, int(agent), expires_at)

    async def accept(self, ticket_id: int, agent_id: int, *, now: datetime) -> OfferAnswer:
        answer = await self._run("ACCEPT", member(ticket_id), agent_member(agent_id), ms(now))
        return OfferAnswer(_text(answer))

    async def decline(self, ticket_id: int, agent_id: int) -> bool:
        done = await self._run(
            "DECLINE", member(ticket_id), agent_member(agent_id), DECLINED_TTL_MS
        )
        return bool(done)

    async def expired_offers(self, now: datetime, limit: int = 100) -> list[Offer]:
        reply = await self._run("EXPIRE", ms(now), limit, DECLINED_TTL_MS)
        return [
            Offer(int(reply[i]), int(reply[i + 1]), from_ms(float(reply[i + 2])))
            for i in range(0, len(reply), 3)
        ]

    # -- rebuild -----------------------------------------------------------------------------------

    async def is_built(self) -> bool:
        async with _translated():
            return bool(await self._redis.exists(self.keys.built))

    async def try_lock_rebuild(self, seconds: float) -> bool:
        async with _translated():
            taken = await self._redis.set(
                self.keys.rebuild_lock, self._token, nx=True, px=round(seconds * 1000)
            )
        return bool(taken)

    async def unlock_rebuild(self) -> None:
        await self._run("UNLOCK", self._token, keys=[self.keys.rebuild_lock])

    async def reset(self) -> None:
        """Delete every key of this prefix except the rebuild lock (SCAN, never KEYS)."""
        lock = self.keys.rebuild_lock.encode()
        async with _translated():
            batch: list[bytes] = []
            async for key in self._redis.scan_iter(match=self.keys.pattern, count=SCAN_BATCH):
                if key != lock:
                    batch.append(key)
                if len(batch) >= SCAN_BATCH:
                    await self._redis.unlink(*batch)
                    batch = []
            if batch:
                await self._redis.unlink(*batch)

    async def restore(self, snapshot: LiveSnapshot) -> None:
        k = self.keys
        writes: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

        def add(command: str, *args: Any, **kwargs: Any) -> None:
            writes.append((command, args, kwargs))

        for seat in snapshot.agents:
            queues = "," + ",".join(seat.queues) + "," if seat.queues else ","
            add(
                "hset",
                k.agent(seat.agent_id),
                mapping={"capacity": seat.capacity, "queues": queues},
            )
            add("sadd", k.agents, agent_member(seat.agent_id))
        for entry in snapshot.queued:
            fields = {"queue": entry.queue, "rank": repr(entry.rank), "state": "queued"}
            add("hset", k.ticket(entry.ticket_id), mapping=fields)
            add("zadd", k.queue(entry.queue), {member(entry.ticket_id): entry.rank})
        for entry, agent_id in snapshot.held:
            fields = {"queue": entry.queue, "rank": repr(entry.rank), "state": "held"}
            add(
                "hset",
                k.ticket(entry.ticket_id),
                mapping={**fields, "agent": agent_member(agent_id)},
            )
            add("sadd", k.seats(agent_id), member(entry.ticket_id))
            add("zrem", k.queue(entry.queue), member(entry.ticket_id))
        for entry, offer in snapshot.offered:
            expires = ms(offer.expires_at)
            fields = {"queue": entry.queue, "rank": repr(entry.rank), "state": "offered"}
            fields |= {"agent": agent_member(offer.agent_id), "expires": str(expires)}
            add("hset", k.ticket(entry.ticket_id), mapping=fields)
            add("sadd", k.seats(offer.agent_id), member(entry.ticket_id))
            add("zadd", k.offers, {member(entry.ticket_id): expires})
            add("zrem", k.queue(entry.queue), member(entry.ticket_id))
        for ticket_id, agents in snapshot.declined.items():
            if agents:
                add("sadd", k.declined(ticket_id), *(agent_member(a) for a in agents))
                add("pexpire", k.declined(ticket_id), DECLINED_TTL_MS)
        for queue, seconds in snapshot.handle_seconds.items():
            if seconds:
                add("hset", k.aht, queue, repr(sum(seconds) / len(seconds)))
        async with _translated():
            for start in range(0, len(writes), RESTORE_BATCH):
                pipe = self._redis.pipeline(transaction=False)
                for command, args, kwargs in writes[start : start + RESTORE_BATCH]:
                    getattr(pipe, command)(*args, **kwargs)
                await pipe.execute()

    async def mark_built(self, at: datetime) -> None:
        async with _translated():
            await self._redis.set(self.keys.built, at.isoformat())

    async def ping(self) -> None:
        async with _translated():
            await self._awaited(self._redis.ping())

    @staticmethod
    async def _awaited(value: Awaitable[Any] | Any) -> Any:
        return await value if isinstance(value, Awaitable) else value
