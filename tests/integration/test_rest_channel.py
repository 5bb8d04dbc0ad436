"""The REST channel end to end: Rasa's wire format in, the dialogue engine, the contact history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import select

from bot.channels.identity import sign
from bot.channels.rest import PATH, RestChannel
from bot.demo_seed import DemoSeeder
from bot.dialogue.messages import Reply
from bot.dialogue_setup import Dialogue, open_dialogue
from crm_store.enums import Channel, Direction
from crm_store.errors import StoreUnavailable
from crm_store.models import KnowledgeQuestion
from crm_store.store import CrmStore
from routing.events import EventKind
from tests.dialogue_support import RuleInterpreter, demo_settings

SECRET = "test-identity-secret"
BOOK = '/book_appointment{"service": "cleaning"}'


@asynccontextmanager
async def serving(store: CrmStore) -> AsyncIterator[tuple[Dialogue, TestClient]]:
    """The demo dialogue on `store` behind the REST channel, and a client of it."""
    settings = demo_settings("sqlite+aiosqlite://")
    async with open_dialogue(settings, RuleInterpreter(), store=store, clock=store.clock) as bot:
        app = web.Application()
        app.add_routes(RestChannel(bot.engine.handle, SecretStr(SECRET), store.clock).routes())
        async with TestClient(TestServer(app)) as client:
            yield bot, client


async def say_and_crash(
    client: TestClient,
    store: CrmStore,
    monkeypatch: pytest.MonkeyPatch,
    sender: str,
    text: str,
    **metadata: object,
) -> None:
    """Send a message whose turn's own commit fails (the process died or the database went
    away after the flow's side effects had committed): the client gets a 503."""
    real_close = store.turns.close

    async def crash_once(*args: object, **kwargs: object) -> None:
        monkeypatch.setattr(store.turns, "close", real_close)
        raise StoreUnavailable("the turn's commit never happened")

    monkeypatch.setattr(store.turns, "close", crash_once)
    body = {"sender": sender, "message": text, "metadata": metadata}
    response = await client.post(PATH, json=body)
    assert response.status == 503, await response.text()


@pytest.fixture
async def client(store: CrmStore) -> AsyncIterator[TestClient]:
    async with serving(store) as (_bot, client):
        yield client


async def say(client: TestClient, sender: str, text: str, **metadata: object) -> list[dict]:
    response = await client.post(
        PATH, json={"sender": sender, "message": text, "metadata": metadata}
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_stranger_becomes_a_lead_and_the_turn_is_in_the_history(
    client: TestClient, store: CrmStore
) -> None:
    replies = await say(client, "visitor-1", "hello")
    assert replies[0]["recipient_id"] == "visitor-1"
    assert "Lindenhof Clinic" in replies[0]["text"]
    assert replies[0]["buttons"][0]["payload"] == "/book_appointment"
    customer = await store.customers.find_by_identity(Channel.REST, "visitor-1")
    assert customer is not None and customer.tier.value == "lead"
    view = await store.views.view(customer.id)
    history = [(i.direction, i.text) for i in reversed(view.recent_interactions)]
    assert history[0] == (Direction.INBOUND, "hello")
    assert history[1][0] is Direction.OUTBOUND and history[1][1] == replies[0]["text"]


async def test_a_signed_identity_verifies_and_a_wrong_hash_stays_anonymous(
    client: TestClient, store: CrmStore
) -> None:
    await say(client, "s-1", "hi", identity={"user_id": "anna", "hash": "0" * 64})
    assert await store.customers.identity(Channel.WEB, "anna") is None
    await say(client, "s-1", "hi", identity={"user_id": "anna", "hash": sign("anna", SECRET)})
    identity = await store.customers.identity(Channel.WEB, "anna")
    assert identity is not None and identity.verified


async def test_a_retried_message_id_is_processed_once(client: TestClient, store: CrmStore) -> None:
    first = await say(client, "retry-1", "thanks", message_id="m-77")
    again = await say(client, "retry-1", "thanks", message_id="m-77")
    assert first == again
    customer = await store.customers.find_by_identity(Channel.REST, "retry-1")
    view = await store.views.view(customer.id)
    assert len(view.recent_interactions) == 2  # one in, one out


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"sender": "", "message": "hi"}', "sender"),
        (b'{"sender": "a b", "message": "hi"}', "sender"),
        (b'{"sender": "ok", "message": 5}', "message"),
        (b'{"sender": "ok", "message": "hi", "metadata": []}', "metadata"),
    ],
)
async def test_bad_requests_get_400_with_a_reason(
    client: TestClient, body: bytes, reason: str
) -> None:
    response = await client.post(PATH, data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert reason in (await response.json())["error"]


async def test_two_misses_in_a_row_offer_intents_then_escalate(client: TestClient) -> None:
    first = await say(client, "lost-1", "qwerty asdf")
    payloads = [b["payload"] for b in first[0]["buttons"]]
    assert payloads == ["/book_appointment", "/ask_advice", "/request_human"]


async def test_a_retry_after_a_lost_state_save_restores_the_conversation(
    store: CrmStore,
) -> None:
    """A crash between the turn's commit and the state's save (or a lost Redis) leaves the
    live state behind the record: the retry gets the same replies and puts the state back."""
    async with serving(store) as (bot, client):
        first = await say(client, "crash-1", BOOK, message_id="b1")
        state = await bot.live.states.load("rest:crash-1")
        assert state is not None and state.flow == "book"
        await bot.live.states.delete("rest:crash-1")  # the save that never happened
        again = await say(client, "crash-1", BOOK, message_id="b1")
        assert again == first
        restored = await bot.live.states.load("rest:crash-1")
        assert restored is not None and restored.flow == "book"
        assert restored.slots == state.slots
        inbound = [
            i
            for i in (await store.views.view(state.customer_id or 0)).recent_interactions
            if i.direction is Direction.INBOUND
        ]
        assert len(inbound) == 1  # stored once


async def test_a_turn_that_loses_the_race_keeps_the_outbox_for_the_next(
    store: CrmStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker answers the same message id while this one works on it (its lock ran
    out): the answer that stands is theirs, and what this turn took out of the conversation's
    outbox (an agent's message) is put back, delivered with the next turn instead of lost."""
    settings = demo_settings("sqlite+aiosqlite://")
    async with open_dialogue(settings, RuleInterpreter(), store=store, clock=store.clock) as bot:
        outbox = bot.engine.outbound.outbox if bot.engine.outbound else None
        assert outbox is not None
        real_open = store.turns.open

        async def open_then_lose(*args: object, **kwargs: object) -> object:
            opening = await real_open(*args, **kwargs)  # type: ignore[arg-type]
            await store.turns.close(  # the other worker's commit
                [], channel=Channel.REST, message_id="race-1", replies=[{"text": "theirs"}]
            )
            return opening

        app = web.Application()
        app.add_routes(RestChannel(bot.engine.handle, SecretStr(SECRET), store.clock).routes())
        async with TestClient(TestServer(app)) as client:
            await say(client, "racer", "hello", message_id="race-0")
            await outbox.push("rest:racer", [Reply("An agent wrote back")])
            monkeypatch.setattr(store.turns, "open", open_then_lose)
            lost = await say(client, "racer", "hello", message_id="race-1")
            monkeypatch.setattr(store.turns, "open", real_open)
            assert [reply["text"] for reply in lost] == ["theirs"]
            after = await say(client, "racer", "hello", message_id="race-2")
            assert after[0]["text"] == "An agent wrote back"


async def test_a_crash_after_the_booking_but_before_the_turn_commits_books_once(
    store: CrmStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The booking commits, then the turn cannot (the process dies, the database goes away):
    the client retries the same message id, the flow runs again, and the customer still has
    one appointment and hears that it is booked."""
    await DemoSeeder(demo_settings("sqlite+aiosqlite://"), store).run(1)
    async with serving(store) as (_bot, client):
        await say(client, "crash-2", BOOK, message_id="c1")
        await say(client, "crash-2", '/choose_slot{"option": 1}', message_id="c2")
        asked = await say(client, "crash-2", "Robin Example", message_id="c3")
        assert "Shall I book" in asked[0]["text"], asked
        await say_and_crash(client, store, monkeypatch, "crash-2", "/affirm", message_id="c4")
        done = await say(client, "crash-2", "/affirm", message_id="c4")
        assert "is booked" in done[0]["text"], done
        customer = await store.customers.find_by_identity(Channel.REST, "crash-2")
        assert customer is not None
        assert len(await store.appointments.upcoming(customer.id)) == 1


async def test_a_crash_after_the_cancellation_but_before_the_turn_commits_says_cancelled(
    store: CrmStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancellation commits, the turn does not: the retry confirms it rather than saying
    the appointment can no longer be changed."""
    await DemoSeeder(demo_settings("sqlite+aiosqlite://"), store).run(1)
    signed = {"identity": {"user_id": "anna", "hash": sign("anna", SECRET)}}
    async with serving(store) as (_bot, client):
        asked = await say(client, "anna", "/cancel_appointment", message_id="x1", **signed)
        assert "Cancel your Dental cleaning" in asked[0]["text"], asked
        await say_and_crash(
            client, store, monkeypatch, "anna", "/affirm", message_id="x2", **signed
        )
        done = await say(client, "anna", "/affirm", message_id="x2", **signed)
        assert "is cancelled" in done[0]["text"], done
        anna = await store.customers.find_by_identity(Channel.WEB, "anna")
        assert anna is not None and await store.appointments.upcoming(anna.id) == []


async def test_a_crash_after_the_ticket_but_before_the_turn_commits_opens_one_ticket(
    store: CrmStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ticket is queued, then the turn cannot commit: the retry takes up that ticket
    instead of queueing the customer a second time."""
    async with serving(store) as (bot, client):
        await say_and_crash(
            client, store, monkeypatch, "crash-3", "/request_human", message_id="h1"
        )
        again = await say(client, "crash-3", "/request_human", message_id="h1")
        tickets = await bot.routing.store.tickets(conversation_id="rest:crash-3")
        assert len(tickets) == 1
        said = " ".join(reply["text"] for reply in again)
        assert f"request number is {tickets[0].id}." in said, again
        assert "number 1 in the queue" in said  # the failed turn's queue notice, kept


async def test_a_crash_after_the_message_reached_the_ticket_records_it_once(
    store: CrmStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In handoff the customer's message is added to the ticket, then the turn cannot commit:
    the retry does not show the agent the same message twice."""
    async with serving(store) as (bot, client):
        await say(client, "crash-4", "/request_human", message_id="m1")
        await say_and_crash(
            client, store, monkeypatch, "crash-4", "it still hurts", message_id="m2"
        )
        await say(client, "crash-4", "it still hurts", message_id="m2")
        await say(client, "crash-4", "it still hurts", message_id="m3")  # said again: kept
        (ticket,) = await bot.routing.store.tickets(conversation_id="rest:crash-4")
        events = await bot.routing.events(ticket.id)
        said = [e.data.get("message_id") for e in events if e.kind is EventKind.CUSTOMER_MESSAGE]
        assert said == ["m2", "m3"]  # not m2 twice


async def test_a_crash_after_the_question_was_logged_logs_it_once(
    store: CrmStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The advice question is logged, then the turn cannot commit: the retry finds the same
    entry, so the gaps report counts the question once and "Was this helpful?" points at it."""
    question = "is it normal for my gums to bleed when I floss?"
    async with serving(store) as (_bot, client):
        await say_and_crash(client, store, monkeypatch, "crash-5", question, message_id="q1")
        replies = await say(client, "crash-5", question, message_id="q1")
        await say(client, "crash-5", question, message_id="q2")  # asked again: logged again
    async with store.database.transaction() as session:
        ids = list(await session.scalars(select(KnowledgeQuestion.id).order_by("id")))
    assert len(ids) == 2, ids
    payloads = [button["payload"] for reply in replies for button in reply.get("buttons", [])]
    assert payloads == [
        f'/helpful{{"entry": {ids[0]}, "helpful": true}}',
        f'/helpful{{"entry": {ids[0]}, "helpful": false}}',
    ]
