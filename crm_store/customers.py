"""The customer directory: profiles, channel identities and the contact/transaction history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import mapping
from crm_store import models as m
from crm_store.clock import Clock
from crm_store.database import Database
from crm_store.enums import Channel, Direction
from crm_store.errors import DuplicateIdentity, InvalidInput, NotFound
from crm_store.records import CustomerRecord, IdentityRecord, InteractionRecord, TransactionRecord
from crm_store.tier_assignment import TierAssigner
from crm_store.validation import (
    check_birth_date,
    check_language,
    check_timezone,
    clean_name,
    clean_text,
    normalize_external_id,
)


@dataclass(frozen=True, slots=True)
class NewCustomer:
    full_name: str
    birth_date: date | None = None
    language: str = "en"
    timezone: str | None = None
    heard_about_us: str | None = None
    consent_marketing: bool = False
    notes: str | None = None


@dataclass(frozen=True, slots=True)
class NewInteraction:
    customer_id: int
    channel: Channel
    direction: Direction
    text: str | None
    intent: str | None = None
    conversation_id: str | None = None
    occurred_at: datetime | None = None


PROFILE_FIELDS = frozenset(
    {
        "full_name",
        "birth_date",
        "language",
        "timezone",
        "heard_about_us",
        "consent_marketing",
        "notes",
    }
)


class CustomerDirectory:
    def __init__(
        self,
        database: Database,
        tiers: TierAssigner,
        clock: Clock,
        *,
        default_region: str,
        default_timezone: str,
    ) -> None:
        self._db = database
        self._tiers = tiers
        self._clock = clock
        self.default_region = default_region
        self.default_timezone = default_timezone

    # -- validation at the edge ---------------------------------------------------------------

    def normalize(self, channel: Channel, external_id: str) -> str:
        return normalize_external_id(channel, external_id, self.default_region)

    def validate_profile(self, changes: dict[str, object]) -> dict[str, object]:
        """Checked, normalised profile values; InvalidInput names the first bad field."""
        unknown = set(changes) - PROFILE_FIELDS
        if unknown:
            raise InvalidInput(sorted(unknown)[0], "is not a profile field")
        today = self._clock().date()
        values: dict[str, object] = {}
        for key, value in changes.items():
            if key == "full_name":
                values[key] = clean_name(value if isinstance(value, str) else None)
            elif key == "birth_date":
                values[key] = check_birth_date(value if isinstance(value, date) else None, today)
            elif key == "language":
                values[key] = check_language(str(value))
            elif key == "timezone":
                values[key] = check_timezone(str(value))
            elif key == "heard_about_us":
                values[key] = clean_text(key, value if isinstance(value, str) else None, m.NAME_MAX)
            elif key == "notes":
                values[key] = clean_text(
                    key, value if isinstance(value, str) else None, m.NOTES_MAX
                )
            else:
                values[key] = bool(value)
        return values

    # -- profiles ------------------------------------------------------------------------------

    async def create(
        self,
        profile: NewCustomer,
        identities: Iterable[tuple[Channel, str]] = (),
        *,
        verified: bool = False,
    ) -> CustomerRecord:
        """Create a customer with its identities in one transaction (all or nothing)."""
        values = self.validate_profile(
            {k: getattr(profile, k) for k in PROFILE_FIELDS if getattr(profile, k) is not None}
        )
        normalized = [(ch, self.normalize(ch, ext)) for ch, ext in identities]
        async with self._db.transaction() as session:
            return await self.add(session, values, normalized, verified=verified)

    async def add(
        self,
        session: AsyncSession,
        values: dict[str, object],
        identities: list[tuple[Channel, str]],
        *,
        verified: bool = False,
    ) -> CustomerRecord:
        """Insert a customer (validated `values`) with its normalized identities in `session`;
        DuplicateIdentity if another customer holds one of them."""
        now = self._clock()
        for channel, external_id in identities:
            await self._refuse_taken(session, channel, external_id, owner=None)
        customer = m.Customer(
            **{"timezone": self.default_timezone, **values}, created_at=now, updated_at=now
        )
        customer.identities = [
            m.Identity(
                channel=channel,
                external_id=external_id,
                verified=verified,
                verified_at=now if verified else None,
                created_at=now,
            )
            for channel, external_id in dict.fromkeys(identities)
        ]
        session.add(customer)
        await session.flush()
        return mapping.customer(customer)

    async def get(self, customer_id: int) -> CustomerRecord:
        async with self._db.transaction() as session:
            return mapping.customer(await self._row(session, customer_id))

    async def update_profile(self, customer_id: int, **changes: object) -> CustomerRecord:
        values = self.validate_profile(changes)
        async with self._db.transaction() as session:
            customer = await self._row(session, customer_id)
            for key, value in values.items():
                setattr(customer, key, value)
            customer.updated_at = self._clock()
            return mapping.customer(customer)

    async def count(self) -> int:
        async with self._db.transaction() as session:
            return int(await session.scalar(select(func.count(m.Customer.id))) or 0)

    # -- identities ----------------------------------------------------------------------------

    async def find_by_identity(self, channel: Channel, external_id: str) -> CustomerRecord | None:
        external_id = self.normalize(channel, external_id)
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(m.Customer)
                .join(m.Identity)
                .where(m.Identity.channel == channel, m.Identity.external_id == external_id)
            )
            return None if row is None else mapping.customer(row)

    async def resolve(
        self, channel: Channel, external_id: str, *, name: str = "New contact"
    ) -> tuple[CustomerRecord, bool]:
        """The customer behind an identity, creating a lead that holds it when it is new.

        Returns (customer, created). Safe under concurrency: if two first messages race, the
        identity's unique constraint lets one create and the other finds it.
        """
        found = await self.find_by_identity(channel, external_id)
        if found is not None:
            return found, False
        try:
            return await self.create(NewCustomer(full_name=name), [(channel, external_id)]), True
        except (DuplicateIdentity, IntegrityError):
            found = await self.find_by_identity(channel, external_id)
            if found is None:
                raise
            return found, False

    async def identities(self, customer_id: int) -> list[IdentityRecord]:
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(m.Identity)
                .where(m.Identity.customer_id == customer_id)
                .order_by(m.Identity.id)
            )
            return [mapping.identity(row) for row in rows]

    async def add_identity(
        self, customer_id: int, channel: Channel, external_id: str, *, verified: bool = False
    ) -> IdentityRecord:
        """Attach an identity; idempotent for its owner, refused if another customer owns it."""
        external_id = self.normalize(channel, external_id)
        now = self._clock()
        async with self._db.transaction() as session:
            await self._row(session, customer_id)
            row = await self._refuse_taken(session, channel, external_id, owner=customer_id)
            if row is None:
                row = m.Identity(
                    customer_id=customer_id,
                    channel=channel,
                    external_id=external_id,
                    created_at=now,
                )
                session.add(row)
            if verified and not row.verified:
                row.verified, row.verified_at = True, now
            await session.flush()
            return mapping.identity(row)

    async def link_verified_phone(
        self, channel: Channel, external_id: str, phone: str
    ) -> CustomerRecord:
        """A channel proved that `external_id` owns `phone`: join them under one customer.

        If another customer already holds the phone, the channel identity moves to that
        customer (never a second profile); otherwise the phone is added, verified, to the
        channel identity's customer. Returns the customer who now holds both.
        """
        external_id = self.normalize(channel, external_id)
        phone = self.normalize(Channel.PHONE, phone)
        now = self._clock()
        async with self._db.transaction() as session:
            ident = await self._identity_row(session, channel, external_id)
            if ident is None:
                raise NotFound(f"{channel.value} identity", external_id)
            phone_row = await self._identity_row(session, Channel.PHONE, phone)
            if phone_row is None:
                phone_row = m.Identity(
                    customer_id=ident.customer_id,
                    channel=Channel.PHONE,
                    external_id=phone,
                    created_at=now,
                )
                session.add(phone_row)
            ident.customer_id = phone_row.customer_id
            for row in (ident, phone_row):
                if not row.verified:
                    row.verified, row.verified_at = True, now
            await session.flush()
            return mapping.customer(await self._row(session, phone_row.customer_id))

    async def identity(self, channel: Channel, external_id: str) -> IdentityRecord | None:
        external_id = self.normalize(channel, external_id)
        async with self._db.transaction() as session:
            row = await self._identity_row(session, channel, external_id)
            return None if row is None else mapping.identity(row)

    @staticmethod
    async def _identity_row(
        session: AsyncSession, channel: Channel, external_id: str
    ) -> m.Identity | None:
        return await session.scalar(
            select(m.Identity).where(
                m.Identity.channel == channel, m.Identity.external_id == external_id
            )
        )

    async def verify_identity(self, channel: Channel, external_id: str) -> IdentityRecord:
        return await self._update_identity(channel, external_id, verified=True)

    async def mark_unreachable(
        self, channel: Channel, external_id: str, unreachable: bool = True
    ) -> IdentityRecord:
        return await self._update_identity(channel, external_id, unreachable=unreachable)

    async def _update_identity(
        self, channel: Channel, external_id: str, **values: bool
    ) -> IdentityRecord:
        external_id = self.normalize(channel, external_id)
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(m.Identity).where(
                    m.Identity.channel == channel, m.Identity.external_id == external_id
                )
            )
            if row is None:
                raise NotFound(f"{channel.value} identity", external_id)
            if values.get("verified") and not row.verified:
                row.verified_at = self._clock()
            for key, value in values.items():
                setattr(row, key, value)
            return mapping.identity(row)

    async def _refuse_taken(
        self, session: AsyncSession, channel: Channel, external_id: str, owner: int | None
    ) -> m.Identity | None:
        row = await session.scalar(
            select(m.Identity).where(
                m.Identity.channel == channel, m.Identity.external_id == external_id
            )
        )
        if row is not None and row.customer_id != owner:
            raise DuplicateIdentity(channel.value, external_id, row.customer_id)
        return row

    # -- history -------------------------------------------------------------------------------

    async def record_interaction(
        self,
        customer_id: int,
        channel: Channel,
        direction: Direction,
        text: str | None,
        *,
        intent: str | None = None,
        conversation_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> InteractionRecord:
        text = clean_text("text", text, m.TEXT_MAX)
        async with self._db.transaction() as session:
            await self._row(session, customer_id)
            row = m.Interaction(
                customer_id=customer_id,
                channel=channel,
                direction=direction,
                text=text,
                intent=clean_text("intent", intent, 100),
                conversation_id=clean_text("conversation_id", conversation_id, 100),
                occurred_at=occurred_at or self._clock(),
            )
            session.add(row)
            await session.flush()
            return mapping.interaction(row)

    async def record_interactions(self, items: Iterable[NewInteraction]) -> None:
        """Several history entries in one statement (a conversation turn: in and out)."""
        rows = self.interaction_values(items)
        if rows:
            async with self._db.statement() as connection:
                await connection.execute(insert(m.Interaction).values(rows))

    def interaction_values(self, items: Iterable[NewInteraction]) -> list[dict[str, Any]]:
        """History entries, checked, as column values for an INSERT."""
        return [
            {
                "customer_id": item.customer_id,
                "channel": item.channel,
                "direction": item.direction,
                "text": clean_text("text", item.text, m.TEXT_MAX),
                "intent": clean_text("intent", item.intent, 100),
                "conversation_id": clean_text("conversation_id", item.conversation_id, 100),
                "occurred_at": item.occurred_at or self._clock(),
            }
            for item in items
        ]

    async def record_transaction(
        self,
        customer_id: int,
        amount: Decimal | str,
        currency: str,
        item: str,
        *,
        occurred_at: datetime | None = None,
    ) -> TransactionRecord:
        """Store a purchase and recompute the customer's tier and lifetime value with it."""
        try:
            value = Decimal(amount)
        except InvalidOperation as exc:
            raise InvalidInput("amount", f"{amount!r} is not a number") from exc
        if not value.is_finite() or abs(value) >= Decimal("1e10"):
            raise InvalidInput("amount", "is out of range")
        if len(currency) != 3 or not currency.isalpha():
            raise InvalidInput("currency", f"{currency!r} is not a 3-letter currency code")
        item_name = clean_text("item", item, m.NAME_MAX, required=True)
        now = self._clock()
        async with self._db.transaction() as session:
            customer = await self._row(session, customer_id)
            row = m.Transaction(
                customer_id=customer_id,
                amount=value.quantize(Decimal("0.01")),
                currency=currency.upper(),
                item=item_name,
                occurred_at=occurred_at or now,
            )
            session.add(row)
            await session.flush()
            await self._tiers.assign(session, customer, now)
            return mapping.transaction(row)

    async def _row(self, session: AsyncSession, customer_id: int) -> m.Customer:
        row = await session.get(m.Customer, customer_id)
        if row is None:
            raise NotFound("customer", customer_id)
        return row
