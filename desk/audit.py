"""The security audit log: every sign-in (and failed or throttled one), sign-out, refused request
and sensitive staff action, in the database (table desk_audit_events, append-only)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import insert, select

from crm_store import models as m
from crm_store.clock import Clock
from crm_store.database import Database
from crm_store.errors import StoreUnavailable

log = logging.getLogger(__name__)


class AuditAction(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    LOGOUT = "logout"
    CSRF_REJECTED = "csrf_rejected"
    ROLE_REFUSED = "role_refused"  # an endpoint of a role the agent does not have
    TICKET_REFUSED = "ticket_refused"  # a ticket outside the agent's queues
    TRANSFER = "transfer"
    REASSIGN = "reassign"
    PRIORITY = "priority"
    EXPORT = "export"
    APPOINTMENT_BOOKED = "appointment_booked"
    APPOINTMENT_CANCELLED = "appointment_cancelled"


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: AuditAction
    outcome: Outcome = Outcome.OK
    agent_id: int | None = None
    username: str | None = None
    address: str | None = None
    target: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # filled in when recorded
    id: int | None = None


EVENTS = m.DeskAuditEvent


class AuditLog:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    async def record(self, entry: AuditEntry) -> None:
        """Append one entry. When the database is unreachable the entry is logged instead; the
        request it belongs to fails or succeeds on its own merits."""
        values = {
            "at": self._clock(),
            "action": entry.action.value,
            "outcome": entry.outcome.value,
            "agent_id": entry.agent_id,
            "username": (entry.username or "")[:64] or None,
            "address": (entry.address or "")[:64] or None,
            "target": (entry.target or "")[:100] or None,
            "detail": dict(entry.detail),
        }
        try:
            async with self._db.transaction() as session:
                await session.execute(insert(EVENTS), values)
        except StoreUnavailable:
            log.error("audit entry not recorded: %s %s", entry.action, entry.outcome)

    async def recent(
        self, *, limit: int = 200, agent_id: int | None = None, since: datetime | None = None
    ) -> list[AuditEntry]:
        query = select(EVENTS).order_by(EVENTS.id.desc()).limit(limit)
        if agent_id is not None:
            query = query.where(EVENTS.agent_id == agent_id)
        if since is not None:
            query = query.where(EVENTS.at >= since)
        async with self._db.transaction() as session:
            rows = (await session.scalars(query)).all()
            return [
                AuditEntry(
                    AuditAction(row.action),
                    Outcome(row.outcome),
                    row.agent_id,
                    row.username,
                    row.address,
                    row.target,
                    dict(row.detail or {}),
                    row.at,
                    row.id,
                )
                for row in rows
            ]
