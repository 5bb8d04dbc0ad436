"""What a running desk holds: the stores and services every handler works with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from crm_store.clock import Clock
from crm_store.store import CrmStore
from desk.audit import AuditLog
from desk.config import DeskConfig
from desk.errors import NotReady
from desk.history import DeskHistory
from desk.numbers import DeskNumbers
from desk.sessions import SessionStore
from desk.throttle import LoginThrottle
from routing.desk_bus import DeskBus
from routing.queues import QueueBook
from routing.service import RoutingService


class TurnLoad(Protocol):
    """This process's turns as the bot counts them (bot.dialogue.admission.TurnSlots)."""

    @property
    def limit(self) -> int: ...
    @property
    def in_progress(self) -> int: ...
    @property
    def waiting(self) -> int: ...
    @property
    def refused(self) -> int: ...


@dataclass(frozen=True)
class DeskParts:
    config: DeskConfig
    store: CrmStore
    routing: RoutingService
    sessions: SessionStore
    throttle: LoginThrottle
    audit: AuditLog
    history: DeskHistory
    numbers: DeskNumbers
    clock: Clock
    turns: TurnLoad | None = None  # for GET /metrics

    @property
    def bus(self) -> DeskBus:
        return self.routing.parts.bus

    @property
    def queues(self) -> QueueBook:
        return self.routing.parts.queues


class Runtime:
    """The desk's parts once the bot is running; before that (and after) handlers answer 503."""

    def __init__(self) -> None:
        self._parts: DeskParts | None = None

    @property
    def parts(self) -> DeskParts:
        if self._parts is None:
            raise NotReady("the desk is starting or stopping; try again shortly")
        return self._parts

    def start(self, parts: DeskParts) -> None:
        self._parts = parts

    def stop(self) -> None:
        self._parts = None
