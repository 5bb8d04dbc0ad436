"""Who is asking and what they may see: roles, and for agents, the queues they serve.

An agent sees the tickets of the queues their skills serve, and any ticket assigned or offered
to them. Supervisors and admins see every queue. Admins alone read the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from crm_store.enums import AgentRole
from crm_store.records import AgentRecord
from routing.queues import QueueBook
from routing.tickets import Ticket

AGENT = frozenset({AgentRole.AGENT})
SUPERVISOR = frozenset({AgentRole.SUPERVISOR, AgentRole.ADMIN})
ADMIN = frozenset({AgentRole.ADMIN})
ANYONE = frozenset(AgentRole)


@dataclass(frozen=True, slots=True)
class Principal:
    agent: AgentRecord
    queues: frozenset[str]  # the queues the agent serves (by skills)

    @property
    def id(self) -> int:
        return self.agent.id

    @property
    def roles(self) -> frozenset[AgentRole]:
        return frozenset(AgentRole(role) for role in self.agent.roles)

    @property
    def oversees(self) -> bool:
        """Supervisors and admins see every queue."""
        return not self.roles.isdisjoint(SUPERVISOR)

    def has_any(self, roles: Iterable[AgentRole]) -> bool:
        return not self.roles.isdisjoint(roles)

    def visible_queues(self, book: QueueBook) -> tuple[str, ...]:
        return book.keys if self.oversees else tuple(k for k in book.keys if k in self.queues)

    def may_see(self, ticket: Ticket, *, offered_to: int | None = None) -> bool:
        return (
            self.oversees
            or ticket.queue in self.queues
            or ticket.assigned_agent_id == self.id
            or offered_to == self.id
        )

    @classmethod
    def of(cls, agent: AgentRecord, book: QueueBook) -> Principal:
        return cls(agent, frozenset(book.served_by(agent.skills)))
