"""Conversation state in Redis: JSON with a TTL, saved only if its revision is unchanged (Lua)."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.dialogue import redis_keys
from bot.dialogue.state import ConversationState, StateConflict

# KEYS[1] = state key; ARGV = expected revision, new JSON, ttl ms. A missing key (expired or
# flushed since we loaded it) is saved over: there is nothing newer to lose.
_SAVE = """
local current = redis.call('GET', KEYS[1])
if current and tostring(cjson.decode(current)['revision']) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""


class RedisConversationStore:
    def __init__(self, client: aioredis.Redis, ttl_seconds: float = 7 * 86400) -> None:
        self._redis = client
        self._ttl_ms = int(ttl_seconds * 1000)
        self._save = client.register_script(_SAVE)

    async def load(self, conversation_id: str) -> ConversationState | None:
        raw = await self._redis.get(redis_keys.conversation(conversation_id))
        return None if raw is None else ConversationState.from_json(raw)

    async def save(self, state: ConversationState) -> None:
        expected = state.revision
        state.revision += 1
        ok = await self._save(
            keys=[redis_keys.conversation(state.conversation_id)],
            args=[str(expected), state.to_json(), self._ttl_ms],
        )
        if not ok:
            state.revision = expected
            raise StateConflict(state.conversation_id)

    async def delete(self, conversation_id: str) -> None:
        await self._redis.delete(redis_keys.conversation(conversation_id))
