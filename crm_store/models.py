"""SQLAlchemy 2 typed models: the system of record. Migrations in `migrations/` mirror these."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crm_store.enums import (
    AgentRole,
    AppointmentStatus,
    Channel,
    Direction,
    ResourceKind,
)
from crm_store.tiers import Tier
from crm_store.utc import UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Field limits, also used by the validators at the edge.
NAME_MAX = 200
EXTERNAL_ID_MAX = 255
NOTES_MAX = 4000
TEXT_MAX = 8000
MESSAGE_ID_MAX = 128  # a channel's message id; longer ones are cut
MESSAGE_KEY_MAX = 150  # "<channel>:<message id>"


def str_enum(enum: type[StrEnum], length: int = 20) -> Enum:
    """Store a StrEnum by value as a plain string column (portable, no native enum type)."""
    return Enum(
        enum,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    full_name: Mapped[str] = mapped_column(String(NAME_MAX))
    birth_date: Mapped[date | None] = mapped_column(Date)
    language: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64))
    heard_about_us: Mapped[str | None] = mapped_column(String(NAME_MAX))
    consent_marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_data_processing: Mapped[bool] = mapped_column(Boolean, default=True)
    tier: Mapped[Tier] = mapped_column(str_enum(Tier), default=Tier.LEAD)
    lifetime_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0"))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]

    identities: Mapped[list[Identity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_MAX))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    verified_at: Mapped[datetime | None]
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    customer: Mapped[Customer] = relationship(back_populates="identities")


class Interaction(Base):
    """One message in the contact history, whatever the channel."""

    __tablename__ = "interactions"
    __table_args__ = (Index("ix_interactions_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction))
    text: Mapped[str | None] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(100))
    conversation_id: Mapped[str | None] = mapped_column(String(100), index=True)
    occurred_at: Mapped[datetime] = mapped_column(index=True)


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (Index("ix_transactions_customer_time", "customer_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    item: Mapped[str] = mapped_column(String(NAME_MAX))
    occurred_at: Mapped[datetime]


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    skill: Mapped[str] = mapped_column(String(64))


class Resource(Base):
    """A practitioner or a room: something an appointment occupies."""

    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    kind: Mapped[ResourceKind] = mapped_column(str_enum(ResourceKind))
    timezone: Mapped[str] = mapped_column(String(64))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    # {"mon": [["08:00", "12:30"], ...], ...}
    weekly_schedule: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON, default=dict)


class Appointment(Base):
    __tablename__ = "appointments"
    __table_args__ = (
        Index("ix_appointments_customer_start", "customer_id", "start_at"),
        Index("ix_appointments_resource_start", "resource_id", "start_at"),
        Index("ix_appointments_resource_end", "resource_id", "end_at"),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        # The no-overlap rule lives in the migration (exclusion constraint / triggers).
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[AppointmentStatus] = mapped_column(
        str_enum(AppointmentStatus), default=AppointmentStatus.BOOKED
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(NAME_MAX))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[AgentRole]] = mapped_column(JSON, default=list)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # where a phone call is put through when this agent takes it: "+44..." or "sip:...".
    phone_address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]


# -- tickets (routing's record; the vocabulary lives in routing.events, mirrored here by value) ----

TICKET_STATUSES = ("queued", "offered", "assigned", "waiting_on_customer", "resolved", "abandoned")
TICKET_URGENCIES = ("normal", "complaint", "emergency")


def _value_enum(name: str, values: tuple[str, ...]) -> Enum:
    return Enum(*values, name=name, native_enum=False, length=20, validate_strings=True)


class Ticket(Base):
    """An incident handed to people: its current state. The history is in ticket_events."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_queue", "status", "queue"),
        Index("ix_tickets_assigned_agent_id_status", "assigned_agent_id", "status"),
        Index("ix_tickets_customer_id_created_at", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    queue: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(_value_enum("ticketstatus", TICKET_STATUSES))
    priority: Mapped[int] = mapped_column(Integer)
    tier: Mapped[Tier] = mapped_column(str_enum(Tier))
    urgency: Mapped[str] = mapped_column(_value_enum("urgency", TICKET_URGENCIES))
    channel: Mapped[Channel] = mapped_column(str_enum(Channel))
    conversation_id: Mapped[str | None] = mapped_column(String(100), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float | None] = mapped_column(Float)
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    sla_policy: Mapped[str] = mapped_column(String(64))
    # The seq of the ticket's last event: bumping it is how an event append takes the row lock.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(Integer)


class TicketEvent(Base):
    """One entry of a ticket's append-only log (never updated, never deleted by the code)."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        UniqueConstraint("ticket_id", "seq"),
        Index("ix_ticket_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- the dialogue's records: advice questions (for the gaps report) and appointment reminders ----


class KnowledgeQuestion(Base):
    """A question the bot answered from the knowledge base, or could not; and whether it helped."""

    __tablename__ = "knowledge_questions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    question: Mapped[str | None] = mapped_column(Text)  # None once the customer is erased
    article_slug: Mapped[str | None] = mapped_column(String(100))
    confidence: Mapped[float] = mapped_column(Float)
    sure: Mapped[bool] = mapped_column(Boolean)
    helpful: Mapped[bool | None] = mapped_column(Boolean)
    asked_at: Mapped[datetime] = mapped_column(index=True)
    # "<channel>:<message id>" of the message that asked: a retried message finds its entry
    # instead of logging the question twice. None when the channel gave no message id.
    message_key: Mapped[str | None] = mapped_column(String(MESSAGE_KEY_MAX))

    __table_args__ = (Index("ix_knowledge_questions_message_key", "message_key", unique=True),)


REMINDER_STATUSES = ("sending", "sent", "skipped", "failed")


class Reminder(Base):
    """One reminder per appointment start time: claimed before sending, so none repeats."""

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("appointment_id", "start_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"))
    start_at: Mapped[datetime]  # the appointment's start when the reminder was claimed
    status: Mapped[str] = mapped_column(_value_enum("reminderstatus", REMINDER_STATUSES))
    channel: Mapped[Channel | None] = mapped_column(str_enum(Channel))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))


class HandledMessage(Base):
    """A channel message id the bot has answered, and its replies, stored in the same transaction
    as the turn's history: a retry (a client's, or one after a crash or a lost Redis) gets the
    same replies and nothing is stored twice. Kept for a day (the pruning job)."""

    __tablename__ = "handled_messages"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(MESSAGE_ID_MAX), primary_key=True)
    replies: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # the conversation state the turn left (JSON), restored for a retry after a crash that
    # came between this commit and the state's save in Redis
    state: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[datetime] = mapped_column(index=True)


# -- the web chat's transcript: what the widget shows, in order, across reloads and restarts ----

WEBCHAT_AUTHORS = ("customer", "bot", "agent")


class WebchatMessage(Base):
    """One message of a web chat conversation, numbered per conversation from 1.

    `client_key` is the browser's idempotency key for a customer's message, so a message the
    widget re-sends after a reconnect is stored once. `body` is the rendered reply (text,
    buttons, ...) or the customer's text.
    """

    __tablename__ = "webchat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "client_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(100))
    seq: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(_value_enum("webchatauthor", WEBCHAT_AUTHORS))
    client_key: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


# -- the desk's security audit log: logins, refusals and the sensitive actions of staff ----------


class DeskAuditEvent(Base):
    """One security-relevant desk action (append-only): who, from where, what, on what, result."""

    __tablename__ = "desk_audit_events"
    __table_args__ = (Index("ix_desk_audit_events_agent_id_at", "agent_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(20))  # "ok", "refused", "failed"
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))  # as typed at a login attempt
    address: Mapped[str | None] = mapped_column(String(64))  # the client's IP address
    target: Mapped[str | None] = mapped_column(String(100))  # e.g. "ticket:12", "queue:billing"
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
