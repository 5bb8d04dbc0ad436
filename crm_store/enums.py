"""The CRM store's status and kind vocabularies (stored by value)."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """Where an identity lives or an interaction happened."""

    TELEGRAM = "telegram"
    PHONE = "phone"
    EMAIL = "email"
    WEB = "web"
    REST = "rest"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    NO_SHOW = "no_show"


class ResourceKind(StrEnum):
    PRACTITIONER = "practitioner"
    ROOM = "room"


class AgentRole(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
