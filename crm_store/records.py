"""Frozen records the store hands out: no ORM object ever leaves a unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from crm_store.enums import AgentRole, AppointmentStatus, Channel, Direction, ResourceKind
from crm_store.tiers import Tier


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    id: int
    customer_id: int
    channel: Channel
    external_id: str
    verified: bool
    verified_at: datetime | None
    unreachable: bool


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    full_name: str
    birth_date: date | None
    language: str
    timezone: str
    heard_about_us: str | None
    consent_marketing: bool
    consent_data_processing: bool
    tier: Tier
    lifetime_value: Decimal
    notes: str | None
    created_at: datetime
    erased: bool


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    id: int
    customer_id: int
    channel: Channel
    direction: Direction
    text: str | None
    intent: str | None
    conversation_id: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionRecord:
    id: int
    customer_id: int
    amount: Decimal
    currency: str
    item: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    id: int
    key: str
    name: str
    duration_minutes: int
    price: Decimal
    skill: str


@dataclass(frozen=True, slots=True)
class ResourceRecord:
    id: int
    key: str
    name: str
    kind: ResourceKind
    timezone: str
    skills: tuple[str, ...]
    weekly_schedule: dict[str, list[list[str]]]


@dataclass(frozen=True, slots=True)
class AppointmentRecord:
    id: int
    customer_id: int
    service_id: int
    service_name: str
    resource_id: int
    resource_name: str
    start_at: datetime
    end_at: datetime
    status: AppointmentStatus


@dataclass(frozen=True, slots=True)
class AgentRecord:
    id: int
    username: str
    display_name: str
    roles: tuple[AgentRole, ...]
    skills: tuple[str, ...]
    capacity: int
    active: bool
    phone_address: str | None = None  # where a call is put through: "+44..." (E.164) or "sip:..."


@dataclass(frozen=True, slots=True)
class TransactionSummary:
    count: int
    total: Decimal
    currency: str | None
    first_at: datetime | None
    last_at: datetime | None


@dataclass(frozen=True, slots=True)
class CustomerView:
    """The single view of a customer: everything an agent or the bot needs, in one call."""

    customer: CustomerRecord
    identities: tuple[IdentityRecord, ...]
    recent_interactions: tuple[InteractionRecord, ...]
    transactions: TransactionSummary
    upcoming_appointments: tuple[AppointmentRecord, ...]

    @property
    def tier(self) -> Tier:
        return self.customer.tier

    @property
    def lifetime_value(self) -> Decimal:
        return self.customer.lifetime_value
