"""What the dialogue needs from outside, as Protocols (adapters are chosen in bot/app.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.dialogue.messages import Reply
from crm_store.enums import Channel
from nlu.types import ParseResult


class Interpreter(Protocol):
    """Language understanding (the local NLU engine, or a remote Rasa server)."""

    async def parse(
        self, text: str, reference_time: datetime | None = None, timezone: str | None = None
    ) -> ParseResult: ...


class Outbound(Protocol):
    """The one port for messages nobody just asked for (agent replies, reminders, updates)."""

    async def send(self, channel: Channel, recipient_id: str, replies: Sequence[Reply]) -> None: ...
