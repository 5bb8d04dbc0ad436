"""The Telegram channel end to end: our webhook route, PTB, the dialogue, and a fake Bot API.

Updates are POSTed to our aiohttp route as Telegram would (with the secret header); PTB talks to
the local fake (tests/fakes/telegram_api.py) through base_url, which records what was sent.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr, ValidationError

from bot.app import push_channels
from bot.channels.host import ChannelHost
from bot.channels.telegram import TelegramChannel, TelegramSetupError, webhook_path
from bot.config import TelegramChannel as TelegramSettings
from bot.demo_seed import DemoSeeder
from bot.dialogue.messages import Button, Reply
from bot.dialogue_setup import Dialogue, load_knowledge, open_dialogue, templates_of
from crm_store.enums import Channel
from crm_store.segmentation import SegmentationPolicy
from crm_store.store import CrmStore
from routing.events import TicketStatus
from tests.conftest import FakeClock
from tests.dialogue_support import RuleInterpreter, demo_settings
from tests.fakes.telegram_api import (
    FakeBotApi,
    Sent,
    callback_update,
    contact_update,
    message_update,
    text_update,
)

TOKEN = "123456:TEST-token-that-must-never-be-logged"
SECRET = "webhook-secret_0123456789"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
PUBLIC_URL = "https://frontdesk.example"
USER = 4242
ANNA_PHONE = "+447700900001"
ids = itertools.count(1)


def telegram_settings(api: FakeBotApi, **changes: Any) -> TelegramSettings:
    values: dict[str, Any] = {
        "enabled": True,
        "mode": "webhook",
        "token": SecretStr(TOKEN),
        "webhook_secret": SecretStr(SECRET),
        "base_url": api.url,
        "per_chat_interval": 0.0,
        "global_rate": 1000.0,
        "max_retries": 2,
        "max_retry_wait": 5.0,
        "poll_timeout": 1,
    }
    return TelegramSettings(**{**values, **changes})


@dataclass
class Harness:
    client: TestClient
    api: FakeBotApi
    dialogue: Dialogue
    channel: TelegramChannel

    @property
    def store(self) -> CrmStore:
        return self.dialogue.store

    async def post(self, update: Any, *, secret: str | None = SECRET) -> tuple[int, Any]:
        headers = {} if secret is None else {HEADER: secret}
        path = webhook_path(SECRET)
        response = await self.client.post(path, json=update, headers=headers)
        body = await response.json()
        return response.status, body

    async def send(self, update: dict[str, Any]) -> list[Sent]:
        """Post one update (status 200 expected); the messages the bot sent because of it."""
        before = len(self.api.sent)
        status, body = await self.post(update)
        assert status == 200, body
        return self.api.sent[before:]

    async def say(self, text: str, user: int = USER) -> list[Sent]:
        return await self.send(text_update(next(ids), text, user_id=user))

    async def tap(self, payload: str, user: int = USER) -> list[Sent]:
        return await self.send(callback_update(next(ids), payload, user_id=user))


SETTINGS = demo_settings("sqlite+aiosqlite://")
KNOWLEDGE = load_knowledge(SETTINGS)


@asynccontextmanager
async def running(store: CrmStore, api: FakeBotApi, **changes: Any) -> AsyncIterator[Harness]:
    settings = SETTINGS
    channel = TelegramChannel(
        telegram_settings(api, **changes), public_url=PUBLIC_URL, templates=templates_of(settings)
    )
    async with open_dialogue(
        settings, RuleInterpreter(), store=store, clock=store.clock, knowledge=KNOWLEDGE
    ) as bot:
        host = ChannelHost(
            bot.engine.handle, bot.live.outbound, bot.store, bot.routing, store.clock
        )
        app = web.Application()
        app.add_routes(channel.routes())
        async with channel.running(host):
            client = TestClient(TestServer(app))
            await client.start_server()
            try:
                yield Harness(client, api, bot, channel)
            finally:
                await client.close()


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(TOKEN) as fake:
        yield fake


@pytest.fixture
async def sqlite_store(
    tmp_path: Path, policy: SegmentationPolicy, clock: FakeClock
) -> AsyncIterator[CrmStore]:
    """For the tests about the wire rather than the records: SQLite only."""
    async with CrmStore.open(
        f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}",
        policy,
        default_region="GB",
        default_timezone="Europe/London",
        clock=clock,
        migrate=True,
    ) as crm:
        yield crm


@pytest.fixture
async def tg(sqlite_store: CrmStore, api: FakeBotApi) -> AsyncIterator[Harness]:
    async with running(sqlite_store, api) as harness:
        yield harness


@pytest.fixture
async def tg_db(store: CrmStore, api: FakeBotApi) -> AsyncIterator[Harness]:
    """On SQLite and PostgreSQL: for the tests about what is recorded."""
    async with running(store, api) as harness:
        yield harness


def texts(messages: list[Sent]) -> str:
    return "\n".join(m.plain for m in messages)


# -- start-up, commands, text, buttons ----------------------------------------------------------


async def test_start_sets_the_webhook_and_start_greets_with_inline_buttons(tg_db: Harness) -> None:
    assert tg_db.api.webhook is not None
    assert tg_db.api.webhook["url"] == PUBLIC_URL + webhook_path(SECRET)
    assert tg_db.api.webhook["secret_token"] == SECRET
    assert tg_db.api.webhook["allowed_updates"] == ["message", "callback_query"]
    assert SECRET not in webhook_path(SECRET)
    assert {c["command"] for c in tg_db.api.commands} >= {"start", "book", "help"}

    (greeting,) = await tg_db.say("/start")

    assert greeting.chat_id == USER and "Lindenhof Clinic" in greeting.plain
    assert greeting.parse_mode == "HTML"
    assert "/book_appointment" in greeting.callback_data
    assert await tg_db.store.customers.find_by_identity(Channel.TELEGRAM, str(USER)) is not None


async def test_other_commands_and_plain_text_reach_the_dialogue(tg: Harness) -> None:
    (booking,) = await tg.say("/book@frontdesk_bot")
    assert "Which service" in booking.plain
    assert '/book_appointment{"service": "cleaning"}' in booking.callback_data
    (thanks,) = await tg.say("thanks a lot")
    assert thanks.plain == "You're welcome!"
    (unknown,) = await tg.say("/whatever")
    assert "not sure I understood" in unknown.plain


async def test_a_button_tap_is_answered_and_handled_as_the_customers_message(tg: Harness) -> None:
    (reply,) = await tg.tap("/help")

    assert "I can book" in reply.plain
    (answer,) = tg.api.calls_of("answerCallbackQuery")
    assert answer.params["callback_query_id"].startswith("cb")
    (cleared,) = tg.api.calls_of("editMessageReplyMarkup")
    assert cleared.params["message_id"] == 555 and cleared.params["chat_id"] == USER


async def test_an_expired_long_payload_key_is_refused_clearly(tg: Harness) -> None:
    assert await tg.tap("#" + "0" * 40) == []
    (answer,) = tg.api.calls_of("answerCallbackQuery")
    assert "expired" in answer.params["text"]


async def test_a_payload_over_64_bytes_travels_as_a_key_and_comes_back(tg: Harness) -> None:
    payload = '/help{"note": "' + "x" * 80 + '"}'
    await tg.dialogue.live.outbound.send(
        Channel.TELEGRAM, str(USER), [Reply("Pick one", buttons=(Button("Help", payload),))]
    )
    (offer,) = tg.api.sent_to(USER)
    (key,) = offer.callback_data
    assert len(key.encode()) <= 64 and key != payload

    (reply,) = await tg.tap(key)

    assert "I can book" in reply.plain


async def test_a_location_or_sticker_gets_a_text_only_note(tg: Harness) -> None:
    update = message_update(next(ids), user_id=USER, location={"latitude": 51.5, "longitude": 0.1})
    (note,) = await tg.send(update)
    assert "only read text" in note.plain


# -- verification by a shared contact -----------------------------------------------------------


async def test_an_own_contact_verifies_links_anna_and_a_booking_needs_no_questions(
    store: CrmStore, api: FakeBotApi
) -> None:
    await DemoSeeder(demo_settings("sqlite+aiosqlite://"), store).run(1)
    anna = await store.customers.find_by_identity(Channel.PHONE, ANNA_PHONE)
    assert anna is not None
    async with running(store, api) as tg:
        (ask,) = await tg.say("/appointments")
        assert "sharing your phone number" in ask.plain
        (row,) = ask.reply_markup["keyboard"]
        assert row[0]["request_contact"] is True and ask.reply_markup["one_time_keyboard"]

        shared = contact_update(next(ids), "447700900001", user_id=USER, contact_user_id=USER)
        replies = await tg.send(shared)

        assert "that's confirmed" in replies[0].plain
        assert replies[0].reply_markup == {"remove_keyboard": True}
        assert "Your upcoming appointments" in texts(replies)  # the asked-for intent resumed
        identity = await store.customers.identity(Channel.TELEGRAM, str(USER))
        assert identity is not None and identity.verified and identity.customer_id == anna.id

        assert "Which service" in texts(await tg.tap("/book_appointment"))
        offers = await tg.tap('/book_appointment{"service": "checkup"}')
        assert '/choose_slot{"option": 1}' in offers[-1].callback_data
        confirm = texts(await tg.tap('/choose_slot{"option": 1}'))
        assert "Shall I book a dental check-up" in confirm and "name" not in confirm
        assert "Done!" in texts(await tg.tap("/affirm"))
    upcoming = await store.appointments.upcoming(anna.id)
    assert sorted(a.service_name for a in upcoming) == ["Dental check-up", "Dental cleaning"]


@pytest.mark.parametrize(
    ("contact_user_id", "forwarded", "expected"),
    [
        (777, False, "isn't your own phone number"),
        (None, False, "isn't your own phone number"),
        (USER, True, "forwarded contact can't confirm"),
    ],
    ids=["someone-elses", "no-user-id", "forwarded"],
)
async def test_a_contact_that_is_not_the_senders_own_verifies_nothing(
    tg_db: Harness, contact_user_id: int | None, forwarded: bool, expected: str
) -> None:
    await tg_db.say("/appointments")
    update = contact_update(
        next(ids), ANNA_PHONE, user_id=USER, contact_user_id=contact_user_id, forwarded=forwarded
    )

    (reply,) = await tg_db.send(update)

    assert expected in reply.plain
    assert reply.reply_markup["keyboard"][0][0]["request_contact"] is True  # asked again
    identity = await tg_db.store.customers.identity(Channel.TELEGRAM, str(USER))
    assert identity is not None and not identity.verified
    assert await tg_db.store.customers.identity(Channel.PHONE, ANNA_PHONE) is None


async def test_a_contact_in_a_group_verifies_nothing_and_asks_for_a_private_chat(
    tg: Harness,
) -> None:
    group = -100200300
    update = contact_update(
        next(ids), ANNA_PHONE, user_id=USER, contact_user_id=USER, chat_id=group, chat_type="group"
    )

    (reply,) = await tg.send(update)

    assert reply.chat_id == group and "private chat" in reply.plain
    assert await tg.store.customers.identity(Channel.TELEGRAM, str(USER)) is None
    assert await tg.store.customers.identity(Channel.PHONE, ANNA_PHONE) is None


async def test_a_failing_turn_gets_a_polite_reply_and_no_trace(
    tg: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    bad_number = contact_update(next(ids), "12", user_id=USER, contact_user_id=USER)

    (reply,) = await tg.send(bad_number)

    assert "something went wrong on our side" in reply.plain
    assert f"telegram:{USER}" in caplog.text  # logged with the conversation id


# -- the webhook's guard and the dedupe ---------------------------------------------------------


@pytest.mark.parametrize(("secret", "status"), [(None, 401), ("wrong-secret", 403), ("", 403)])
async def test_a_missing_or_wrong_secret_is_refused_and_nothing_is_processed(
    tg: Harness, secret: str | None, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    code, body = await tg.post(text_update(next(ids), "hello", user_id=USER), secret=secret)

    assert code == status and "Traceback" not in str(body)
    assert tg.api.sent == []
    assert await tg.store.customers.find_by_identity(Channel.TELEGRAM, str(USER)) is None
    assert SECRET not in caplog.text


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"update_id": "7"}', b"{}"])
async def test_garbage_with_the_right_secret_is_a_400(tg: Harness, body: bytes) -> None:
    response = await tg.client.post(
        webhook_path(SECRET),
        data=body,
        headers={HEADER: SECRET, "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert tg.api.sent == []


async def test_a_redelivered_update_is_processed_once(tg_db: Harness) -> None:
    update = text_update(next(ids), "thanks", user_id=USER)
    first = await tg_db.send(update)
    again = await tg_db.send(update)
    together = await asyncio.gather(
        *(tg_db.post(text_update(9_000, "hello", user_id=USER)) for _ in range(3))
    )

    assert len(first) == 1 and again == []
    assert [status for status, _ in together] == [200, 200, 200]
    assert sum("Hello" in m.plain for m in tg_db.api.sent) == 1
    customer = await tg_db.store.customers.find_by_identity(Channel.TELEGRAM, str(USER))
    assert customer is not None
    view = await tg_db.store.views.view(customer.id)
    assert len(view.recent_interactions) == 4  # two turns, each one in and one out


async def test_a_redelivered_button_tap_is_processed_once(tg: Harness) -> None:
    tap = callback_update(next(ids), "/help", user_id=USER)
    assert len(await tg.send(tap)) == 1
    assert await tg.send(tap) == []
    assert len(tg.api.calls_of("answerCallbackQuery")) == 1


async def test_a_store_outage_answers_503_and_telegrams_redelivery_is_processed(
    sqlite_store: CrmStore, api: FakeBotApi, tmp_path: Path
) -> None:
    database, away = tmp_path / "crm.db", tmp_path / "away.db"
    async with running(sqlite_store, api) as tg:
        update = text_update(next(ids), "thanks", user_id=USER)
        await sqlite_store.database.close()
        database.rename(away)  # the next connection finds an empty file: no tables

        status, body = await tg.post(update)

        assert status == 503 and "redeliver" in body["error"] and api.sent == []
        await sqlite_store.database.close()
        away.replace(database)
        (reply,) = await tg.send(update)  # Telegram sends it again
        assert reply.plain == "You're welcome!"


# -- sending: 429, 403, pacing, splitting, escaping ---------------------------------------------


async def test_a_429_is_retried_after_retry_after(tg: Harness) -> None:
    tg.api.fail_next("sendMessage", chat_id=USER, retry_after=1)

    (reply,) = await tg.say("thanks")

    attempts = tg.api.calls_of("sendMessage")
    assert len(attempts) == 2 and reply.plain == "You're welcome!"
    assert attempts[1].at - attempts[0].at >= 0.95


async def test_a_429_longer_than_max_retry_wait_gives_up_without_breaking_the_turn(
    tg: Harness,
) -> None:
    tg.api.fail_next("sendMessage", chat_id=USER, retry_after=30)

    assert await tg.say("thanks") == []

    assert len(tg.api.calls_of("sendMessage")) == 1
    (reply,) = await tg.say("thanks again")
    assert reply.plain == "You're welcome!"


async def test_a_blocked_user_is_marked_unreachable_and_their_ticket_stays_open(
    tg_db: Harness,
) -> None:
    await tg_db.say("hello")
    customer = await tg_db.store.customers.find_by_identity(Channel.TELEGRAM, str(USER))
    assert customer is not None
    routing = tg_db.dialogue.routing
    ticket = await routing.open_ticket(
        customer_id=customer.id,
        queue="general",
        tier=customer.tier,
        channel=Channel.TELEGRAM,
        conversation_id=f"telegram:{USER}",
    )
    assert "number 1 in the queue" in tg_db.api.sent[-1].plain
    agent = await tg_db.store.agents.create(
        "maria", "a long enough password", display_name="Maria", skills=["reception"]
    )
    await routing.sign_in(agent.id)
    taken = await routing.next_ticket(agent.id) or (await routing.my_tickets(agent.id))[0]
    assert taken.id == ticket.id
    tg_db.api.block(USER)

    await routing.agent_message(ticket.id, agent.id, "Hello, Maria here.")

    refused = tg_db.api.calls_of("sendMessage")[-1]
    assert refused.params["chat_id"] == USER
    identity = await tg_db.store.customers.identity(Channel.TELEGRAM, str(USER))
    assert identity is not None and identity.unreachable
    assert (await routing.ticket(ticket.id)).status is TicketStatus.ASSIGNED

    tg_db.api.blocked.clear()  # they unblock the bot and write again
    await tg_db.say("are you there?")
    identity = await tg_db.store.customers.identity(Channel.TELEGRAM, str(USER))
    assert identity is not None and not identity.unreachable


async def test_messages_to_one_chat_are_paced_and_all_chats_share_a_global_rate(
    sqlite_store: CrmStore, api: FakeBotApi
) -> None:
    async with running(sqlite_store, api, per_chat_interval=0.2, global_rate=10.0) as tg:
        outbound = tg.dialogue.live.outbound
        await outbound.send(Channel.TELEGRAM, str(USER), [Reply(f"part {n}") for n in range(4)])
        in_chat = [m.at for m in api.sent_to(USER)]
        api.sent.clear()
        await asyncio.gather(
            *(outbound.send(Channel.TELEGRAM, str(chat), [Reply("hi")]) for chat in range(1, 7))
        )
        overall = sorted(m.at for m in api.sent)

    chat_gaps = [b - a for a, b in itertools.pairwise(in_chat)]
    assert len(chat_gaps) == 3 and min(chat_gaps) >= 0.2, chat_gaps  # at the fake's end
    assert len(overall) == 6 and overall[-1] - overall[0] >= 0.45, overall  # 10/s: 0.1 s apart


async def test_a_5000_character_reply_is_split_under_the_limit(tg: Harness) -> None:
    words = " ".join(f"word{n:04d}" for n in range(556))  # 5,003 characters
    done = Reply(words, buttons=(Button("Yes", "/affirm"),))

    await tg.dialogue.live.outbound.send(Channel.TELEGRAM, str(USER), [done])

    first, second = tg.api.sent_to(USER)
    assert len(words) > 5000
    assert all(len(m.plain) <= 4096 for m in (first, second))
    assert f"{first.plain} {second.plain}" == words
    assert first.reply_markup is None and second.callback_data == ["/affirm"]


async def test_html_special_characters_arrive_escaped(tg: Harness) -> None:
    text = '<b>Tom & Jerry</b> say 5 < 6 & "7 > 3"'

    await tg.dialogue.live.outbound.send(Channel.TELEGRAM, str(USER), [Reply(text)])

    (message,) = tg.api.sent_to(USER)
    assert message.parse_mode == "HTML"
    assert "&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;" in message.text
    assert message.plain == text


async def test_the_token_never_reaches_the_logs(
    sqlite_store: CrmStore, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(sqlite_store, api) as tg:
        await tg.say("hello")
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "aiohttp.access")
    assert "/bot<redacted>/sendMessage" in ours  # httpx logged the calls, without the token
    assert TOKEN not in ours and SECRET not in ours  # (the fake's own access log shows it)


# -- polling mode, and the app's switch -----------------------------------------------------------


async def test_polling_mode_deletes_the_webhook_and_answers_what_getupdates_delivers(
    sqlite_store: CrmStore, api: FakeBotApi
) -> None:
    api.webhook = {"url": "https://old.example/hook"}  # getUpdates answers 409 until deleted
    async with running(sqlite_store, api, mode="polling", webhook_secret=None) as tg:
        assert tg.channel.routes() == []
        assert api.webhook is None and api.calls_of("deleteWebhook")
        api.push_update(text_update(next(ids), "/start", user_id=USER))
        for _ in range(100):
            if api.sent:
                break
            await asyncio.sleep(0.05)
    (greeting,) = api.sent
    assert "Lindenhof Clinic" in greeting.plain


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"token": SecretStr("999:refused-token")}, "refused the bot token"),
        ({"base_url": "http://127.0.0.1:9"}, "cannot be reached"),
    ],
    ids=["wrong-token", "no-bot-api"],
)
async def test_a_refused_token_or_an_unreachable_bot_api_stops_start_up_clearly(
    sqlite_store: CrmStore, api: FakeBotApi, changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(TelegramSetupError, match=reason) as caught:
        async with running(sqlite_store, api, **changes):
            pass
    assert "refused-token" not in str(caught.value) and TOKEN not in str(caught.value)


def test_the_app_switches_the_channel_on_and_webhook_mode_needs_a_secret() -> None:
    settings = demo_settings("sqlite+aiosqlite://")
    off = push_channels(settings, lambda: None)  # type: ignore[arg-type,return-value]
    assert not any(isinstance(channel, TelegramChannel) for channel in off)
    telegram = {"enabled": True, "mode": "webhook", "token": TOKEN, "webhook_secret": SECRET}
    channels = settings.channels.model_copy(update={"telegram": TelegramSettings(**telegram)})
    on = settings.model_copy(update={"channels": channels})

    (channel,) = [
        c
        for c in push_channels(on, lambda: None)  # type: ignore[arg-type,return-value]
        if isinstance(c, TelegramChannel)
    ]

    assert isinstance(channel, TelegramChannel)
    assert channel.webhook_url == "http://localhost:8080" + webhook_path(SECRET)
    (route,) = channel.routes()
    assert route.path == webhook_path(SECRET)  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="webhook_secret"):  # config check refuses it
        TelegramSettings(**{**telegram, "webhook_secret": None})
    # and the channel itself, should settings ever reach it unchecked
    no_secret = TelegramSettings(**telegram).model_copy(update={"webhook_secret": None})
    with pytest.raises(TelegramSetupError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramChannel(no_secret, public_url=PUBLIC_URL, templates=templates_of(settings))
