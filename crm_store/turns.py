"""A conversation turn in the record: one transaction to open it, one to close it.

Opening finds who is writing (the conversation's customer, or the one behind the channel
identity, or a new lead holding it) and whether this message id was answered before. Closing
stores the turn's history (the message and the replies) together with the message id and its
replies, so that a retried message, even after a crash or a lost Redis, is answered with the
same replies and never stored twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import mapping
from crm_store import models as m
from crm_store.clock import Clock
from crm_store.customers import CustomerDirectory, NewInteraction
from crm_store.database import Database
from crm_store.enums import Channel
from crm_store.errors import CrmError, DuplicateIdentity
from crm_store.records import CustomerRecord

Replies = list[dict[str, Any]]
MESSAGE_ID_MAX = 128


class AlreadyHandled(CrmError):
    """Another worker stored this message id first (the conversation lock was lost)."""

    def __init__(self, replies: Replies) -> None:
        super().__init__("this message was already handled")
        self.replies = replies


@dataclass(frozen=True, slots=True)
class TurnOpening:
    customer: CustomerRecord
    # whether the channel identity is verified in the CRM; None when it was not looked up
    # (the conversation already knew its customer)
    identity_verified: bool | None
    created: bool  # a new lead was created for an unknown identity
    answered: Replies | None  # the replies already sent for this message id, if any
    answered_state: str | None = None  # the conversation state that answer left


class TurnRecord:
    def __init__(self, database: Database, customers: CustomerDirectory, clock: Clock) -> None:
        self._db = database
        self._customers = customers
        self._clock = clock

    async def open(
        self,
        channel: Channel,
        external_id: str,
        *,
        customer_id: int | None,
        message_id: str | None,
        lead_name: str,
    ) -> TurnOpening:
        """Who is writing, and the replies to this message id if it was answered before."""
        external_id = self._customers.normalize(channel, external_id)
        async with self._db.transaction() as session:
            handled = await _handled(session, channel, message_id)
            answered = (handled.replies, handled.state) if handled is not None else (None, None)
            if customer_id is not None:
                row = await session.get(m.Customer, customer_id)
                if row is not None and row.erased_at is None:
                    return TurnOpening(mapping.customer(row), None, False, *answered)
            found = await self._by_identity(session, channel, external_id)
            if found is not None:
                return TurnOpening(found[0], found[1], False, *answered)
            created = await self._new_lead(session, channel, external_id, lead_name)
            if created is not None:
                return TurnOpening(created, False, True, *answered)
            found = await self._by_identity(session, channel, external_id)
            if found is None:  # created and gone again between two statements: try later
                raise DuplicateIdentity(channel.value, external_id, 0)
            return TurnOpening(found[0], found[1], False, *answered)

    async def close(
        self,
        interactions: Iterable[NewInteraction],
        *,
        channel: Channel,
        message_id: str | None,
        replies: Replies,
        state: str | None = None,
    ) -> None:
        """Store the turn's history and, with it, that `message_id` got `replies` and left the
        conversation in `state`.

        AlreadyHandled (and nothing stored) if another worker stored the same message id first.
        """
        rows: list[Any] = self._customers.interaction_rows(interactions)
        if message_id is not None:
            handled = m.HandledMessage(
                channel=channel.value,
                message_id=message_id[:MESSAGE_ID_MAX],
                replies=replies,
                state=state,
                handled_at=self._clock(),
            )
            rows.append(handled)
        try:
            async with self._db.transaction() as session:
                session.add_all(rows)
        except IntegrityError:
            if message_id is None:
                raise
            earlier = await self.answered(channel, message_id)
            if earlier is None:
                raise
            raise AlreadyHandled(earlier) from None

    async def answered(self, channel: Channel, message_id: str) -> Replies | None:
        async with self._db.transaction() as session:
            handled = await _handled(session, channel, message_id)
            return None if handled is None else handled.replies

    async def forget_handled(self, older_than: timedelta) -> int:
        """Drop the message ids answered more than `older_than` ago; how many went."""
        cutoff = self._clock() - older_than
        async with self._db.transaction() as session:
            result = await session.execute(
                delete(m.HandledMessage).where(m.HandledMessage.handled_at < cutoff)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    @staticmethod
    async def _by_identity(
        session: AsyncSession, channel: Channel, external_id: str
    ) -> tuple[CustomerRecord, bool] | None:
        row = (
            await session.execute(
                select(m.Customer, m.Identity.verified)
                .join(m.Identity)
                .where(m.Identity.channel == channel, m.Identity.external_id == external_id)
            )
        ).first()
        return None if row is None else (mapping.customer(row[0]), bool(row[1]))

    async def _new_lead(
        self, session: AsyncSession, channel: Channel, external_id: str, name: str
    ) -> CustomerRecord | None:
        """A lead holding the identity, or None if a racing message created one first."""
        values = self._customers.validate_profile({"full_name": name})
        try:
            async with session.begin_nested():
                return await self._customers.add(session, values, [(channel, external_id)])
        except (DuplicateIdentity, IntegrityError):
            return None


async def _handled(
    session: AsyncSession, channel: Channel, message_id: str | None
) -> m.HandledMessage | None:
    if message_id is None:
        return None
    return await session.get(m.HandledMessage, (channel.value, message_id[:MESSAGE_ID_MAX]))
