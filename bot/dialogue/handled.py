"""Forgetting answered message ids once no client would still retry them (hourly, a day old)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from crm_store.errors import CrmError
from crm_store.store import CrmStore

log = logging.getLogger(__name__)

KEEP = timedelta(days=1)  # a retry later than this is a new message


async def forget_handled_forever(
    store: CrmStore, keep: timedelta = KEEP, every: float = 3600.0
) -> None:
    while True:
        try:
            gone = await store.turns.forget_handled(keep)
            if gone:
                log.info("forgot %d answered message ids older than %s", gone, keep)
        except CrmError:
            log.exception("forgetting answered message ids failed; trying again in %s s", every)
        await asyncio.sleep(every)
