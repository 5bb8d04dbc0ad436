"""The conversation gate: a turn's way in and out of the live layer.

Entering waits for the conversation's lock, then loads its state and (for a dialogue turn)
takes the messages waiting in its outbox; leaving saves the state if the turn kept it, then
releases the lock. `LocalGate` does this with the lock, state store and outbox it is given (one
call each); `RedisConversationGate` (bot/dialogue/live_redis.py) does the same in two Redis round
trips, one in and one out.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from bot.dialogue.lock import ConversationLock
from bot.dialogue.messages import Reply
from bot.dialogue.outbox import MemoryOutbox, RedisOutbox
from bot.dialogue.state import ConversationState, ConversationStore


@dataclass
class Held:
    """A conversation held by one turn: its state, loaded under the lock (a fresh one if it
    had none), and the outbox messages taken for this turn."""

    state: ConversationState
    waiting: list[Reply] = field(default_factory=list)
    kept: bool = False

    def keep(self, state: ConversationState | None = None) -> None:
        """Save the state (or `state` in its place) as the turn leaves; without this, nothing
        is saved (a turn that failed leaves the conversation as it found it)."""
        if state is not None:
            self.state = state
        self.kept = True


class ConversationGate(Protocol):
    def enter(
        self, conversation_id: str, *, drain: bool = False
    ) -> contextlib.AbstractAsyncContextManager[Held]:
        """Hold the conversation for one turn. StateConflict as it leaves if someone saved
        the state meanwhile (the lock should prevent it), LockTimeout if the wait is too long."""
        ...


class LocalGate:
    def __init__(
        self,
        locks: ConversationLock,
        states: ConversationStore,
        outbox: MemoryOutbox | RedisOutbox,
    ) -> None:
        self._locks = locks
        self._states = states
        self._outbox = outbox

    @asynccontextmanager
    async def enter(self, conversation_id: str, *, drain: bool = False) -> AsyncIterator[Held]:
        async with self._locks.hold(conversation_id):
            state = await self._states.load(conversation_id)
            held = Held(state or ConversationState(conversation_id))
            if drain:
                held.waiting = await self._outbox.drain(conversation_id)
            yield held
            if held.kept:
                await self._states.save(held.state)
