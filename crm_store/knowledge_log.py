"""Advice questions and their answers' helpfulness: the raw material of the gaps report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, cast, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import ReturningInsert

from crm_store import models as m
from crm_store.clock import Clock
from crm_store.database import Database
from crm_store.enums import Channel
from crm_store.models import MESSAGE_ID_MAX, TEXT_MAX
from crm_store.validation import clean_text


@dataclass(frozen=True, slots=True)
class KnowledgeGap:
    """A question the knowledge base did not answer well, with how often it was asked."""

    question: str
    times: int
    last_asked: datetime
    article_slug: str | None
    unhelpful: int


_NEW_QUESTION = insert(m.KnowledgeQuestion).returning(m.KnowledgeQuestion.id)


def _question_once(dialect: str) -> ReturningInsert[tuple[int]]:
    """The question, or the id of the one already logged for its message (the no-op update
    makes the existing row's id come back)."""
    upsert: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        upsert = postgresql.insert(m.KnowledgeQuestion)
    else:
        upsert = sqlite.insert(m.KnowledgeQuestion)
    return upsert.on_conflict_do_update(
        index_elements=[m.KnowledgeQuestion.message_key],
        set_={"message_key": upsert.excluded.message_key},
    ).returning(m.KnowledgeQuestion.id)


class KnowledgeLog:
    def __init__(self, database: Database, clock: Clock) -> None:
        self._db = database
        self._clock = clock
        self._once = _question_once(database.dialect)

    async def record_question(
        self,
        customer_id: int | None,
        question: str,
        article_slug: str | None,
        confidence: float,
        sure: bool,
        *,
        channel: Channel | None = None,
        message_id: str | None = None,
    ) -> int:
        """The new entry's id; with the message that asked (`channel` and `message_id`), the
        entry already logged for that message if there is one (the message was retried)."""
        key = None
        if channel is not None and message_id is not None:
            key = f"{channel.value}:{message_id[:MESSAGE_ID_MAX]}"
        values = {
            "customer_id": customer_id,
            "question": clean_text("question", question, TEXT_MAX),
            "article_slug": article_slug,
            "confidence": float(confidence),
            "sure": sure,
            "asked_at": self._clock(),
            "message_key": key,
        }
        statement = _NEW_QUESTION if key is None else self._once
        async with self._db.statement() as connection:  # one statement: no BEGIN/COMMIT trips
            new_id: int = (await connection.execute(statement, values)).scalar_one()
        return new_id

    async def record_helpful(self, entry_id: int, customer_id: int | None, helpful: bool) -> bool:
        """Store the answer to "Was this helpful?"; only the customer who asked may give it."""
        async with self._db.transaction() as session:
            row = await session.get(m.KnowledgeQuestion, entry_id)
            if row is None or row.customer_id != customer_id:
                return False
            row.helpful = helpful
            return True

    async def gaps(self, since: datetime, limit: int = 50) -> list[KnowledgeGap]:
        """Unanswered, unsure or unhelpful questions since `since`, most frequent first."""
        q = m.KnowledgeQuestion
        key = func.lower(func.trim(q.question))
        unhelpful = func.sum(cast(q.helpful.is_(False), Integer))
        statement = (
            select(
                func.min(q.question),
                func.count(q.id),
                func.max(q.asked_at),
                func.max(q.article_slug),
                func.coalesce(unhelpful, 0),
            )
            .where(q.asked_at >= since, q.question.is_not(None))
            .where(or_(q.sure.is_(False), q.helpful.is_(False)))
            .group_by(key)
            .order_by(func.count(q.id).desc(), func.max(q.asked_at).desc())
            .limit(limit)
        )
        async with self._db.transaction() as session:
            rows = (await session.execute(statement)).all()
        return [
            KnowledgeGap(text or "", int(n), last, slug, int(bad))
            for text, n, last, slug, bad in rows
        ]
