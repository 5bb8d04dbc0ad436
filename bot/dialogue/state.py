"""Conversation state: what the bot remembers between messages, stored as versioned JSON."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

SCHEMA_VERSION = 1


class StateConflict(RuntimeError):
    """Someone saved the conversation since we loaded it (the lock should prevent this)."""


@dataclass
class ConversationState:
    """Mutable within one turn (loaded, changed by the flows, saved once)."""

    conversation_id: str
    customer_id: int | None = None
    verified: bool = False
    # the channel session (a phone call) a proof belongs to: a new session needs a new proof
    session: str | None = None
    language: str = "en"
    flow: str | None = None  # the active flow, e.g. "book"
    slots: dict[str, Any] = field(default_factory=dict)
    ticket_id: int | None = None  # open ticket: the conversation is in handoff
    awaiting_rating_ticket: int | None = None
    fallbacks: int = 0  # consecutive messages the bot did not understand
    last_intent: str | None = None
    revision: int = 0  # bumped on each save; optimistic concurrency check

    def to_json(self) -> str:
        return json.dumps({"v": SCHEMA_VERSION, **self._fields()}, separators=(",", ":"))

    def saved_json(self) -> str:
        """The JSON this state will have once saved (its revision bumped)."""
        return json.dumps(
            {"v": SCHEMA_VERSION, **self._fields(), "revision": self.revision + 1},
            separators=(",", ":"),
        )

    def _fields(self) -> dict[str, Any]:
        # not dataclasses.asdict: it deep-copies the slots, which json.dumps only reads (it
        # was 1.4% of a loaded server's CPU); slots hold JSON values only
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, raw: str | bytes) -> ConversationState:
        data = json.loads(raw)
        version = data.pop("v", None)
        if version != SCHEMA_VERSION:
            raise ValueError(f"conversation state schema {version!r} is not {SCHEMA_VERSION}")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def end_flow(self) -> None:
        self.flow = None
        self.slots = {}


class ConversationStore(Protocol):
    async def load(self, conversation_id: str) -> ConversationState | None: ...

    async def save(self, state: ConversationState) -> None:
        """Store `state` if nobody saved since it was loaded; bumps its revision."""
        ...

    async def delete(self, conversation_id: str) -> None: ...


class MemoryConversationStore:
    """One process, in memory; entries expire after `ttl_seconds` without a save."""

    def __init__(self, ttl_seconds: float = 7 * 86400) -> None:
        self._ttl = ttl_seconds
        self._items: dict[str, tuple[float, str]] = {}

    async def load(self, conversation_id: str) -> ConversationState | None:
        item = self._items.get(conversation_id)
        if item is None or item[0] < time.monotonic():
            self._items.pop(conversation_id, None)
            return None
        return ConversationState.from_json(item[1])

    async def save(self, state: ConversationState) -> None:
        current = await self.load(state.conversation_id)
        if current is not None and current.revision != state.revision:
            raise StateConflict(state.conversation_id)
        state.revision += 1
        self._items[state.conversation_id] = (time.monotonic() + self._ttl, state.to_json())

    async def delete(self, conversation_id: str) -> None:
        self._items.pop(conversation_id, None)
