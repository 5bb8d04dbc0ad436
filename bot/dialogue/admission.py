"""Admission: how many turns one process works on at once.

Without a bound, a surge (more messages a second than the machine can answer) makes every turn
slower: they all wait on the same cores, the same database connections and the same event loop,
until clients time out, retry, and add to the load, and the process answers almost nothing while
working flat out. With one, at most `limit` turns are in progress; a message waits up to `wait`
seconds for a free place, and after that the customer gets the channel's "busy, please try
again" at once, before any work was done for it. The turns that are admitted keep their usual
pace, and so does everything that is not a turn (health checks, the desk).

Places go first come, first served, and a message sent again after a "busy" keeps its place in
that order: when each message turned away first arrived is remembered (by channel and message
id, for 5 minutes: bot/dialogue/turned_away.py, in Redis when there is one, so that any instance
the retry reaches knows it), and a customer who was told to try again is served before the ones
who wrote after them, not entered in a lottery with every new arrival at each retry.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.dialogue.turned_away import LocalTurnedAway, TurnedAway

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
    def __init__(self, limit: int, wait: float, turned_away: TurnedAway | None = None) -> None:
        if limit < 1 or wait < 0:
            raise ValueError(f"need limit >= 1 and wait >= 0, got {limit} and {wait}")
        self.limit = limit
        self.wait = wait
        self.in_progress = 0
        self.waiting = 0  # messages in line for a place now
        self.refused = 0  # since the process started
        self._reported = (0, -REPORT_EVERY)  # refused so far, when, at the last report
        # waiting messages by (first arrival, order of asking); a done future has left
        self._line: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._turned_away = turned_away or LocalTurnedAway()

    @asynccontextmanager
    async def take(self, message: str | None = None) -> AsyncIterator[None]:
        """A place for one turn for the length of the block; Overloaded if none frees up in time.

        `message` (channel and message id) lets a message sent again after Overloaded keep
        the place in line its first arrival gave it.
        """
        arrived = time.time()  # wall clock: an arrival remembered by another instance compares
        if message is not None and not self._free():  # only a message that waits asks
            arrived = await self._turned_away.first_arrival(message) or arrived
        await self._enter(arrived, message)  # counted in
        try:
            yield
        finally:
            self._leave()

    async def _enter(self, arrived: float, message: str | None) -> None:
        if self._free():
            self.in_progress += 1
            return
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._line, (arrived, next(self._order), place))
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait):
                await place
        except TimeoutError:
            if place.done() and not place.cancelled():
                return  # handed a place just as the wait ran out: take it
            self.refused += 1
            self._report()
            if message is not None:
                await self._turned_away.remember(message, arrived)
            raise Overloaded(
                f"{self.limit} turns in progress, none finished within {self.wait:g} s"
            ) from None
        except BaseException:
            if place.done() and not place.cancelled():
                self._leave()  # cancelled after it was handed a place: pass it on
            raise
        finally:
            self.waiting -= 1

    def _leave(self) -> None:
        """A place is given up: to the first in line still waiting (counted in as it was), or
        free."""
        while self._line:
            place = heapq.heappop(self._line)[2]
            if not place.done():
                place.set_result(None)
                return
        self.in_progress -= 1

    def _free(self) -> bool:
        """A place is free and nobody is in line for it."""
        while self._line and self._line[0][2].done():
            heapq.heappop(self._line)  # gave up or cancelled
        return self.in_progress < self.limit and not self._line

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
