"""Conversation flows: each one starts on some intents and may hold the conversation for a while."""

from __future__ import annotations

from typing import Protocol

from bot.dialogue.turn import Turn


class Flow(Protocol):
    name: str
    intents: frozenset[str]

    async def start(self, turn: Turn) -> None:
        """Begin on a fresh intent."""
        ...

    async def resume(self, turn: Turn) -> bool:
        """Continue the active flow; False hands the message back to the router."""
        ...
