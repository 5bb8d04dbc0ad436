"""Services and resources (practitioners, rooms): synced from config.yml, read when booking."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import time
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm_store import mapping
from crm_store import models as m
from crm_store.database import Database
from crm_store.enums import ResourceKind
from crm_store.errors import NotFound
from crm_store.records import ResourceRecord, ServiceRecord

SYNC_ATTEMPTS = 3


class ServiceSpec(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def duration_minutes(self) -> int: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def skill(self) -> str: ...


class IntervalSpec(Protocol):
    @property
    def start(self) -> time: ...
    @property
    def end(self) -> time: ...


class ResourceSpec(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def timezone(self) -> str | None: ...
    @property
    def skills(self) -> Sequence[str]: ...
    @property
    def schedule(self) -> Mapping[Any, Sequence[IntervalSpec]]: ...


def schedule_json(schedule: Mapping[Any, Sequence[IntervalSpec]]) -> dict[str, list[list[str]]]:
    return {
        str(day): [[iv.start.strftime("%H:%M"), iv.end.strftime("%H:%M")] for iv in intervals]
        for day, intervals in schedule.items()
    }


class Catalog:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def sync(
        self,
        services: Iterable[ServiceSpec],
        resources: Iterable[ResourceSpec],
        default_timezone: str,
    ) -> tuple[int, int]:
        """Upsert services and resources by key (rows are never deleted: appointments keep them).

        Several processes may sync at once (instances starting together): one that loses the
        race to insert a key tries again, and then finds it.
        """
        services, resources = list(services), list(resources)
        for attempt in range(SYNC_ATTEMPTS):
            try:
                await self._sync(services, resources, default_timezone)
                break
            except IntegrityError:
                if attempt == SYNC_ATTEMPTS - 1:
                    raise
        return len(services), len(resources)

    async def _sync(
        self, services: list[ServiceSpec], resources: list[ResourceSpec], default_timezone: str
    ) -> None:
        async with self._db.transaction() as session:
            existing_s = {row.key: row for row in await session.scalars(select(m.Service))}
            for spec in services:
                srow = existing_s.get(spec.key) or m.Service(key=spec.key)
                srow.name, srow.duration_minutes = spec.name, spec.duration_minutes
                srow.price, srow.skill = spec.price, spec.skill
                session.add(srow)
            existing_r = {row.key: row for row in await session.scalars(select(m.Resource))}
            for rspec in resources:
                rrow = existing_r.get(rspec.key) or m.Resource(key=rspec.key)
                rrow.name, rrow.kind = rspec.name, ResourceKind(rspec.kind)
                rrow.timezone = rspec.timezone or default_timezone
                rrow.skills = list(rspec.skills)
                rrow.weekly_schedule = schedule_json(rspec.schedule)
                session.add(rrow)

    async def services(self) -> list[ServiceRecord]:
        async with self._db.transaction() as session:
            return [
                mapping.service(r)
                for r in await session.scalars(select(m.Service).order_by(m.Service.id))
            ]

    async def resources(self) -> list[ResourceRecord]:
        async with self._db.transaction() as session:
            return [
                mapping.resource(r)
                for r in await session.scalars(select(m.Resource).order_by(m.Resource.id))
            ]

    async def service(self, key: str) -> ServiceRecord:
        async with self._db.transaction() as session:
            row = await session.scalar(select(m.Service).where(m.Service.key == key))
            if row is None:
                raise NotFound("service", key)
            return mapping.service(row)

    async def resource(self, key: str) -> ResourceRecord:
        async with self._db.transaction() as session:
            row = await session.scalar(select(m.Resource).where(m.Resource.key == key))
            if row is None:
                raise NotFound("resource", key)
            return mapping.resource(row)
