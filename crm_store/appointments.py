"""The appointment book: the database, not the caller, guarantees no double booking."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import mapping
from crm_store import models as m
from crm_store.clock import Clock
from crm_store.customer_view import upcoming_appointments
from crm_store.database import Database
from crm_store.enums import AppointmentStatus
from crm_store.errors import InvalidInput, InvalidTransition, NotFound, SlotTaken
from crm_store.records import AppointmentRecord
from crm_store.validation import check_aware

OVERLAP_CONSTRAINT = "appointments_no_overlap"
Keyed = TypeVar("Keyed", m.Service, m.Resource)

# From each status, where it may go next.
TRANSITIONS: dict[AppointmentStatus, frozenset[AppointmentStatus]] = {
    AppointmentStatus.BOOKED: frozenset(
        {AppointmentStatus.CANCELLED, AppointmentStatus.COMPLETED, AppointmentStatus.NO_SHOW}
    ),
    AppointmentStatus.CANCELLED: frozenset(),
    AppointmentStatus.COMPLETED: frozenset(),
    AppointmentStatus.NO_SHOW: frozenset(),
}


def _is_overlap(exc: IntegrityError) -> bool:
    return OVERLAP_CONSTRAINT in str(exc.orig)


class AppointmentBook:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    async def book(
        self, customer_id: int, service_key: str, resource_key: str, start_at: datetime
    ) -> AppointmentRecord:
        """Book a slot; raises SlotTaken if the resource has an overlapping booked appointment."""
        check_aware("start_at", start_at)
        now = self._clock()
        try:
            async with self._db.transaction() as session:
                service = await self._by_key(session, m.Service, service_key)
                resource = await self._lock_resource(session, resource_key)
                if service.skill not in resource.skills:
                    raise InvalidInput(
                        "resource",
                        f"{resource.name} does not offer {service.name} ({service.skill})",
                    )
                if await session.get(m.Customer, customer_id) is None:
                    raise NotFound("customer", customer_id)
                row = m.Appointment(
                    customer_id=customer_id,
                    service_id=service.id,
                    resource_id=resource.id,
                    start_at=start_at,
                    end_at=start_at + timedelta(minutes=service.duration_minutes),
                    status=AppointmentStatus.BOOKED,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                await session.flush()
                return mapping.appointment(row, service.name, resource.name)
        except IntegrityError as exc:
            if _is_overlap(exc):
                raise SlotTaken(
                    f"{resource_key} is already booked at {start_at.isoformat()}"
                ) from exc
            raise

    async def reschedule(
        self, appointment_id: int, start_at: datetime, resource_key: str | None = None
    ) -> AppointmentRecord:
        """Move a booked appointment (same service); the old slot frees in one transaction."""
        check_aware("start_at", start_at)
        try:
            async with self._db.transaction() as session:
                row = await self._row(session, appointment_id)
                if row.status is not AppointmentStatus.BOOKED:
                    raise InvalidTransition(f"a {row.status.value} appointment cannot be moved")
                service = await session.get(m.Service, row.service_id)
                assert service is not None
                old = await session.get(m.Resource, row.resource_id)
                assert old is not None
                resource = await self._lock_resource(session, resource_key or old.key)
                if service.skill not in resource.skills:
                    raise InvalidInput("resource", f"{resource.name} does not offer {service.name}")
                row.resource_id = resource.id
                row.start_at = start_at
                row.end_at = start_at + timedelta(minutes=service.duration_minutes)
                row.updated_at = self._clock()
                await session.flush()
                return mapping.appointment(row, service.name, resource.name)
        except IntegrityError as exc:
            if _is_overlap(exc):
                raise SlotTaken(f"that time is already booked at {start_at.isoformat()}") from exc
            raise

    async def set_status(self, appointment_id: int, status: AppointmentStatus) -> AppointmentRecord:
        async with self._db.transaction() as session:
            row = await self._row(session, appointment_id)
            if status not in TRANSITIONS[row.status]:
                raise InvalidTransition(
                    f"appointment {appointment_id} is {row.status.value}; "
                    f"it cannot become {status.value}"
                )
            row.status = status
            row.updated_at = self._clock()
            return await self._record(session, row)

    async def cancel(self, appointment_id: int) -> AppointmentRecord:
        return await self.set_status(appointment_id, AppointmentStatus.CANCELLED)

    async def get(self, appointment_id: int) -> AppointmentRecord:
        async with self._db.transaction() as session:
            return await self._record(session, await self._row(session, appointment_id))

    async def upcoming(self, customer_id: int, limit: int = 10) -> list[AppointmentRecord]:
        async with self._db.statement() as connection:
            return list(await upcoming_appointments(connection, customer_id, self._clock(), limit))

    async def busy(
        self, resource_key: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Booked intervals of a resource overlapping [start, end), for slot search: one
        statement (the resource's row, joined to its bookings, tells an unknown key apart)."""
        a, r = m.Appointment, m.Resource
        overlapping = and_(
            a.resource_id == r.id,
            a.status == AppointmentStatus.BOOKED,
            a.start_at < end,
            a.end_at > start,
        )
        async with self._db.statement() as connection:
            rows = (
                await connection.execute(
                    select(a.start_at, a.end_at)
                    .select_from(r)
                    .outerjoin(a, overlapping)
                    .where(r.key == resource_key)
                    .order_by(a.start_at)
                )
            ).all()
        if not rows:
            raise NotFound("resource", resource_key)
        return [(s, e) for s, e in rows if s is not None]

    @staticmethod
    async def _lock_resource(session: AsyncSession, key: str) -> m.Resource:
        """Take the resource's row lock: bookings of one resource queue up instead of deadlocking.

        The no-overlap constraint is the guarantee; the lock only orders the writers (on
        PostgreSQL, concurrent inserts that collide on an exclusion constraint can deadlock).
        SQLite ignores FOR UPDATE: its BEGIN IMMEDIATE transactions are already serial.
        """
        row = await session.scalar(
            select(m.Resource).where(m.Resource.key == key).with_for_update()
        )
        if row is None:
            raise NotFound("resource", key)
        return row

    async def _row(self, session: AsyncSession, appointment_id: int) -> m.Appointment:
        row = await session.get(m.Appointment, appointment_id)
        if row is None:
            raise NotFound("appointment", appointment_id)
        return row

    async def _record(self, session: AsyncSession, row: m.Appointment) -> AppointmentRecord:
        service = await session.get(m.Service, row.service_id)
        resource = await session.get(m.Resource, row.resource_id)
        assert service is not None and resource is not None
        return mapping.appointment(row, service.name, resource.name)

    @staticmethod
    async def _by_key(session: AsyncSession, model: type[Keyed], key: str) -> Keyed:
        row = await session.scalar(select(model).where(model.key == key))
        if row is None:
            raise NotFound(model.__tablename__.rstrip("s"), key)
        return row
