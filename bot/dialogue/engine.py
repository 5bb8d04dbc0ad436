"""The dialogue engine: one inbound message in, the bot's replies out, in conversation order."""

from __future__ import annotations

import logging
import unicodedata

from bot.dialogue.dedupe import Deduplicator
from bot.dialogue.identity import recognise
from bot.dialogue.lock import ConversationLock
from bot.dialogue.messages import InboundMessage, Reply
from bot.dialogue.outbox import ChannelOutbound
from bot.dialogue.router import Router
from bot.dialogue.services import DialogueServices
from bot.dialogue.state import ConversationState, ConversationStore
from bot.dialogue.turn import Turn
from crm_store.customers import NewInteraction
from crm_store.enums import Direction

log = logging.getLogger(__name__)

MAX_TEXT = 2000


def clean_text(text: str, limit: int = MAX_TEXT) -> str:
    """NFC, no control characters (newlines become spaces), at most `limit` characters."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(text.split())[:limit]


class DialogueEngine:
    def __init__(
        self,
        services: DialogueServices,
        router: Router,
        states: ConversationStore,
        locks: ConversationLock,
        dedupe: Deduplicator,
        outbound: ChannelOutbound | None = None,
    ) -> None:
        self.services = services
        self.outbound = outbound
        self.router = router
        self._states = states
        self._locks = locks
        self._dedupe = dedupe

    async def handle(self, message: InboundMessage) -> list[Reply]:
        """Process one message exactly once; a retried message id gets the same replies."""
        key = message.message_id
        channel = message.channel.value
        if key is not None:
            seen = await self._dedupe.replies_for(channel, key)
            if seen is not None:
                return seen
        async with self._locks.hold(message.conversation_id):
            if key is not None:  # a retry that waited for the lock behind its original
                seen = await self._dedupe.replies_for(channel, key)
                if seen is not None:
                    return seen
            replies = await self._turn(message)
            if key is not None:
                await self._dedupe.remember(channel, key, replies)
        return replies

    async def _turn(self, message: InboundMessage) -> list[Reply]:
        services = self.services
        state = await self._states.load(message.conversation_id) or ConversationState(
            message.conversation_id
        )
        customer = await recognise(services.store, message, state)
        text = clean_text(message.text)
        now = services.clock()
        parse = await services.interpreter.parse(
            text, reference_time=now, timezone=customer.timezone
        )
        turn = Turn(message, state, customer, parse, now, services)
        cid = message.conversation_id
        waiting = await self.outbound.outbox.drain(cid) if self.outbound else []
        if self.outbound:
            self.outbound.begin_turn(cid)
        try:
            await self.router.route(turn)
        except Exception:
            log.exception("dialogue failed in %s", cid)
            turn.replies = [Reply(turn.text("error"))]
        finally:
            pushed = self.outbound.end_turn(cid) if self.outbound else []
        await services.store.customers.record_interactions(
            [
                NewInteraction(
                    customer.id,
                    message.channel,
                    Direction.INBOUND,
                    text,
                    intent=parse.intent.name,
                    conversation_id=message.conversation_id,
                    occurred_at=now,
                ),
                *(
                    NewInteraction(
                        customer.id,
                        message.channel,
                        Direction.OUTBOUND,
                        reply.text,
                        conversation_id=message.conversation_id,
                        occurred_at=now,
                    )
                    for reply in turn.replies
                ),
            ]
        )
        await self._states.save(state)
        return [*waiting, *turn.replies, *pushed]
