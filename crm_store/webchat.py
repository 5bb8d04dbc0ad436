"""The web chat's transcript: every message of a conversation, numbered from 1, in the database.

The widget restores its history and fills the gaps after a reconnect from here, so a reload or a
server restart loses nothing. A customer's message carries the browser's idempotency key: sent
twice, it is stored once. Bot and agent messages may carry a key too (the web chat derives one
from the customer message they answer), which makes storing a turn's replies idempotent as well.

Numbers are allocated as max + 1 inside the writing transaction. SQLite has one writer at a time
(BEGIN IMMEDIATE); on PostgreSQL a transaction-scoped advisory lock per conversation serialises
writers, and a unique-key violation (a concurrent writer without the lock) is retried.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import models as m
from crm_store.clock import Clock
from crm_store.database import Database
from crm_store.errors import InvalidInput, StoreUnavailable

CONVERSATION_MAX = 100
CLIENT_KEY_MAX = 64
MAX_ATTEMPTS = 30
LOCK_NAMESPACE = 0x7765  # "we": the first key of the two-key advisory lock


class Author(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    conversation_id: str
    seq: int
    author: Author
    body: Mapping[str, Any]
    client_key: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Appended:
    """A stored message, and whether this call stored it (False: its key was there already)."""

    entry: TranscriptEntry
    new: bool


@dataclass(frozen=True, slots=True)
class NewEntry:
    author: Author
    body: Mapping[str, Any]
    client_key: str | None = None


def _entry(row: m.WebchatMessage) -> TranscriptEntry:
    return TranscriptEntry(
        row.conversation_id,
        row.seq,
        Author(row.author),
        dict(row.body),
        row.client_key,
        row.created_at,
    )


def _check(conversation_id: str, entries: Sequence[NewEntry]) -> None:
    if not conversation_id or len(conversation_id) > CONVERSATION_MAX:
        raise InvalidInput("conversation_id", f"must be 1-{CONVERSATION_MAX} characters")
    for entry in entries:
        key = entry.client_key
        if key is not None and not 0 < len(key) <= CLIENT_KEY_MAX:
            raise InvalidInput("client_key", f"must be 1-{CLIENT_KEY_MAX} characters")
        if not isinstance(entry.body, Mapping):
            raise InvalidInput("body", "must be an object")


class WebchatTranscript:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock

    async def append_customer(
        self, conversation_id: str, client_key: str, body: Mapping[str, Any]
    ) -> Appended:
        """Store a customer's message once per key; a repeat returns the stored one."""
        (appended,) = await self.append(
            conversation_id, [NewEntry(Author.CUSTOMER, body, client_key)]
        )
        return appended

    async def append(self, conversation_id: str, entries: Sequence[NewEntry]) -> list[Appended]:
        """Store messages in order, in one transaction; an entry whose key exists is not stored
        again (its stored version is returned with new=False)."""
        _check(conversation_id, entries)
        if not entries:
            return []
        for attempt in range(MAX_ATTEMPTS):
            try:
                async with self._db.transaction() as session:
                    return await self._append(session, conversation_id, entries)
            except IntegrityError:  # a concurrent writer took the number (or the key) first
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # noqa: S311
        raise StoreUnavailable(f"transcript of {conversation_id} too busy to append to")

    async def _append(
        self, session: AsyncSession, conversation_id: str, entries: Sequence[NewEntry]
    ) -> list[Appended]:
        w = m.WebchatMessage
        if self._db.dialect == "postgresql":
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:ns, hashtext(:cid))"),
                {"ns": LOCK_NAMESPACE, "cid": conversation_id},
            )
        keys = [e.client_key for e in entries if e.client_key is not None]
        stored: dict[str, m.WebchatMessage] = {}
        if keys:
            rows = await session.scalars(
                select(w).where(w.conversation_id == conversation_id, w.client_key.in_(keys))
            )
            stored = {row.client_key: row for row in rows if row.client_key is not None}
        top = await session.scalar(
            select(func.max(w.seq)).where(w.conversation_id == conversation_id)
        )
        seq = top or 0
        now = self._clock()
        result: list[Appended] = []
        for entry in entries:
            if entry.client_key is not None and entry.client_key in stored:
                result.append(Appended(_entry(stored[entry.client_key]), False))
                continue
            seq += 1
            row = w(
                conversation_id=conversation_id,
                seq=seq,
                author=entry.author.value,
                client_key=entry.client_key,
                body=dict(entry.body),
                created_at=now,
            )
            session.add(row)
            if entry.client_key is not None:
                stored[entry.client_key] = row
            result.append(Appended(_entry(row), True))
        await session.flush()
        return result

    async def by_key(self, conversation_id: str, client_key: str) -> TranscriptEntry | None:
        w = m.WebchatMessage
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(w).where(w.conversation_id == conversation_id, w.client_key == client_key)
            )
            return None if row is None else _entry(row)

    async def after(self, conversation_id: str, seq: int, limit: int) -> list[TranscriptEntry]:
        """Messages numbered above `seq`, oldest first, at most `limit`."""
        w = m.WebchatMessage
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(w)
                .where(w.conversation_id == conversation_id, w.seq > seq)
                .order_by(w.seq)
                .limit(limit)
            )
            return [_entry(row) for row in rows]

    async def latest(self, conversation_id: str, limit: int) -> list[TranscriptEntry]:
        """The last `limit` messages, oldest first."""
        w = m.WebchatMessage
        async with self._db.transaction() as session:
            rows = await session.scalars(
                select(w)
                .where(w.conversation_id == conversation_id)
                .order_by(w.seq.desc())
                .limit(limit)
            )
            return [_entry(row) for row in reversed(list(rows))]

    async def last_seq(self, conversation_id: str) -> int:
        w = m.WebchatMessage
        async with self._db.transaction() as session:
            top = await session.scalar(
                select(func.max(w.seq)).where(w.conversation_id == conversation_id)
            )
            return int(top or 0)
