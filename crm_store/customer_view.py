"""The single customer view: one call, every channel, everything an agent needs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from crm_store import mapping
from crm_store import models as m
from crm_store.clock import Clock
from crm_store.database import Database
from crm_store.enums import AppointmentStatus
from crm_store.errors import NotFound
from crm_store.records import AppointmentRecord, CustomerView, TransactionSummary


async def upcoming_appointments(
    runner: AsyncSession | AsyncConnection, customer_id: int, now: datetime, limit: int
) -> tuple[AppointmentRecord, ...]:
    """Booked and not over yet, soonest first: one statement (columns, not ORM objects, so that
    it runs as well on an autocommit connection)."""
    a, s, r = m.Appointment.__table__, m.Service, m.Resource
    rows = await runner.execute(
        select(*a.c, s.name.label("service_name"), r.name.label("resource_name"))
        .join(s, s.id == a.c.service_id)
        .join(r, r.id == a.c.resource_id)
        .where(
            a.c.customer_id == customer_id,
            a.c.status == AppointmentStatus.BOOKED,
            a.c.end_at > now,
        )
        .order_by(a.c.start_at)
        .limit(limit)
    )
    return tuple(mapping.appointment(row, row.service_name, row.resource_name) for row in rows)


class CustomerViewer:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    async def view(
        self, customer_id: int, *, interactions: int = 20, appointments: int = 10
    ) -> CustomerView:
        now = self._clock()
        async with self._db.transaction() as session:
            customer = await session.get(m.Customer, customer_id)
            if customer is None:
                raise NotFound("customer", customer_id)
            identities = await session.scalars(
                select(m.Identity)
                .where(m.Identity.customer_id == customer_id)
                .order_by(m.Identity.id)
            )
            history = await session.scalars(
                select(m.Interaction)
                .where(m.Interaction.customer_id == customer_id)
                .order_by(m.Interaction.occurred_at.desc(), m.Interaction.id.desc())
                .limit(interactions)
            )
            tx = m.Transaction
            count, total, currency, first, last = (
                await session.execute(
                    select(
                        func.count(tx.id),
                        func.coalesce(func.sum(tx.amount), 0),
                        func.max(tx.currency),
                        func.min(tx.occurred_at),
                        func.max(tx.occurred_at),
                    ).where(tx.customer_id == customer_id)
                )
            ).one()
            return CustomerView(
                customer=mapping.customer(customer),
                identities=tuple(mapping.identity(row) for row in identities),
                recent_interactions=tuple(mapping.interaction(row) for row in history),
                transactions=TransactionSummary(
                    count=int(count),
                    total=Decimal(total).quantize(Decimal("0.01")),
                    currency=currency,
                    first_at=first,
                    last_at=last,
                ),
                upcoming_appointments=await upcoming_appointments(
                    session, customer_id, now, appointments
                ),
            )
