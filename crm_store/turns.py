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
from functools import cache
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    Boolean,
    Integer,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from crm_store import mapping
from crm_store import models as m
from crm_store.clock import Clock
from crm_store.customers import CustomerDirectory, NewInteraction
from crm_store.database import Database
from crm_store.enums import Channel
from crm_store.errors import CrmError, DuplicateIdentity
from crm_store.models import MESSAGE_ID_MAX
from crm_store.records import CustomerRecord
from crm_store.utc import UtcDateTime

Replies = list[dict[str, Any]]

_HANDLED = m.Base.metadata.tables["handled_messages"]
_INTERACTIONS = m.Base.metadata.tables["interactions"]
_CUSTOMERS = m.Base.metadata.tables["customers"]
_IDENTITIES = m.Base.metadata.tables["identities"]

# One row whatever matches: the message id's earlier answer (if any), and the customer, either
# the conversation's (customer_id) or the one holding the channel identity (by_identity).
_OPEN = select(
    _HANDLED.c.replies,
    _HANDLED.c.state,
    _IDENTITIES.c.verified.label("identity_verified"),
    *_CUSTOMERS.c,
).select_from(
    select(literal_column("1").label("one"))
    .subquery("one")
    .outerjoin(
        _HANDLED,
        and_(
            _HANDLED.c.channel == bindparam("channel", type_=String),
            _HANDLED.c.message_id == bindparam("message_id", type_=String),
        ),
    )
    .outerjoin(
        _IDENTITIES,
        and_(
            bindparam("by_identity", type_=Boolean),
            _IDENTITIES.c.channel
            == bindparam("identity_channel", type_=_IDENTITIES.c.channel.type),
            _IDENTITIES.c.external_id == bindparam("external_id", type_=String),
        ),
    )
    .outerjoin(
        _CUSTOMERS,
        and_(
            _CUSTOMERS.c.id
            == func.coalesce(bindparam("customer_id", type_=Integer), _IDENTITIES.c.customer_id),
            _CUSTOMERS.c.erased_at.is_(None),
        ),
    )
)

# PostgreSQL: the history rows and the message id in one statement (atomic by itself, and one
# round trip); the rows come as arrays so that the statement is compiled once, whatever their
# number.
_CLOSE_PG = text(
    """
    WITH handled AS (
      INSERT INTO handled_messages (channel, message_id, replies, state, handled_at)
      SELECT :channel, :message_id, :replies, :state, :handled_at WHERE :message_id IS NOT NULL
    )
    INSERT INTO interactions
      (customer_id, channel, direction, text, intent, conversation_id, occurred_at)
    SELECT * FROM unnest(
      :customer_ids, :channels, :directions, :texts, :intents, :conversation_ids, :occurred_ats
    )
    """
).bindparams(
    bindparam("channel", type_=String),
    bindparam("message_id", type_=String),
    bindparam("replies", type_=JSON),
    bindparam("state", type_=Text),
    bindparam("handled_at", type_=UtcDateTime),
    bindparam("customer_ids", type_=ARRAY(Integer)),
    bindparam("channels", type_=ARRAY(String)),
    bindparam("directions", type_=ARRAY(String)),
    bindparam("texts", type_=ARRAY(Text)),
    bindparam("intents", type_=ARRAY(String)),
    bindparam("conversation_ids", type_=ARRAY(String)),
    bindparam("occurred_ats", type_=ARRAY(UtcDateTime)),
)
_NEW_CUSTOMER = insert(_CUSTOMERS).returning(*_CUSTOMERS.c)


def _defaults(table: Table) -> dict[str, Any]:
    """The columns' Python-side defaults, which SQLAlchemy does not apply inside a CTE."""
    return {
        column.name: column.default.arg
        for column in table.c
        if isinstance(column.default, ScalarElementColumnDefault)
    }


_CUSTOMER_DEFAULTS = _defaults(_CUSTOMERS)
_IDENTITY_DEFAULTS = {f"identity_{name}": value for name, value in _defaults(_IDENTITIES).items()}


@cache
def _new_lead_pg(columns: tuple[str, ...]) -> Select[Any]:
    """PostgreSQL: the lead and the identity it holds in one statement, which a racing
    message's identity fails as a whole; compiled once per set of profile columns."""
    lead = (
        insert(_CUSTOMERS)
        .values({column: bindparam(column, type_=_CUSTOMERS.c[column].type) for column in columns})
        .returning(*_CUSTOMERS.c)
        .cte("lead")
    )
    given = ("channel", "external_id", "created_at", *_defaults(_IDENTITIES))
    holds = insert(_IDENTITIES).from_select(
        ["customer_id", *given],
        select(
            lead.c.id,
            *(bindparam(f"identity_{name}", type_=_IDENTITIES.c[name].type) for name in given),
        ),
        include_defaults=False,
    )
    return select(lead).add_cte(holds.cte("holds"))


_HANDLED_KEYS = ("channel", "message_id", "replies", "state", "handled_at")


def _close_params(rows: list[dict[str, Any]], handled: dict[str, Any] | None) -> dict[str, Any]:
    params: dict[str, Any] = dict.fromkeys(_HANDLED_KEYS) if handled is None else dict(handled)
    for key, column in (
        ("customer_ids", "customer_id"),
        ("texts", "text"),
        ("intents", "intent"),
        ("conversation_ids", "conversation_id"),
        ("occurred_ats", "occurred_at"),
    ):
        params[key] = [row[column] for row in rows]
    params["channels"] = [row["channel"].value for row in rows]
    params["directions"] = [row["direction"].value for row in rows]
    return params


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
        """Who is writing, and the replies to this message id if it was answered before.

        One statement answers the usual case (the conversation's customer, or the one holding
        the channel identity); a new contact or an erased customer takes a transaction more.
        """
        external_id = self._customers.normalize(channel, external_id)
        params = {
            "channel": channel.value,
            "message_id": None if message_id is None else message_id[:MESSAGE_ID_MAX],
            "customer_id": customer_id,
            "by_identity": customer_id is None,
            "identity_channel": channel,
            "external_id": external_id,
        }
        async with self._db.statement() as connection:
            row = (await connection.execute(_OPEN, params)).one()
        answered: tuple[Replies | None, str | None] = (row.replies, row.state)
        if message_id is None or row.replies is None:
            answered = (None, None)
        if row.id is not None:
            verified = None if customer_id is not None else bool(row.identity_verified)
            return TurnOpening(mapping.customer(row), verified, False, *answered)
        if customer_id is not None or row.identity_verified is not None:
            # the conversation's customer is gone, or the identity's holder was erased
            found = await self._holder(channel, external_id)
            if found is not None:
                return TurnOpening(found[0], found[1], False, *answered)
        created = await self._new_lead(channel, external_id, lead_name)
        if created is not None:
            return TurnOpening(created, False, True, *answered)
        found = await self._holder(channel, external_id)
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
        conversation in `state`: one statement on PostgreSQL (the message id rides along as a
        data-modifying CTE), one transaction on SQLite.

        AlreadyHandled (and nothing stored) if another worker stored the same message id first.
        """
        rows = self._customers.interaction_values(interactions)
        handled = None
        if message_id is not None:
            handled = {
                "channel": channel.value,
                "message_id": message_id[:MESSAGE_ID_MAX],
                "replies": replies,
                "state": state,
                "handled_at": self._clock(),
            }
        try:
            if self._db.dialect == "postgresql":
                async with self._db.statement() as connection:
                    await connection.execute(_CLOSE_PG, _close_params(rows, handled))
            else:
                async with self._db.begin() as connection:
                    if handled is not None:
                        await connection.execute(insert(_HANDLED), handled)
                    if rows:
                        await connection.execute(insert(_INTERACTIONS), rows)
        except IntegrityError:
            if message_id is None:
                raise
            earlier = await self.answered(channel, message_id)
            if earlier is None:
                raise
            raise AlreadyHandled(earlier) from None

    async def answered(self, channel: Channel, message_id: str) -> Replies | None:
        async with self._db.statement() as connection:
            replies: Replies | None = await connection.scalar(
                select(_HANDLED.c.replies).where(
                    _HANDLED.c.channel == channel.value,
                    _HANDLED.c.message_id == message_id[:MESSAGE_ID_MAX],
                )
            )
        return replies

    async def forget_handled(self, older_than: timedelta) -> int:
        """Drop the message ids answered more than `older_than` ago; how many went."""
        cutoff = self._clock() - older_than
        async with self._db.statement() as connection:
            stale = delete(_HANDLED).where(_HANDLED.c.handled_at < cutoff)
            result = await connection.execute(stale)
        return int(result.rowcount or 0)

    async def _holder(
        self, channel: Channel, external_id: str
    ) -> tuple[CustomerRecord, bool] | None:
        """The customer holding the identity (erased or not), and whether it is verified."""
        async with self._db.begin() as connection:
            row = (
                await connection.execute(
                    select(_CUSTOMERS, _IDENTITIES.c.verified.label("identity_verified"))
                    .join(_IDENTITIES, _IDENTITIES.c.customer_id == _CUSTOMERS.c.id)
                    .where(
                        _IDENTITIES.c.channel == channel,
                        _IDENTITIES.c.external_id == external_id,
                    )
                )
            ).first()
        return None if row is None else (mapping.customer(row), bool(row.identity_verified))

    async def _new_lead(
        self, channel: Channel, external_id: str, name: str
    ) -> CustomerRecord | None:
        """A lead holding the identity, or None if a racing message's lead holds it first."""
        now = self._clock()
        values = {
            **self._customers.validate_profile({"full_name": name}),
            "timezone": self._customers.default_timezone,
            "created_at": now,
            "updated_at": now,
        }
        identity = {"channel": channel, "external_id": external_id, "created_at": now}
        try:
            if self._db.dialect == "postgresql":
                values = _CUSTOMER_DEFAULTS | values
                statement = _new_lead_pg(tuple(sorted(values)))
                params = values | _IDENTITY_DEFAULTS
                params |= {f"identity_{key}": value for key, value in identity.items()}
                async with self._db.statement() as connection:
                    return mapping.customer((await connection.execute(statement, params)).one())
            async with self._db.begin() as connection:
                row = (await connection.execute(_NEW_CUSTOMER, values)).one()
                await connection.execute(insert(_IDENTITIES), {**identity, "customer_id": row.id})
        except IntegrityError:
            return None
        return mapping.customer(row)
