"""What the phone line remembers about a call between two webhooks, behind a small port.

Twilio keeps no session for us: every webhook is a fresh POST. Per call we keep who is calling,
the questions last asked (their buttons are what a key press picks), how often the caller said
nothing, when their hold began, and the status callbacks already seen; per webhook, the TwiML
already answered, so a retry gets the same answer without running anything twice.

The in-memory adapter serves one process. With `stores.redis_url` set the channel uses
RedisCallStore (calls_redis.py: one JSON value per call, changed with WATCH/MULTI, and the
answers, all under the same TTL as here), so consecutive webhooks of one call may reach different
processes behind a load balancer: nothing needs to be sticky.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from bot.dialogue.messages import Reply
from crm_store.enums import Channel

CALL_TTL_SECONDS = 6 * 3600.0  # long after any call ends and its last status callback arrived
MAX_CALLS = 50_000
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CallState:
    call_sid: str
    channel: Channel  # PHONE for a caller we can see; REST for a withheld number
    sender_id: str  # the caller's E.164 number, or "anonymous:<CallSid>"
    number: str | None  # the number we could call back on (None when withheld)
    step: int = 0  # counts the answers given, so each question's action URL is unique
    prompt: tuple[Reply, ...] = ()  # what the assistant last asked (repeated on silence)
    silences: int = 0  # empty answers in a row
    hold_since: datetime | None = None
    callback_requested: bool = False
    status_sequence: int = -1  # the newest status callback seen (SequenceNumber)
    final_status: str | None = None  # set once, when the call's end was recorded

    @property
    def conversation_id(self) -> str:
        return f"{self.channel.value}:{self.sender_id}"


Change = Callable[[CallState], CallState]


class CallStoreUnavailable(Exception):
    """The shared call store could not be read or written (Redis down, or a call changed by
    other processes too often to apply a change)."""


class CallStore(Protocol):
    async def load(self, call_sid: str) -> CallState | None: ...

    async def update(self, fresh: CallState, change: Change) -> tuple[CallState, CallState]:
        """Apply `change` atomically to the call's state (`fresh` if there is none yet);
        returns the state before and after. `change` must be pure: a shared adapter runs it
        again when another process changed the call in the meantime."""
        ...

    async def answer_for(self, key: str) -> str | None:
        """The TwiML already answered to the webhook with this idempotency key."""
        ...

    async def remember_answer(self, key: str, twiml: str) -> None: ...


class MemoryCallStore:
    """One process's calls; entries expire after `ttl_seconds` and the oldest go when full."""

    def __init__(self, ttl_seconds: float = CALL_TTL_SECONDS, max_items: int = MAX_CALLS) -> None:
        self._ttl = ttl_seconds
        self._max = max_items
        self._calls: dict[str, tuple[float, CallState]] = {}
        self._answers: dict[str, tuple[float, str]] = {}

    async def load(self, call_sid: str) -> CallState | None:
        item = self._calls.get(call_sid)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    async def update(self, fresh: CallState, change: Change) -> tuple[CallState, CallState]:
        before = await self.load(fresh.call_sid) or fresh
        after = change(before)  # no await in between: atomic within the event loop
        self._put(self._calls, after.call_sid, after)
        return before, after

    async def answer_for(self, key: str) -> str | None:
        item = self._answers.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    async def remember_answer(self, key: str, twiml: str) -> None:
        self._put(self._answers, key, twiml)

    def _put(self, table: dict[str, tuple[float, T]], key: str, value: T) -> None:
        now = time.monotonic()
        if key not in table and len(table) >= self._max:
            for stale in [k for k, (expires, _) in table.items() if expires < now]:
                del table[stale]
            while len(table) >= self._max:  # still full: the oldest entries go
                del table[next(iter(table))]
        table.pop(key, None)
        table[key] = (now + self._ttl, value)
