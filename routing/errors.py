"""Routing's exceptions: one small hierarchy; adapters translate library errors into it."""

from __future__ import annotations


class RoutingError(Exception):
    """Base class for everything the routing package raises on purpose."""


class TicketNotFound(RoutingError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class InvalidTransition(RoutingError):
    """A change the ticket's current state does not allow; `reason` says why, in plain words."""

    def __init__(self, ticket_id: int, reason: str, *, status: str | None = None) -> None:
        super().__init__(f"ticket {ticket_id}: {reason}")
        self.ticket_id = ticket_id
        self.reason = reason
        self.status = status  # the ticket's status when the change was refused


class UnknownQueue(RoutingError):
    def __init__(self, queue: str) -> None:
        super().__init__(f"no queue named {queue!r}")
        self.queue = queue


class UnknownAgent(RoutingError):
    def __init__(self, agent_id: int) -> None:
        super().__init__(f"no active agent {agent_id}")
        self.agent_id = agent_id


class AgentAtCapacity(RoutingError):
    def __init__(self, agent_id: int, capacity: int) -> None:
        super().__init__(f"agent {agent_id} already holds {capacity} tickets (their capacity)")
        self.agent_id = agent_id
        self.capacity = capacity


class DispatchUnavailable(RoutingError):
    """The live dispatch layer (Redis) cannot be reached."""


class RebuildBusy(RoutingError):
    """Another process is rebuilding the live layer right now."""
