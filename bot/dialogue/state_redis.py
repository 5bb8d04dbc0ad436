"""Conversation state in Redis: JSON with a TTL, saved only if its revision is unchanged (Lua)."""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.dialogue import redis_keys
from bot.dialogue.state import ConversationState, StateConflict

# Save `json` at `key` if the stored revision is still `expected` (1), else nothing (0). A
# missing key (expired or flushed since we loaded it) is saved over: there is nothing newer to
# lose. Shared with the conversation gate (bot/dialogue/live_redis.py).
SAVE_LUA = """
local function save_state(key, expected, json, ttl)
  local current = redis.call('GET', key)
  if current and tostring(cjson.decode(current)['revision']) ~= expected then
    return 0
  end
  redis.call('SET', key, json, 'PX', ttl)
  return 1
end
"""
_SAVE = SAVE_LUA + "return save_state(KEYS[1], ARGV[1], ARGV[2], ARGV[3])"


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
