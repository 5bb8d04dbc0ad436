"""What the Telegram channel shares with its peers in other processes, behind two small ports.

- `UpdateClaims`: an update id is taken once. Telegram redelivers an update it got no 2xx for,
  and behind a load balancer the redelivery may reach another process.
- `CallbackStore`: button payloads over Telegram's 64 bytes of callback data travel as a short
  key ("#<digest>", render.callback_data); the payload is kept here, so a tap on any process
  finds it.
- `SendSlots`: the bot's overall send rate (about 30 messages a second per bot) is one budget
  whichever process sends: each send reserves the next free slot, 1/rate after the last one.

Each has an adapter for one process (bounded tables in memory: the oldest entries go first)
and one in Redis (keys and TTLs in redis_keys.py), chosen by `live_state` when Redis is
configured. A key that is no longer known is reported as expired, never guessed.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bot.channels.telegram import redis_keys as keys
from bot.channels.telegram.render import KEY_MARK

MAX_ITEMS = 10_000


class TelegramStateUnavailable(Exception):
    """The shared state (Redis) could not be read or written."""


class UpdateClaims(Protocol):
    async def claim(self, update_id: int) -> bool:
        """True for the first taker of this update id; False when it was taken before."""
        ...

    async def release(self, update_id: int) -> None:
        """Give back an update taken here (it is to be redelivered)."""
        ...


class CallbackStore(Protocol):
    async def keep(self, payloads: Mapping[str, str]) -> None:
        """Keep long payloads under their callback data ("#<digest>" -> payload)."""
        ...

    async def payload(self, data: str) -> str | None:
        """The payload behind callback data; None when its key has expired."""
        ...


class MemoryUpdateClaims:
    def __init__(self, max_items: int = MAX_ITEMS) -> None:
        self._max = max_items
        self._ids: OrderedDict[int, None] = OrderedDict()

    async def claim(self, update_id: int) -> bool:
        if update_id in self._ids:
            return False
        self._ids[update_id] = None
        while len(self._ids) > self._max:
            self._ids.popitem(last=False)
        return True

    async def release(self, update_id: int) -> None:
        self._ids.pop(update_id, None)


class MemoryCallbacks:
    def __init__(self, max_items: int = MAX_ITEMS) -> None:
        self._max = max_items
        self._long: OrderedDict[str, str] = OrderedDict()

    async def keep(self, payloads: Mapping[str, str]) -> None:
        for data, payload in payloads.items():
            self._long[data] = payload
            self._long.move_to_end(data)
        while len(self._long) > self._max:
            self._long.popitem(last=False)

    async def payload(self, data: str) -> str | None:
        return self._long.get(data) if data.startswith(KEY_MARK) else data


# Delete the claim only if it is still this process's (it may have expired and been retaken).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisUpdateClaims:
    def __init__(
        self, client: aioredis.Redis, bot_id: str, ttl_seconds: float = keys.UPDATE_TTL_SECONDS
    ) -> None:
        self._redis = client
        self._bot = bot_id
        self._ttl_ms = max(1, int(ttl_seconds * 1000))
        self._token = secrets.token_hex(8)  # this process's claims
        self._release = client.register_script(_RELEASE)

    async def claim(self, update_id: int) -> bool:
        key = keys.update(self._bot, update_id)
        try:
            return bool(await self._redis.set(key, self._token, nx=True, px=self._ttl_ms))
        except (RedisError, OSError) as exc:
            raise TelegramStateUnavailable(f"update {update_id}: {exc}") from exc

    async def release(self, update_id: int) -> None:
        key = keys.update(self._bot, update_id)
        try:
            await self._release(keys=[key], args=[self._token])
        except (RedisError, OSError) as exc:
            raise TelegramStateUnavailable(f"update {update_id}: {exc}") from exc


class RedisCallbacks:
    def __init__(
        self, client: aioredis.Redis, bot_id: str, ttl_seconds: float = keys.BUTTON_TTL_SECONDS
    ) -> None:
        self._redis = client
        self._bot = bot_id
        self._ttl_ms = max(1, int(ttl_seconds * 1000))

    async def keep(self, payloads: Mapping[str, str]) -> None:
        if not payloads:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for data, payload in payloads.items():
                    pipe.set(self._key(data), payload, px=self._ttl_ms)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise TelegramStateUnavailable(f"button payloads: {exc}") from exc

    async def payload(self, data: str) -> str | None:
        if not data.startswith(KEY_MARK):
            return data
        try:
            raw = await self._redis.get(self._key(data))
        except (RedisError, OSError) as exc:
            raise TelegramStateUnavailable(f"button {data}: {exc}") from exc
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def _key(self, data: str) -> str:
        return keys.button(self._bot, data.removeprefix(KEY_MARK))


class SendSlots(Protocol):
    async def reserve(self, gap: float, chat: int | None = None) -> float:
        """Reserve the next send slot, `gap` seconds after the last one reserved, on the bot's
        schedule (or `chat`'s own): the seconds to wait for it (0 if it is now)."""
        ...

    async def hold(self, chat: int, seconds: float) -> None:
        """No slot in `chat` before `seconds` from now (Telegram said "retry after")."""
        ...


class MemorySendSlots:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._next: dict[int | None, float] = {}

    async def reserve(self, gap: float, chat: int | None = None) -> float:
        now = self._clock()
        if len(self._next) > MAX_ITEMS:  # forget the chats whose slot is past
            self._next = {key: at for key, at in self._next.items() if at > now}
        slot = max(now, self._next.get(chat, 0.0))
        self._next[chat] = slot + gap  # reserved before anyone awaits: never shared
        return slot - now

    async def hold(self, chat: int, seconds: float) -> None:
        self._next[chat] = max(self._next.get(chat, 0.0), self._clock() + seconds)


# KEYS[1] the next free slot (microseconds on Redis's clock); ARGV[1] microseconds; ARGV[2]
# "reserve": take the next slot and move it on by ARGV[1], return the wait for it; "hold": no
# slot before ARGV[1] from now, return 0. The key lives a minute past its slot.
_SLOTS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local step = tonumber(ARGV[1])
local after, wait = slot + step, slot - now
if ARGV[2] == 'hold' then
  after, wait = math.max(slot, now + step), 0
end
local ttl = math.floor((after - now) / 1000) + 60000
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', ttl)
return wait
"""


class RedisSendSlots:
    """One schedule for every process of the bot, and one per chat, on Redis's clock."""

    def __init__(self, client: aioredis.Redis, bot_id: str) -> None:
        self._bot = bot_id
        self._slots = client.register_script(_SLOTS)

    async def reserve(self, gap: float, chat: int | None = None) -> float:
        return await self._call(chat, gap, "reserve") / 1_000_000

    async def hold(self, chat: int, seconds: float) -> None:
        await self._call(chat, seconds, "hold")

    async def _call(self, chat: int | None, seconds: float, mode: str) -> int:
        key = keys.pace(self._bot) if chat is None else keys.chat_pace(self._bot, chat)
        try:
            return int(await self._slots(keys=[key], args=[int(seconds * 1_000_000), mode]))
        except (RedisError, OSError) as exc:
            raise TelegramStateUnavailable(f"send slots: {exc}") from exc


def live_state(
    redis: aioredis.Redis | None, bot_id: str
) -> tuple[UpdateClaims, CallbackStore, SendSlots | None]:
    """Redis when the host has it (every process shares), else this process's memory (the
    pacer's own send slots: None)."""
    if redis is None:
        return MemoryUpdateClaims(), MemoryCallbacks(), None
    return (
        RedisUpdateClaims(redis, bot_id),
        RedisCallbacks(redis, bot_id),
        RedisSendSlots(redis, bot_id),
    )
