"""Telegram updates into the dialogue: commands, text, button taps and shared contacts.

Every update passes a gate first: an update id seen before is dropped (Telegram redelivers when
it did not get a 2xx in time; the claims are shared by every process when Redis is configured,
live_state.py), bots are ignored, and group chats get one line asking for a
private chat (nothing private is discussed in a group). A private chat's messages become
`InboundMessage`s with message id `tg:<update_id>`, so the dialogue also processes each once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from telegram import Message, Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.channels.host import ChannelHost
from bot.channels.telegram.live_state import TelegramStateUnavailable, UpdateClaims
from bot.channels.telegram.sender import TelegramSender
from bot.dialogue.admission import Busy, worth_logging
from bot.dialogue.flows.verification import (
    CONTACT_REJECTED,
    REJECTED_FORWARDED,
    REJECTED_NOT_OWN,
    SHARE_CONTACT,
)
from bot.dialogue.messages import InboundMessage, Reply
from bot.dialogue.templates import Templates
from crm_store.enums import Channel
from crm_store.errors import StoreUnavailable

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
LANGUAGE = "en"
# Telegram commands -> what the dialogue understands (Rasa-style intent payloads).
COMMANDS = {
    "start": "/greet",
    "book": "/book_appointment",
    "appointments": "/list_appointments",
    "human": "/request_human",
    "help": "/help",
}
ALLOWED_UPDATES = ("message", "callback_query")


def e164(raw: str) -> str:
    """Telegram's phone number ("447700900001", "+44 7700 900001") as "+447700900001"."""
    digits = re.sub(r"[^\d]", "", raw)
    return f"+{digits}"


class UpdateHandlers:
    """PTB handlers feeding the dialogue; `redeliver` (webhook mode) turns a store outage into
    "answer 503" (see `take_retry`) instead of an apology, so Telegram sends the update again."""

    def __init__(
        self,
        host: ChannelHost,
        sender: TelegramSender,
        templates: Templates,
        claims: UpdateClaims,
        *,
        redeliver: bool,
    ) -> None:
        self._host = host
        self._sender = sender
        self._templates = templates
        self._redeliver = redeliver
        self._claims = claims
        self._retry: set[int] = set()

    def install(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        new = filters.UpdateType.MESSAGE
        application.add_handler(TypeHandler(Update, self._gate), group=-1)
        application.add_handler(CommandHandler(list(COMMANDS), self._on_command, filters=new))
        application.add_handler(MessageHandler(new & filters.CONTACT, self._on_contact))
        application.add_handler(MessageHandler(new & filters.TEXT, self._on_text))
        application.add_handler(CallbackQueryHandler(self._on_callback))
        application.add_handler(MessageHandler(new, self._on_other))

    def take_retry(self, update_id: int) -> bool:
        """True (once) if the update could not be processed and should be redelivered."""
        if update_id in self._retry:
            self._retry.discard(update_id)
            return True
        return False

    def text(self, key: str) -> str:
        return self._templates.render(LANGUAGE, key)

    # -- the gate --------------------------------------------------------------------------------

    async def _gate(self, update: Update, context: Context) -> None:
        try:
            claimed = await self._claims.claim(update.update_id)
        except TelegramStateUnavailable as exc:
            if self._redeliver:  # 503: Telegram sends it again
                log.warning("telegram: update %s to be redelivered: %s", update.update_id, exc)
                self._retry.add(update.update_id)
                raise ApplicationHandlerStop from None
            log.warning("telegram: update %s processed without dedupe: %s", update.update_id, exc)
            claimed = True  # polling: one process polls, and the dialogue dedupes the turn
        if not claimed:
            log.info("telegram: update %s seen before; not processed again", update.update_id)
            raise ApplicationHandlerStop
        user, chat = update.effective_user, update.effective_chat
        if user is None or user.is_bot:
            raise ApplicationHandlerStop
        if chat is not None and chat.type != ChatType.PRIVATE:
            if update.callback_query is not None:
                await self._sender.answer_callback(
                    chat.id, update.callback_query.id, self.text("telegram_private_only")
                )
            elif update.message is not None and (update.message.text or update.message.contact):
                await self._sender.deliver(chat.id, [Reply(self.text("telegram_private_only"))])
            raise ApplicationHandlerStop

    # -- the handlers ------------------------------------------------------------------------------

    async def _on_command(self, update: Update, context: Context) -> None:
        message = _message(update)
        word = (message.text or "/").split()[0][1:].partition("@")[0].lower()
        await self._converse(update, message.chat_id, COMMANDS.get(word, message.text or ""))

    async def _on_text(self, update: Update, context: Context) -> None:
        message = _message(update)
        await self._converse(update, message.chat_id, message.text or "")

    async def _on_contact(self, update: Update, context: Context) -> None:
        message = _message(update)
        contact, user = message.contact, update.effective_user
        assert contact is not None and user is not None
        rejected = None
        if message.forward_origin is not None or message.is_automatic_forward:
            rejected = REJECTED_FORWARDED
        elif contact.user_id is None or contact.user_id != user.id:
            rejected = REJECTED_NOT_OWN
        if rejected is not None:
            log.info("telegram: contact from user %s not accepted (%s)", user.id, rejected)
            await self._converse(
                update, message.chat_id, f"/{SHARE_CONTACT}", metadata={CONTACT_REJECTED: rejected}
            )
            return
        await self._converse(
            update,
            message.chat_id,
            f"/{SHARE_CONTACT}",
            verified_phone=e164(contact.phone_number),
            remove_keyboard=True,
        )

    async def _on_callback(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        tapped = query.message if isinstance(query.message, Message) else None
        chat_id = tapped.chat_id if tapped is not None else query.from_user.id
        try:
            payload = await self._sender.callbacks.payload(query.data) if query.data else None
        except TelegramStateUnavailable as exc:
            if await self._redeliver_later(update, exc):
                return
            payload = None
        if payload is None:
            await self._sender.answer_callback(
                chat_id, query.id, self.text("telegram_button_expired")
            )
            return
        await self._sender.answer_callback(chat_id, query.id)
        if tapped is not None:
            await self._sender.clear_buttons(chat_id, tapped.message_id)
        await self._converse(update, chat_id, payload)

    async def _on_other(self, update: Update, context: Context) -> None:
        message = _message(update)
        await self._sender.deliver(message.chat_id, [Reply(self.text("telegram_text_only"))])

    # -- into the dialogue -------------------------------------------------------------------------

    async def _converse(
        self,
        update: Update,
        chat_id: int,
        text: str,
        *,
        verified_phone: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        remove_keyboard: bool = False,
    ) -> None:
        user = update.effective_user
        assert user is not None
        inbound = InboundMessage(
            channel=Channel.TELEGRAM,
            sender_id=str(user.id),
            text=text,
            received_at=self._host.clock(),
            message_id=f"tg:{update.update_id}",
            verified=verified_phone is not None,
            verified_phone=verified_phone,
            metadata=metadata or {},
        )
        try:
            await self._reachable_again(inbound.sender_id)
            replies = await self._host.handle(inbound)
        except (StoreUnavailable, Busy) as exc:
            if await self._redeliver_later(update, exc):
                return
            log.warning("telegram: turn in %s failed: %s", inbound.conversation_id, exc)
            replies = [Reply(self.text("error"))]
        except Exception:  # the channel edge: the customer gets a polite reply, we get the trace
            log.exception("telegram: turn in %s failed", inbound.conversation_id)
            replies = [Reply(self.text("error"))]
        await self._sender.deliver(chat_id, replies, remove_keyboard=remove_keyboard)

    async def _redeliver_later(self, update: Update, exc: Exception) -> bool:
        """In webhook mode: give the update back and answer 503, so Telegram sends it again
        (to any process). False in polling mode: the caller answers the customer instead."""
        if not self._redeliver:
            return False
        if worth_logging(exc):
            log.warning(
                "telegram: update %s not processed, to be redelivered: %s", update.update_id, exc
            )
        try:
            await self._claims.release(update.update_id)
        except TelegramStateUnavailable as error:  # its claim expires after a day
            log.error("telegram: update %s could not be given back: %s", update.update_id, error)
        self._retry.add(update.update_id)
        return True

    async def _reachable_again(self, user_id: str) -> None:
        """A customer who writes again has unblocked the bot."""
        customers = self._host.store.customers
        identity = await customers.identity(Channel.TELEGRAM, user_id)
        if identity is not None and identity.unreachable:
            await customers.mark_unreachable(Channel.TELEGRAM, user_id, False)
            log.info("telegram: user %s is reachable again", user_id)


def _message(update: Update) -> Message:
    message = update.effective_message
    assert message is not None
    return message
