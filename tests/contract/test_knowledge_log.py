"""Advice questions, "was this helpful?", and the gaps report, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from crm_store.customers import NewCustomer
from crm_store.enums import Channel
from crm_store.store import CrmStore


async def test_gaps_group_unsure_and_unhelpful_questions(store: CrmStore, clock) -> None:
    asker = (await store.customers.create(NewCustomer("Ola"))).id
    other = (await store.customers.create(NewCustomer("Pia"))).id
    log = store.knowledge_log
    start = clock()
    await log.record_question(asker, "Do you do Botox?", None, 0.1, False)
    clock.advance(minutes=5)
    await log.record_question(other, "do you do botox? ", None, 0.2, False)
    answered = await log.record_question(asker, "When are you open?", "opening-hours", 0.9, True)
    unhelpful = await log.record_question(asker, "Where do I park?", "how-to-find-us", 0.8, True)
    assert await log.record_helpful(answered, asker, True)
    assert await log.record_helpful(unhelpful, asker, False)
    assert not await log.record_helpful(unhelpful, other, True)  # not theirs to rate
    gaps = await log.gaps(since=start)
    assert [(g.question.lower().strip(), g.times, g.unhelpful) for g in gaps] == [
        ("do you do botox?", 2, 0),
        ("where do i park?", 1, 1),
    ]
    assert gaps[0].last_asked == start + timedelta(minutes=5)
    assert await log.gaps(since=start + timedelta(hours=1)) == []


async def test_a_question_is_logged_once_per_message(store: CrmStore, clock) -> None:
    """A retried message gets its entry back; another message, or one without an id, gets a
    new one; the same id on another channel is another message."""
    log = store.knowledge_log
    asked = ("Do you do Botox?", None, 0.1, False)
    first = await log.record_question(None, *asked, channel=Channel.REST, message_id="m1")
    again = await log.record_question(None, *asked, channel=Channel.REST, message_id="m1")
    other = await log.record_question(None, *asked, channel=Channel.REST, message_id="m2")
    telegram = await log.record_question(None, *asked, channel=Channel.TELEGRAM, message_id="m1")
    unkeyed = [await log.record_question(None, *asked) for _ in range(2)]
    assert again == first
    assert len({first, other, telegram, *unkeyed}) == 5
    (gap,) = await log.gaps(since=clock() - timedelta(minutes=1))
    assert gap.times == 5
