"""Admission: how many turns one process works on at once.

Without a bound, a surge (more messages a second than the machine can answer) makes every turn
slower: they all wait on the same cores, the same database connections and the same event loop,
until clients time out, retry, and add to the load, and the process answers almost nothing while
working flat out. With one, at most `limit` turns are in progress; a message waits up to `wait`
seconds for a free place (first come, first served), and after that the customer gets the
channel's "busy, please try again" at once, before any work was done for it. The turns that are
admitted keep their usual pace, and so does everything that is not a turn (health checks, the
desk).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

log = logging.getLogger(__name__)

REPORT_EVERY = 10.0  # seconds: a surge is one log line this often, not one per message


class Busy(RuntimeError):
    """The turn could not start in time; nothing of it was done. The channel says "try again"."""


class Overloaded(Busy):
    """Every place for a turn stayed taken for as long as a message may wait for one."""


def worth_logging(exc: BaseException) -> bool:
    """False for Overloaded: TurnSlots logs a surge itself, once in a while, not per message."""
    return not isinstance(exc, Overloaded)


class TurnSlots:
    def __init__(self, limit: int, wait: float) -> None:
        if limit < 1 or wait < 0:
            raise ValueError(f"need limit >= 1 and wait >= 0, got {limit} and {wait}")
        self.limit = limit
        self.wait = wait
        self._free = asyncio.Semaphore(limit)
        self.in_progress = 0
        self.refused = 0  # since the process started
        self._reported = (0, -REPORT_EVERY)  # refused so far, when, at the last report

    @asynccontextmanager
    async def take(self) -> AsyncIterator[None]:
        """A place for one turn for the length of the block; Overloaded if none frees up in time."""
        if self._free.locked():
            try:
                async with asyncio.timeout(self.wait):
                    await self._free.acquire()
            except TimeoutError:
                self.refused += 1
                self._report()
                raise Overloaded(
                    f"{self.limit} turns in progress, none finished within {self.wait:g} s"
                ) from None
        else:
            await self._free.acquire()  # free: returns at once
        self.in_progress += 1
        try:
            yield
        finally:
            self.in_progress -= 1
            self._free.release()

    def _report(self) -> None:
        """A warning on the first message turned away, then at most one every REPORT_EVERY
        seconds while it goes on (GET /metrics counts them all)."""
        count, when = self._reported
        now = time.monotonic()
        if now - when < REPORT_EVERY:
            return
        self._reported = (self.refused, now)
        log.warning(
            "overloaded: all %d places for turns taken (server.max_turns); messages answered"
            " 'busy' after waiting %g s (server.turn_wait) since the last report: %d",
            self.limit,
            self.wait,
            self.refused - count,
        )
