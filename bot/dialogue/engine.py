"""The dialogue engine: one inbound message in, the bot's replies out, in conversation order."""

from __future__ import annotations

import logging
import unicodedata

from bot.dialogue.admission import TurnSlots
from bot.dialogue.gate import ConversationGate, Held
from bot.dialogue.identity import NEW_CONTACT, recognise
from bot.dialogue.messages import InboundMessage, Reply
from bot.dialogue.outbox import ChannelOutbound
from bot.dialogue.router import Router
from bot.dialogue.services import DialogueServices
from bot.dialogue.state import ConversationState
from bot.dialogue.turn import Turn
from crm_store.customers import NewInteraction
from crm_store.enums import Direction
from crm_store.errors import StoreUnavailable
from crm_store.turns import AlreadyHandled

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
        gate: ConversationGate,
        outbound: ChannelOutbound | None = None,
        slots: TurnSlots | None = None,
    ) -> None:
        self.services = services
        self.outbound = outbound
        self.router = router
        self._gate = gate
        # how many turns this process takes on at once (server.max_turns); none given: no bound
        self.slots = slots or TurnSlots(limit=1 << 30, wait=0)

    async def handle(self, message: InboundMessage) -> list[Reply]:
        """Process one message exactly once; a retried message id gets the same replies.

        Whether a message id was answered is read from the record in the statement that opens
        the turn and written in the one that closes it, under the conversation's lock. The
        outbox messages the turn takes go out with its replies; if the turn does not commit,
        they go back to the outbox for the next one.

        A turn first needs one of the process's places (Overloaded when none frees up in time;
        sent again, the message keeps its place in line), then the conversation (LockTimeout);
        both are Busy: nothing was done, try again.
        """
        cid = message.conversation_id
        again = None if message.message_id is None else f"{message.channel}:{message.message_id}"
        async with (
            self.slots.take(again),
            self._gate.enter(cid, drain=self.outbound is not None) as held,
        ):
            try:
                return await self._turn(message, held)
            finally:
                if held.waiting:
                    await self._put_back(cid, held.waiting)

    async def _turn(self, message: InboundMessage, held: Held) -> list[Reply]:
        services = self.services
        state = held.state
        opening = await services.store.turns.open(
            message.channel,
            message.sender_id,
            customer_id=state.customer_id,
            message_id=message.message_id,
            lead_name=NEW_CONTACT,
        )
        if opening.answered is not None:  # a retry of a message answered before
            self._catch_up(held, opening.answered_state)
            return [Reply.from_json(item) for item in opening.answered]
        customer = await recognise(services.store, message, state, opening)
        text = clean_text(message.text)
        now = services.clock()
        parse = await services.interpreter.parse(
            text, reference_time=now, timezone=customer.timezone
        )
        turn = Turn(message, state, customer, parse, now, services)
        cid = message.conversation_id
        if self.outbound:
            self.outbound.begin_turn(cid)
        try:
            await self.router.route(turn)
        except StoreUnavailable:
            raise  # nothing of the turn is kept: the channel answers "try again" (503)
        except Exception:
            log.exception("dialogue failed in %s", cid)
            turn.replies = [Reply(turn.text("error"))]
        finally:
            pushed = self.outbound.end_turn(cid) if self.outbound else []
        replies = [*held.waiting, *turn.replies, *pushed]
        try:
            await services.store.turns.close(
                self._history(message, turn, customer.id, text),
                channel=message.channel,
                message_id=message.message_id,
                replies=[reply.to_json() for reply in replies],
                state=state.saved_json(),
            )
        except AlreadyHandled as exc:  # another worker answered it first: theirs stands
            log.warning("message %s of %s was handled twice", message.message_id, cid)
            held.waiting.extend(pushed)  # not delivered: back to the outbox for the next turn
            return [Reply.from_json(item) for item in exc.replies]
        except BaseException:
            held.waiting.extend(pushed)
            raise
        held.waiting = []  # delivered with this turn's replies
        held.keep()
        return replies

    async def _put_back(self, conversation_id: str, replies: list[Reply]) -> None:
        if self.outbound is None:
            return
        try:
            await self.outbound.outbox.put_back(conversation_id, replies)
        except Exception:  # the live layer is down: the turn fails anyway
            log.exception("%d outbox messages of %s lost", len(replies), conversation_id)

    @staticmethod
    def _catch_up(held: Held, answered: str | None) -> None:
        """A retry found its message answered: if the state that answer left never reached the
        live layer (a crash between the record's commit and the save, or a lost Redis), put it
        there, so the next message is read in the right context."""
        if answered is None:
            return
        left = ConversationState.from_json(answered)
        if held.state.revision >= left.revision:
            return  # the live state is that one, or later
        log.info("restoring the state of %s after an unfinished turn", left.conversation_id)
        left.revision = held.state.revision
        held.keep(left)

    @staticmethod
    def _history(
        message: InboundMessage, turn: Turn, customer_id: int, text: str
    ) -> list[NewInteraction]:
        """The turn in the contact history: the message, then each reply."""
        cid = message.conversation_id
        inbound = NewInteraction(
            customer_id,
            message.channel,
            Direction.INBOUND,
            text,
            intent=turn.intent,
            conversation_id=cid,
            occurred_at=turn.now,
        )
        return [
            inbound,
            *(
                NewInteraction(
                    customer_id,
                    message.channel,
                    Direction.OUTBOUND,
                    reply.text,
                    conversation_id=cid,
                    occurred_at=turn.now,
                )
                for reply in turn.replies
            ),
        ]
