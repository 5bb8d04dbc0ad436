"""A small catalog (two services, two practitioners) for booking tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal

from crm_store.store import CrmStore


@dataclass(frozen=True)
class Svc:
    key: str
    name: str
    duration_minutes: int
    price: Decimal
    skill: str


@dataclass(frozen=True)
class Interval:
    start: time
    end: time


@dataclass(frozen=True)
class Res:
    key: str
    name: str
    skills: tuple[str, ...]
    kind: str = "practitioner"
    timezone: str | None = None
    schedule: dict[str, tuple[Interval, ...]] = field(
        default_factory=lambda: {"mon": (Interval(time(8), time(12)),)}
    )


SERVICES = [
    Svc("cleaning", "Dental cleaning", 45, Decimal("80.00"), "hygiene"),
    Svc("checkup", "Dental check-up", 30, Decimal("60.00"), "dentistry"),
]
RESOURCES = [
    Res("dr-novak", "Dr Lena Novak", ("dentistry", "hygiene")),
    Res("sam-hill", "Sam Hill", ("hygiene",)),
]


async def seed_catalog(store: CrmStore) -> None:
    await store.catalog.sync(SERVICES, RESOURCES, "Europe/London")
