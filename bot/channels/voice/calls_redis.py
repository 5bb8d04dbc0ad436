"""The call store shared by every process: each call's state in Redis (keys in redis_keys.py).

A change is read-modify-write under WATCH/MULTI: the call's key is watched, the state read and
changed in Python, and written back in a transaction that fails if another process wrote the
key meanwhile; then the change runs again on the newer state (so it must be pure). Both kinds
of key live as long as in MemoryCallStore (CALL_TTL_SECONDS), counted from the last write.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, WatchError

from bot.channels.voice import redis_keys as keys
from bot.channels.voice.calls import (
    CALL_TTL_SECONDS,
    CallState,
    CallStoreUnavailable,
    Change,
)
from bot.dialogue.messages import Reply
from crm_store.enums import Channel

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 50  # each retry means another write won: N writers at once need N - 1 at most


def dump_state(state: CallState) -> str:
    data: dict[str, Any] = {
        "sid": state.call_sid,
        "channel": state.channel.value,
        "sender": state.sender_id,
        "number": state.number,
        "step": state.step,
        "prompt": [reply.to_json() for reply in state.prompt],
        "silences": state.silences,
        "hold_since": None if state.hold_since is None else state.hold_since.isoformat(),
        "callback": state.callback_requested,
        "seq": state.status_sequence,
        "final": state.final_status,
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def load_state(raw: str | bytes) -> CallState:
    data = json.loads(raw)
    hold_since = data["hold_since"]
    return CallState(
        call_sid=str(data["sid"]),
        channel=Channel(data["channel"]),
        sender_id=str(data["sender"]),
        number=data["number"],
        step=int(data["step"]),
        prompt=tuple(Reply.from_json(item) for item in data["prompt"]),
        silences=int(data["silences"]),
        hold_since=None if hold_since is None else datetime.fromisoformat(hold_since),
        callback_requested=bool(data["callback"]),
        status_sequence=int(data["seq"]),
        final_status=data["final"],
    )


class RedisCallStore:
    def __init__(self, client: aioredis.Redis, ttl_seconds: float = CALL_TTL_SECONDS) -> None:
        self._redis = client
        self._ttl_ms = max(1, int(ttl_seconds * 1000))

    async def load(self, call_sid: str) -> CallState | None:
        try:
            raw = await self._redis.get(keys.call(call_sid))
        except (RedisError, OSError) as exc:
            raise CallStoreUnavailable(f"call {call_sid}: {exc}") from exc
        return _decoded(call_sid, raw)

    async def update(self, fresh: CallState, change: Change) -> tuple[CallState, CallState]:
        key = keys.call(fresh.call_sid)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for _ in range(MAX_ATTEMPTS):
                    try:
                        await pipe.watch(key)
                        before = _decoded(fresh.call_sid, await pipe.get(key)) or fresh
                        after = change(before)
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.set(key, dump_state(after), px=self._ttl_ms)
                        await pipe.execute()
                        return before, after
                    except WatchError:
                        continue  # another process changed the call: apply to the newer state
        except (RedisError, OSError) as exc:
            raise CallStoreUnavailable(f"call {fresh.call_sid}: {exc}") from exc
        raise CallStoreUnavailable(f"call {fresh.call_sid}: changed by others {MAX_ATTEMPTS} times")

    async def answer_for(self, key: str) -> str | None:
        try:
            raw = await self._redis.get(keys.answer(key))
        except (RedisError, OSError) as exc:
            raise CallStoreUnavailable(f"answer {key}: {exc}") from exc
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def remember_answer(self, key: str, twiml: str) -> None:
        try:
            await self._redis.set(keys.answer(key), twiml, px=self._ttl_ms)
        except (RedisError, OSError) as exc:
            raise CallStoreUnavailable(f"answer {key}: {exc}") from exc


def _decoded(call_sid: str, raw: Any) -> CallState | None:
    """The stored state; a value that cannot be read (written by another version) counts as
    none, so the call goes on afresh rather than failing at every webhook."""
    if raw is None:
        return None
    try:
        return load_state(raw)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("voice: call %s: stored state unreadable (%s); starting afresh", call_sid, exc)
        return None
