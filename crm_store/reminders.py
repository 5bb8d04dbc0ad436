"""Appointment reminders: claimed in the database before sending, so a restart neither loses nor
repeats one.

A reminder is due `before` ahead of a booked appointment. Claiming inserts a row keyed by
(appointment, start time); the unique key lets exactly one process win. A claim whose sender
died (still "sending" after `stale`) is retried, up to `max_attempts`. A moved appointment has a
new start time and so gets its own reminder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import models as m
from crm_store.clock import Clock
from crm_store.database import Database
from crm_store.enums import AppointmentStatus, Channel, Direction


@dataclass(frozen=True, slots=True)
class DueReminder:
    reminder_id: int
    appointment_id: int
    customer_id: int
    customer_name: str
    customer_timezone: str
    service_name: str
    resource_name: str
    start_at: datetime
    channel: Channel | None  # where the customer last wrote from; None = nowhere to send
    recipient_id: str | None


class ReminderBook:
    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        stale: timedelta = timedelta(minutes=10),
        max_attempts: int = 3,
    ) -> None:
        self._db = database
        self._clock = clock
        self._stale = stale
        self._max_attempts = max_attempts

    async def claim_due(self, before: timedelta, limit: int = 100) -> list[DueReminder]:
        now = self._clock()
        a, r = m.Appointment, m.Reminder
        async with self._db.transaction() as session:
            fresh = await session.execute(
                select(a.id, a.start_at)
                .outerjoin(r, and_(r.appointment_id == a.id, r.start_at == a.start_at))
                .where(
                    a.status == AppointmentStatus.BOOKED,
                    a.start_at > now,
                    a.start_at <= now + before,
                    r.id.is_(None),
                )
                .order_by(a.start_at)
                .limit(limit)
            )
            candidates = [(aid, start) for aid, start in fresh]
            stale = await session.scalars(
                select(r).where(
                    r.status == "sending",
                    r.claimed_at < now - self._stale,
                    r.attempts < self._max_attempts,
                )
            )
            retried = list(stale)
            for row in retried:
                row.attempts += 1
                row.claimed_at = now
        claimed = [row.id for row in retried]
        for appointment_id, start_at in candidates:
            reminder_id = await self._claim(appointment_id, start_at, now)
            if reminder_id is not None:
                claimed.append(reminder_id)
        return [await self._describe(rid) for rid in claimed]

    async def _claim(self, appointment_id: int, start_at: datetime, now: datetime) -> int | None:
        try:
            async with self._db.transaction() as session:
                row = m.Reminder(
                    appointment_id=appointment_id,
                    start_at=start_at,
                    status="sending",
                    attempts=1,
                    claimed_at=now,
                )
                session.add(row)
                await session.flush()
                return row.id
        except IntegrityError:
            return None  # another process claimed it first

    async def _describe(self, reminder_id: int) -> DueReminder:
        async with self._db.transaction() as session:
            reminder = await session.get(m.Reminder, reminder_id)
            assert reminder is not None
            appointment = await session.get(m.Appointment, reminder.appointment_id)
            assert appointment is not None
            customer = await session.get(m.Customer, appointment.customer_id)
            service = await session.get(m.Service, appointment.service_id)
            resource = await session.get(m.Resource, appointment.resource_id)
            assert customer is not None and service is not None and resource is not None
            channel, recipient = await self._last_channel(session, customer.id)
            return DueReminder(
                reminder.id,
                appointment.id,
                customer.id,
                customer.full_name,
                customer.timezone,
                service.name,
                resource.name,
                appointment.start_at,
                channel,
                recipient,
            )

    @staticmethod
    async def _last_channel(
        session: AsyncSession, customer_id: int
    ) -> tuple[Channel | None, str | None]:
        """Where the customer last wrote from, if that identity is still reachable."""
        i, ident = m.Interaction, m.Identity
        rows = await session.execute(
            select(i.channel, ident.external_id)
            .join(ident, and_(ident.customer_id == i.customer_id, ident.channel == i.channel))
            .where(
                i.customer_id == customer_id,
                i.direction == Direction.INBOUND,
                ident.unreachable.is_(False),
            )
            .order_by(i.occurred_at.desc())
            .limit(1)
        )
        found = rows.first()
        return (found[0], found[1]) if found else (None, None)

    async def mark(self, reminder_id: int, status: str, *, error: str | None = None,
                   channel: Channel | None = None) -> None:  # fmt: skip
        async with self._db.transaction() as session:
            row = await session.get(m.Reminder, reminder_id)
            assert row is not None
            row.status = status
            row.channel = channel
            row.last_error = error[:200] if error else None
            if status == "sent":
                row.sent_at = self._clock()
