"""How a background loop (the routing tick, the SLA monitor, queue-position updates) reports a
failed round: a bug is a trace, every time; a backend that cannot serve us (the database, Redis)
is one warning when the rounds start failing and one line when they work again, not a trace
a second for as long as the outage lasts."""

from __future__ import annotations

import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from crm_store.errors import StoreUnavailable
from routing.errors import DispatchUnavailable

# "A backend cannot serve us now", for the background loops here and the HTTP edge (a 503): the
# ports' own errors, and library errors that reach us untranslated and mean the same
UNAVAILABLE = (StoreUnavailable, DispatchUnavailable, RedisConnectionError, RedisTimeoutError)


class Rounds:
    def __init__(self, what: str, log: logging.Logger) -> None:
        self._what = what
        self._log = log
        self.failing = False  # since the last round that worked, for want of a backend

    def failed(self, exc: Exception) -> None:
        if not isinstance(exc, UNAVAILABLE):
            self._log.error("%s failed", self._what, exc_info=exc)
            return
        if not self.failing:
            self._log.warning(
                "%s: a backend is unavailable (%s: %s); trying again every round",
                self._what,
                type(exc).__name__,
                exc,
            )
        self.failing = True

    def succeeded(self) -> None:
        if self.failing:
            self._log.info("%s: working again", self._what)
        self.failing = False
