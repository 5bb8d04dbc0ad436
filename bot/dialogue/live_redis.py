"""The conversation gate on Redis: one round trip in (lock, state, outbox), one out (save and
release), where the separate lock, state store and outbox take five.

The scripts are the lock's own (LOCK_LUA) and the state store's save (SAVE_LUA) with the reads
and writes of the turn added, so the rules are the same ones: the fair ticket lock, and a state
saved only over the revision it was loaded at.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.asyncio as aioredis

from bot.dialogue import redis_keys
from bot.dialogue.gate import Held
from bot.dialogue.lock import LOCK_LUA, RedisConversationLock, lock_keys
from bot.dialogue.messages import Reply
from bot.dialogue.state import ConversationState, StateConflict
from bot.dialogue.state_redis import SAVE_LUA

# KEYS[6] the state, KEYS[7] the outbox. With the lock: the state (or false) and, if `drain`
# is '1', the outbox's messages, which leave the outbox.
_READ_LUA = """
local function read_turn(drain)
  local state = redis.call('GET', KEYS[6]) or false
  local waiting = {}
  if drain == '1' then
    waiting = redis.call('LRANGE', KEYS[7], 0, -1)
    redis.call('DEL', KEYS[7])
  end
  return state, waiting
end
"""
# ARGV: token, lock ttl, drain
_ENTER = (
    LOCK_LUA
    + _READ_LUA
    + """
local mine, got = take(ARGV[1], tonumber(ARGV[2]))
if got == 0 then return {mine, 0} end
local state, waiting = read_turn(ARGV[3])
return {mine, 1, state, waiting}
"""
)
# ARGV: token, lock ttl, our number, drain
_TRY_ENTER = (
    LOCK_LUA
    + _READ_LUA
    + """
if try_take(ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[2])) == 0 then return {0} end
local state, waiting = read_turn(ARGV[4])
return {1, state, waiting}
"""
)
# ARGV: token, our number, save ('1' or '0'), expected revision, state JSON, state ttl.
# Returns 1, or 0 if the state was not saved because someone saved it meanwhile.
_LEAVE = (
    LOCK_LUA
    + SAVE_LUA
    + """
local saved = 1
if ARGV[3] == '1' then saved = save_state(KEYS[6], ARGV[4], ARGV[5], ARGV[6]) end
release(ARGV[1], tonumber(ARGV[2]))
return saved
"""
)


_NO_SAVE = ("0", "", "", 0)


class RedisConversationGate:
    def __init__(
        self, client: aioredis.Redis, lock: RedisConversationLock, state_ttl_seconds: float
    ) -> None:
        self._lock = lock
        self._state_ttl_ms = int(state_ttl_seconds * 1000)
        self._enter = client.register_script(_ENTER)
        self._try_enter = client.register_script(_TRY_ENTER)
        self._leave = client.register_script(_LEAVE)

    @asynccontextmanager
    async def enter(self, conversation_id: str, *, drain: bool = False) -> AsyncIterator[Held]:
        keys = [
            *lock_keys(conversation_id),
            redis_keys.conversation(conversation_id),
            redis_keys.outbox(conversation_id),
        ]
        token = secrets.token_hex(16)
        mine, (raw, waiting) = await self._lock.acquire(
            keys,
            token,
            conversation_id,
            take=self._enter,
            try_take=self._try_enter,
            args=["1" if drain else "0"],
        )
        held = _held(conversation_id, raw, waiting)
        try:
            async with self._lock.renewed(keys[2], token):
                yield held
        except BaseException:
            with self._lock.forfeiting(keys, token, mine):
                await self._leave(keys=keys, args=[token, mine, *_NO_SAVE])
            raise
        save: list[str | int] = list(_NO_SAVE)
        if held.kept:
            save = ["1", str(held.state.revision), held.state.saved_json(), self._state_ttl_ms]
        with self._lock.forfeiting(keys, token, mine):
            saved = await self._leave(keys=keys, args=[token, mine, *save])
        if not saved:
            raise StateConflict(conversation_id)
        if held.kept:
            held.state.revision += 1


def _held(conversation_id: str, raw: Any, waiting: Any) -> Held:
    state = ConversationState.from_json(raw) if raw else ConversationState(conversation_id)
    return Held(state, [Reply.from_json(json.loads(item)) for item in waiting or []])
