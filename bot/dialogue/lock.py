"""A per-conversation lock: one message of a conversation at a time, in arrival order.

In memory (one process) it is an asyncio.Lock per conversation (its waiters are woken first in,
first out). In Redis (several processes) it is a ticket lock: each message takes a number and
waits until the numbers before it are served; the holder's key (token, TTL) is renewed while it
works and released only by its holder (Lua), and a holder that died is skipped after one TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from bot.dialogue import redis_keys
from bot.dialogue.admission import Busy

OWED_AT_MOST = 10_000  # failed turns' locks and numbers kept to give back (a TTL frees the rest)
GIVE_BACK_RETRY = 0.5  # seconds between tries while Redis does not answer


class LockTimeout(Busy):
    """The conversation stayed locked longer than we were willing to wait."""


class ConversationLock(Protocol):
    def hold(self, conversation_id: str) -> contextlib.AbstractAsyncContextManager[None]: ...


class MemoryConversationLock:
    def __init__(self, wait_seconds: float = 30.0) -> None:
        self._wait = wait_seconds
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        try:
            try:
                await asyncio.wait_for(lock.acquire(), self._wait)
            except TimeoutError as exc:
                raise LockTimeout(conversation_id) from exc
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[conversation_id]
            if users == 1:
                del self._locks[conversation_id]
            else:
                self._locks[conversation_id] = (lock, users - 1)


# The fair (ticket) lock, as Lua functions shared by the scripts below and by the conversation
# gate (bot/dialogue/live_redis.py). KEYS = queue counter, serving counter, holder key, turn
# start, numbers given up.
LOCK_LUA = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Take a number and, if nobody is ahead, the lock itself: mine, got (1 or 0).
local function take(token, ttl)
  local mine = redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], 86400000)
  local serving = tonumber(redis.call('GET', KEYS[2]) or '0')
  if serving == mine - 1 and redis.call('EXISTS', KEYS[3]) == 0 then
    redis.call('SET', KEYS[3], token, 'PX', ttl)
    return mine, 1
  end
  return mine, 0
end
-- Our turn? Take the lock (1). Otherwise, if the holder whose turn it is has shown no sign of
-- life for a whole TTL (it died, or gave up waiting), skip its number (0).
local function try_take(token, mine, ttl)
  local serving = tonumber(redis.call('GET', KEYS[2]) or '0')
  if serving == mine - 1 then
    if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
    redis.call('SET', KEYS[3], token, 'PX', ttl)
    return 1
  end
  if serving < mine - 1 and redis.call('EXISTS', KEYS[3]) == 0 then
    local now = now_ms()
    local turn = tonumber(redis.call('GET', KEYS[4]) or '0')
    local gone = redis.call('SREM', KEYS[5], serving + 1) == 1
    if gone or now - turn > ttl then
      redis.call('SET', KEYS[2], serving + 1, 'PX', 86400000)
      redis.call('SET', KEYS[4], now, 'PX', 86400000)
    end
  end
  return 0
end
-- Done: free the lock and hand the turn to the next number.
local function release(token, mine)
  if redis.call('GET', KEYS[3]) == token then redis.call('DEL', KEYS[3]) end
  local serving = tonumber(redis.call('GET', KEYS[2]) or '0')
  if serving == mine - 1 then
    redis.call('SET', KEYS[2], mine, 'PX', 86400000)
    redis.call('SET', KEYS[4], now_ms(), 'PX', 86400000)
  end
end
-- A waiter that gives up: hand on the turn if it is ours, else leave word to skip our number.
local function give_up(mine)
  local serving = tonumber(redis.call('GET', KEYS[2]) or '0')
  if serving == mine - 1 and redis.call('EXISTS', KEYS[3]) == 0 then
    redis.call('SET', KEYS[2], mine, 'PX', 86400000)
    redis.call('SET', KEYS[4], now_ms(), 'PX', 86400000)
  elseif serving < mine - 1 then
    redis.call('SADD', KEYS[5], mine)
    redis.call('PEXPIRE', KEYS[5], 86400000)
  end
end
"""
_TAKE = (
    LOCK_LUA
    + """
local mine, got = take(ARGV[1], tonumber(ARGV[2]))
return {mine, got}
"""
)
_TRY = LOCK_LUA + "return try_take(ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[2]))"
_RELEASE = LOCK_LUA + "release(ARGV[1], tonumber(ARGV[2]))\nreturn 1"
_GIVE_UP = LOCK_LUA + "give_up(tonumber(ARGV[1]))\nreturn 1"
# A turn that failed on the way in or out (a Redis error or timeout: the script may still have
# run) gives back what it may hold: the lock, if its token holds it (its number is the one being
# served), else its number, when it knows it (ARGV[2] > 0).
_FORFEIT = (
    LOCK_LUA
    + """
local mine = tonumber(ARGV[2])
if redis.call('GET', KEYS[3]) == ARGV[1] then
  if mine == 0 then mine = tonumber(redis.call('GET', KEYS[2]) or '0') + 1 end
  release(ARGV[1], mine)
elseif mine > 0 then
  give_up(mine)
end
return 1
"""
)
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RedisConversationLock:
    """A fair lock across processes: messages of one conversation are handled in the order
    they reached Redis (each takes a number; the holder's key is renewed while it works; a
    holder that died or gave up is skipped after one TTL)."""

    def __init__(
        self, client: aioredis.Redis, *, ttl_seconds: float = 10.0, wait_seconds: float = 30.0
    ) -> None:
        self._redis = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._wait = wait_seconds
        self._take = client.register_script(_TAKE)
        self._try = client.register_script(_TRY)
        self._release = client.register_script(_RELEASE)
        self._give_up = client.register_script(_GIVE_UP)
        self._renew = client.register_script(_RENEW)
        self._forfeit = client.register_script(_FORFEIT)
        # (keys, token, number or 0) of failed turns, given back in order by one task
        self._owed: deque[tuple[list[str], str, int]] = deque(maxlen=OWED_AT_MOST)
        self._giving_back: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def hold(self, conversation_id: str) -> AsyncIterator[None]:
        keys = lock_keys(conversation_id)
        token = secrets.token_hex(16)
        mine, _ = await self.acquire(keys, token, conversation_id)
        try:
            async with self.renewed(keys[2], token):
                yield
        finally:
            with self.forfeiting(keys, token, mine):
                await self._release(keys=keys, args=[token, mine])

    async def acquire(
        self,
        keys: list[str],
        token: str,
        conversation_id: str,
        *,
        take: AsyncScript | None = None,
        try_take: AsyncScript | None = None,
        args: Sequence[str | int] = (),
    ) -> tuple[int, list[Any]]:
        """Wait for our turn: (our number, what the script read once it had the lock).

        `take` and `try_take` may be scripts that do more than the lock's own (LOCK_LUA's
        take() and try_take() with KEYS[1..5], then their own work with `args` after ours):
        `take` returns {mine, got, ...}, `try_take` {got, ...}.
        """
        with self.forfeiting(keys, token, 0):  # our number is not known yet
            taken = await (take or self._take)(keys=keys, args=[token, self._ttl_ms, *args])
        mine, got, payload = int(taken[0]), taken[1], list(taken[2:])
        deadline = time.monotonic() + self._wait
        delay = 0.002
        with self.forfeiting(keys, token, mine):
            while not got:
                if time.monotonic() >= deadline:
                    await self._give_up(keys=keys, args=[mine])
                    raise LockTimeout(conversation_id)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.025)
                tried = await (try_take or self._try)(
                    keys=keys, args=[token, self._ttl_ms, mine, *args]
                )
                got, payload = (
                    (tried[0], list(tried[1:])) if isinstance(tried, list) else (tried, [])
                )
        return mine, payload

    @contextlib.contextmanager
    def forfeiting(self, keys: list[str], token: str, mine: int) -> Iterator[None]:
        """If the block fails other than by LockTimeout (a Redis error or timeout, a cancelled
        request), give back in the background what `token` may hold once Redis answers again:
        a script that timed out here may still run there, and would leave the conversation
        locked, or its number waiting, for a whole TTL (measured: the next message waited
        9.9 s after a 5 s freeze of Redis)."""
        try:
            yield
        except LockTimeout:
            raise
        except BaseException:
            self._owed.append((keys[:5], token, mine))
            if self._giving_back is None or self._giving_back.done():
                self._giving_back = asyncio.create_task(self._give_back())
            raise

    async def _give_back(self) -> None:
        """Each failed turn's lock or number, once Redis answers. Twice each: the second call
        goes after the first's answer, so after whatever a frozen Redis still had queued from
        us (the script that timed out)."""
        while self._owed:
            keys, token, mine = self._owed[0]
            try:
                for _ in range(2):
                    await self._forfeit(keys=keys, args=[token, mine])
            except RedisError:
                await asyncio.sleep(GIVE_BACK_RETRY)
                continue
            self._owed.popleft()

    @asynccontextmanager
    async def renewed(self, key: str, token: str) -> AsyncIterator[None]:
        """Keep the holder's key alive while the block runs."""
        renewer = asyncio.create_task(self._keep_alive(key, token))
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _keep_alive(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            if not await self._renew(keys=[key], args=[token, self._ttl_ms]):
                return  # lost it (expired while we were stalled); nothing left to renew


def lock_keys(conversation_id: str) -> list[str]:
    """KEYS[1..5] of the lock's scripts."""
    return [
        redis_keys.lock_queue(conversation_id),
        redis_keys.lock_serving(conversation_id),
        redis_keys.lock(conversation_id),
        redis_keys.lock_turn(conversation_id),
        redis_keys.lock_gone(conversation_id),
    ]
