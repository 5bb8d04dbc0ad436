"""Sending to Telegram: paced per chat and overall, retried on 429, never raising to the caller.

Telegram allows about one message a second in a private chat and about 30 a second per bot.
`Pacer` hands out send slots so neither is exceeded; a 429 answer's `retry_after` is honoured
(a bounded number of times); a 403 ("bot was blocked by the user") marks the customer's
Telegram identity unreachable, and nothing else happens to their conversation or ticket.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.channels.telegram.live_state import (
    CallbackStore,
    MemorySendSlots,
    SendSlots,
    TelegramStateUnavailable,
)
from bot.channels.telegram.render import PARSE_MODE, Outgoing, long_payloads, render_all
from bot.dialogue.messages import Reply
from crm_store.enums import Channel
from crm_store.errors import CrmError
from crm_store.store import CrmStore

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Send slots: one chat's messages go one at a time, each `per_chat_interval` seconds after
    the previous one was answered; over all chats, slots are 1/`global_rate` seconds apart. With
    `shared` slots (Redis) both schedules are every process's: a chat's sends from two processes
    also start `per_chat_interval` apart; without, this process's own.

    Counting a chat's interval from the previous answer (not the previous request) keeps the
    gap at Telegram's end at least the interval, whatever the network's jitter.
    """

    def __init__(
        self,
        per_chat_interval: float,
        global_rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        shared: SendSlots | None = None,
    ) -> None:
        self._chat_gap = per_chat_interval
        self._global_gap = 1.0 / global_rate
        self._clock = clock
        self._sleep = sleep
        self._own = MemorySendSlots(clock)
        self._shared = shared
        self._next_chat: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    @asynccontextmanager
    async def slot(self, chat_id: int, *, in_chat: bool = True) -> AsyncIterator[None]:
        """Hold a send slot for one call; `in_chat=False` (callback answers, edits) only
        counts against the global rate."""
        if not in_chat:
            await self._global_slot()
            yield
            return
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._waiting[chat_id] = self._waiting.get(chat_id, 0) + 1
        try:
            async with lock:
                delay = self._next_chat.get(chat_id, 0.0) - self._clock()
                if delay > 0:
                    await self._sleep(delay)
                await self._shared_slot(self._chat_gap, chat_id)
                await self._global_slot()
                try:
                    yield
                finally:
                    self._next_chat[chat_id] = max(
                        self._next_chat.get(chat_id, 0.0), self._clock() + self._chat_gap
                    )
        finally:
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:  # nobody queued: forget the chat once it is due
                del self._waiting[chat_id], self._locks[chat_id]
                if self._next_chat.get(chat_id, 0.0) <= self._clock():
                    self._next_chat.pop(chat_id, None)

    async def hold(self, chat_id: int, seconds: float) -> None:
        """Nothing more to this chat for `seconds` (Telegram said "retry after"), from any
        process when the slots are shared."""
        until = self._clock() + seconds
        self._next_chat[chat_id] = max(self._next_chat.get(chat_id, 0.0), until)
        if self._shared is not None:
            try:
                await self._shared.hold(chat_id, seconds)
            except TelegramStateUnavailable as exc:
                log.warning("telegram: shared send slots unavailable: %s", exc)

    async def _shared_slot(self, gap: float, chat_id: int | None) -> float | None:
        """Wait for the next shared slot (the bot's, or the chat's): the wait, or None without
        shared slots or while they are unavailable (this process paces alone meanwhile)."""
        if self._shared is None:
            return None
        try:
            wait = await self._shared.reserve(gap, chat_id)
        except TelegramStateUnavailable as exc:
            log.warning("telegram: shared send slots unavailable: %s", exc)
            return None
        if wait > 0:
            await self._sleep(wait)
        return wait

    async def _global_slot(self) -> None:
        if await self._shared_slot(self._global_gap, None) is None:
            wait = await self._own.reserve(self._global_gap)
            if wait > 0:
                await self._sleep(wait)


def quiet_retry_after_deprecation() -> None:
    """PTB 22 warns on every RetryAfter that `retry_after` will become a timedelta (unless
    PTB_TIMEDELTA is set); `retry_after_seconds` reads either form, so the warning is noise."""
    warnings.filterwarnings(
        "ignore", message=r".*`retry_after` will be of type", category=PTBDeprecationWarning
    )


def retry_after_seconds(exc: RetryAfter) -> float:
    value: int | float | timedelta = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    def __init__(
        self,
        bot: Bot,
        store: CrmStore,
        pacer: Pacer,
        callbacks: CallbackStore,
        *,
        max_retries: int,
        max_retry_wait: float,
    ) -> None:
        self._bot = bot
        self._store = store
        self._pacer = pacer
        self.callbacks = callbacks
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait

    async def send_replies(self, recipient_id: str, replies: Sequence[Reply]) -> None:
        """The outbound port's sender: agent replies, queue updates, reminders."""
        try:
            chat_id = int(recipient_id)
        except ValueError:
            log.warning(
                "telegram: %r is not a chat id; %d replies dropped", recipient_id, len(replies)
            )
            return
        await self.deliver(chat_id, replies)

    async def deliver(
        self, chat_id: int, replies: Sequence[Reply], *, remove_keyboard: bool = False
    ) -> bool:
        """Send every reply in order; False when a message could not be delivered."""
        messages = render_all(replies, remove_keyboard=remove_keyboard)
        try:
            await self.callbacks.keep(long_payloads(replies))  # before a tap can come back
        except TelegramStateUnavailable as exc:  # sent anyway: such a tap says "expired"
            log.warning("telegram: button payloads for chat %s not kept: %s", chat_id, exc)
        for message in messages:
            if not await self._send_message(chat_id, message):
                return False
        return True

    async def _send_message(self, chat_id: int, message: Outgoing) -> bool:
        async def send() -> Any:
            return await self._bot.send_message(
                chat_id, message.text, parse_mode=PARSE_MODE, reply_markup=message.markup
            )

        return await self.call(chat_id, "sendMessage", send) is not None

    async def call(
        self, chat_id: int, what: str, action: Callable[[], Awaitable[Any]], *, in_chat: bool = True
    ) -> Any | None:
        """Run one Bot API call in its slot; the result, or None when it finally failed."""
        for attempt in range(self._max_retries + 1):
            try:
                async with self._pacer.slot(chat_id, in_chat=in_chat):
                    return await action()
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                if attempt == self._max_retries or wait > self._max_retry_wait:
                    log.warning(
                        "telegram: %s to chat %s given up after 429 (retry after %ss)",
                        what,
                        chat_id,
                        wait,
                    )
                    return None
                log.info("telegram: %s to chat %s: 429, retrying in %ss", what, chat_id, wait)
                await self._pacer.hold(chat_id, wait)
            except Forbidden as exc:
                await self._unreachable(chat_id, exc)
                return None
            except TelegramError as exc:
                log.warning("telegram: %s to chat %s failed: %s", what, chat_id, exc)
                return None
        return None

    async def _unreachable(self, chat_id: int, exc: Forbidden) -> None:
        log.warning("telegram: chat %s refuses messages (%s); marked unreachable", chat_id, exc)
        try:
            await self._store.customers.mark_unreachable(Channel.TELEGRAM, str(chat_id))
        except CrmError as error:  # no such identity (a group), or the store is down
            log.warning("telegram: could not mark chat %s unreachable: %s", chat_id, error)

    async def answer_callback(self, chat_id: int, query_id: str, text: str | None = None) -> None:
        async def answer() -> Any:
            return await self._bot.answer_callback_query(query_id, text=text)

        await self.call(chat_id, "answerCallbackQuery", answer, in_chat=False)

    async def clear_buttons(self, chat_id: int, message_id: int) -> None:
        """Remove the inline keyboard of a message whose button was tapped (stale choices)."""

        async def clear() -> Any:
            return await self._bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)

        await self.call(chat_id, "editMessageReplyMarkup", clear, in_chat=False)
