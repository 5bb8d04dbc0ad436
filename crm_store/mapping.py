"""ORM rows to frozen records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from crm_store import models as m
from crm_store.records import (
    AgentRecord,
    AppointmentRecord,
    CustomerRecord,
    IdentityRecord,
    InteractionRecord,
    ResourceRecord,
    ServiceRecord,
    TransactionRecord,
)


def customer(row: m.Customer | Row[Any]) -> CustomerRecord:
    """From the ORM object or a Core row of the customers table."""
    return CustomerRecord(
        id=row.id,
        full_name=row.full_name,
        birth_date=row.birth_date,
        language=row.language,
        timezone=row.timezone,
        heard_about_us=row.heard_about_us,
        consent_marketing=row.consent_marketing,
        consent_data_processing=row.consent_data_processing,
        tier=row.tier,
        lifetime_value=row.lifetime_value,
        notes=row.notes,
        created_at=row.created_at,
        erased=row.erased_at is not None,
    )


def identity(row: m.Identity) -> IdentityRecord:
    return IdentityRecord(
        id=row.id,
        customer_id=row.customer_id,
        channel=row.channel,
        external_id=row.external_id,
        verified=row.verified,
        verified_at=row.verified_at,
        unreachable=row.unreachable,
    )


def interaction(row: m.Interaction) -> InteractionRecord:
    return InteractionRecord(
        id=row.id,
        customer_id=row.customer_id,
        channel=row.channel,
        direction=row.direction,
        text=row.text,
        intent=row.intent,
        conversation_id=row.conversation_id,
        occurred_at=row.occurred_at,
    )


def transaction(row: m.Transaction) -> TransactionRecord:
    return TransactionRecord(
        id=row.id,
        customer_id=row.customer_id,
        amount=row.amount,
        currency=row.currency,
        item=row.item,
        occurred_at=row.occurred_at,
    )


def service(row: m.Service) -> ServiceRecord:
    return ServiceRecord(
        id=row.id,
        key=row.key,
        name=row.name,
        duration_minutes=row.duration_minutes,
        price=row.price,
        skill=row.skill,
    )


def resource(row: m.Resource) -> ResourceRecord:
    return ResourceRecord(
        id=row.id,
        key=row.key,
        name=row.name,
        kind=row.kind,
        timezone=row.timezone,
        skills=tuple(row.skills),
        weekly_schedule=dict(row.weekly_schedule),
    )


def appointment(
    row: m.Appointment | Row[*tuple[Any, ...]], service_name: str, resource_name: str
) -> AppointmentRecord:
    """From the ORM object or a Core row of the appointments table."""
    return AppointmentRecord(
        id=row.id,
        customer_id=row.customer_id,
        service_id=row.service_id,
        service_name=service_name,
        resource_id=row.resource_id,
        resource_name=resource_name,
        start_at=row.start_at,
        end_at=row.end_at,
        status=row.status,
    )


def agent(row: m.Agent) -> AgentRecord:
    return AgentRecord(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        roles=tuple(row.roles),
        skills=tuple(row.skills),
        capacity=row.capacity,
        active=row.active,
        phone_address=row.phone_address,
    )
