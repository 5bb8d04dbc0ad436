"""The reminder job: every minute, claim the reminders that are due and send them."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.dialogue.messages import Reply
from bot.dialogue.ports import Outbound
from bot.dialogue.templates import Templates
from crm_store.errors import CrmError
from crm_store.reminders import DueReminder
from crm_store.store import CrmStore

log = logging.getLogger(__name__)


class UnreachableRecipient(Exception):
    """The channel cannot deliver to this recipient (blocked, no push channel, ...)."""


class ReminderJob:
    def __init__(
        self,
        store: CrmStore,
        outbound: Outbound,
        templates: Templates,
        *,
        before: timedelta,
        language: str = "en",
    ) -> None:
        self._store = store
        self._outbound = outbound
        self._templates = templates
        self._before = before
        self._language = language

    async def run_once(self) -> int:
        """Send every due reminder; returns how many were sent."""
        sent = 0
        for due in await self._store.reminders.claim_due(self._before):
            sent += await self._send(due)
        return sent

    async def run_forever(self, every: float = 60.0) -> None:
        while True:
            try:
                await self.run_once()
            except CrmError:
                log.exception("reminder round failed; trying again in %s s", every)
            await asyncio.sleep(every)

    async def _send(self, due: DueReminder) -> int:
        if due.channel is None or due.recipient_id is None:
            await self._store.reminders.mark(due.reminder_id, "skipped", error="no channel")
            return 0
        local = due.start_at.astimezone(ZoneInfo(due.customer_timezone))
        text = self._templates.render(
            self._language,
            "reminder",
            first_name=due.customer_name.split()[0],
            service=due.service_name.lower(),
            practitioner=due.resource_name,
            when=f"{local:%A} {local.day} {local:%B at %H:%M}",
        )
        try:
            await self._outbound.send(due.channel, due.recipient_id, [Reply(text)])
        except UnreachableRecipient as exc:
            await self._store.reminders.mark(
                due.reminder_id, "skipped", error=str(exc), channel=due.channel
            )
            return 0
        except Exception as exc:  # a channel failure must not stop the other reminders
            log.warning("reminder %s failed: %s", due.reminder_id, exc)
            await self._store.reminders.mark(due.reminder_id, "sending", error=str(exc))
            return 0
        await self._store.reminders.mark(due.reminder_id, "sent", channel=due.channel)
        return 1
