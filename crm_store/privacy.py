"""A data subject's rights: export everything we hold about them, or erase it.

Erasure removes personal data and keeps anonymous aggregates: the customer row stays (with its
tier and lifetime value) so that revenue, volumes and appointment counts still add up, but the
name, birth date, notes, "how did you hear about us", every identity, the text and
conversation ids of every interaction, the text of every advice question, and the reasons and
message texts of every ticket are gone, and so is the web chat transcript of every web
conversation of theirs (found through their web identities and their interactions, before those
are erased).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import mapping
from crm_store import models as m
from crm_store.clock import Clock
from crm_store.database import Database
from crm_store.enums import Channel
from crm_store.errors import NotFound

ERASED_NAME = "[erased]"
WEB_PREFIX = f"{Channel.WEB.value}:"
PERSONAL_EVENT_KEYS = frozenset({"text", "comment", "reason"})


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


async def _web_conversations(session: AsyncSession, customer_id: int) -> list[str]:
    """The customer's web chat conversation ids: one per web identity, and any their
    interactions name (an identity deleted or merged since)."""
    i, n = m.Identity, m.Interaction
    identities = await session.scalars(
        select(i.external_id).where(i.customer_id == customer_id, i.channel == Channel.WEB)
    )
    named = await session.scalars(
        select(n.conversation_id)
        .where(n.customer_id == customer_id, n.conversation_id.startswith(WEB_PREFIX))
        .distinct()
    )
    found = {f"{WEB_PREFIX}{external_id}" for external_id in identities}
    found.update(cid for cid in named if cid)
    return sorted(found)


class PrivacyOffice:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    async def export(self, customer_id: int) -> dict[str, Any]:
        """Everything stored about one customer, as JSON-ready data."""
        async with self._db.transaction() as session:
            customer = await session.get(m.Customer, customer_id)
            if customer is None:
                raise NotFound("customer", customer_id)

            async def rows(model: Any, order: Any) -> list[Any]:
                result = await session.scalars(
                    select(model).where(model.customer_id == customer_id).order_by(order)
                )
                return list(result)

            a = m.Appointment
            appointments = await session.execute(
                select(a, m.Service.name, m.Resource.name)
                .join(m.Service, m.Service.id == a.service_id)
                .join(m.Resource, m.Resource.id == a.resource_id)
                .where(a.customer_id == customer_id)
                .order_by(a.start_at)
            )
            data = {
                "exported_at": self._clock(),
                "profile": asdict(mapping.customer(customer)),
                "identities": [
                    asdict(mapping.identity(r)) for r in await rows(m.Identity, m.Identity.id)
                ],
                "interactions": [
                    asdict(mapping.interaction(r))
                    for r in await rows(m.Interaction, m.Interaction.occurred_at)
                ],
                "transactions": [
                    asdict(mapping.transaction(r))
                    for r in await rows(m.Transaction, m.Transaction.occurred_at)
                ],
                "appointments": [
                    asdict(mapping.appointment(row, sname, rname))
                    for row, sname, rname in appointments
                ],
                "webchat": await self._transcripts(session, customer_id),
            }
        return dict(_jsonable(data))

    async def erase(self, customer_id: int) -> None:
        """Remove the customer's personal data in one transaction; aggregates stay."""
        now = self._clock()
        async with self._db.transaction() as session:
            customer = await session.get(m.Customer, customer_id)
            if customer is None:
                raise NotFound("customer", customer_id)
            customer.full_name = ERASED_NAME
            customer.birth_date = None
            customer.heard_about_us = None
            customer.notes = None
            customer.consent_marketing = False
            customer.consent_data_processing = False
            customer.erased_at = now
            customer.updated_at = now
            conversations = await _web_conversations(session, customer_id)  # before they go
            await session.execute(
                delete(m.WebchatMessage).where(m.WebchatMessage.conversation_id.in_(conversations))
            )
            for identity in await session.scalars(
                select(m.Identity).where(m.Identity.customer_id == customer_id)
            ):
                await session.delete(identity)
            await session.execute(
                update(m.Interaction)
                .where(m.Interaction.customer_id == customer_id)
                .values(text=None, conversation_id=None)
            )
            await session.execute(
                update(m.KnowledgeQuestion)
                .where(m.KnowledgeQuestion.customer_id == customer_id)
                .values(question=None)
            )
            await self._erase_tickets(session, customer_id)

    @staticmethod
    async def _transcripts(session: AsyncSession, customer_id: int) -> list[dict[str, Any]]:
        w = m.WebchatMessage
        rows = await session.scalars(
            select(w)
            .where(w.conversation_id.in_(await _web_conversations(session, customer_id)))
            .order_by(w.conversation_id, w.seq)
        )
        return [
            {
                "conversation_id": row.conversation_id,
                "seq": row.seq,
                "author": row.author,
                "body": row.body,
                "created_at": row.created_at,
            }
            for row in rows
        ]

    @staticmethod
    async def _erase_tickets(session: AsyncSession, customer_id: int) -> None:
        """Ticket texts go (the one exception to the append-only event log); times, queues,
        statuses and ratings stay for the service-level figures."""
        tickets = select(m.Ticket.id).where(m.Ticket.customer_id == customer_id)
        await session.execute(
            update(m.Ticket)
            .where(m.Ticket.customer_id == customer_id)
            .values(reason=None, conversation_id=None)
        )
        for event in await session.scalars(
            select(m.TicketEvent).where(m.TicketEvent.ticket_id.in_(tickets))
        ):
            if any(key in event.data for key in PERSONAL_EVENT_KEYS):
                event.data = {k: v for k, v in event.data.items() if k not in PERSONAL_EVENT_KEYS}
