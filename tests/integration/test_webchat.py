"""The web chat's WebSocket protocol end to end with aiohttp's client: the real dialogue engine,
a real store, routing for agent messages; no browser.

The wire protocol does not depend on the database, so these run on SQLite (a migrated file copied
per test); the transcript's contract, concurrent writers included, runs on both backends in
tests/contract/test_webchat_transcript.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.channels.host import ChannelHost
from bot.channels.identity import sign
from bot.channels.webchat import WebchatChannel
from bot.config import Settings
from bot.config import WebchatChannel as WebchatSettings
from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue.messages import Button, InboundMessage, Link, Reply
from bot.dialogue_setup import Dialogue, load_knowledge, open_dialogue, templates_of
from crm_store.database import Database, create_engine
from crm_store.enums import Channel
from crm_store.migrate import upgrade
from crm_store.store import CrmStore
from crm_store.webchat import Author
from tests.dialogue_support import RuleInterpreter, demo_settings

SECRET = "webchat-test-secret-32-bytes-or-more"
ORIGIN = "https://www.lindenhof.example"
Frame = dict[str, Any]


def chat_settings(**overrides: Any) -> WebchatSettings:
    defaults: dict[str, Any] = {
        "identity_secret": SecretStr(SECRET),
        "allowed_origins": (ORIGIN,),
        "max_message_chars": 60,
        "rate_limit_messages": 20,
        "rate_limit_period": timedelta(minutes=1),
        "history_messages": 50,
    }
    return WebchatSettings().model_copy(update={**defaults, **overrides})


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("webchat") / "migrated.db"

    async def migrate() -> None:
        database = Database(create_engine(f"sqlite+aiosqlite:///{path}"))
        try:
            await upgrade(database)
        finally:
            await database.close()

    asyncio.run(migrate())
    return path


@pytest.fixture
def database_url(migrated: Path, tmp_path: Path) -> str:
    """SQLite only here (see the module's docstring): the `store` fixture opens this copy."""
    shutil.copy(migrated, tmp_path / "crm.db")
    return f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"


@pytest.fixture(scope="module")
def demo() -> tuple[Settings, KnowledgeBase]:
    settings = demo_settings("sqlite+aiosqlite://")
    return settings, load_knowledge(settings)


class GatedInterpreter(RuleInterpreter):
    """Holds a text starting with "slow" until `gate` is set: a turn caught in flight."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()

    async def parse(self, text: str, reference_time: Any = None, timezone: Any = None) -> Any:
        if text.startswith("slow"):
            await self.gate.wait()
        return await super().parse(text, reference_time, timezone)


@pytest.fixture
def interpreter() -> GatedInterpreter:
    return GatedInterpreter()


@pytest.fixture
async def bot(
    store: CrmStore, demo: tuple[Settings, KnowledgeBase], interpreter: GatedInterpreter
) -> AsyncIterator[Dialogue]:
    settings, knowledge = demo
    async with open_dialogue(
        settings, interpreter, store=store, clock=store.clock, knowledge=knowledge
    ) as bot:
        yield bot


@pytest.fixture
async def serve(
    bot: Dialogue, demo: tuple[Settings, KnowledgeBase]
) -> AsyncIterator[Callable[..., Any]]:
    """Start the channel (with settings overrides) on a test server; closed after the test."""
    clients: list[TestClient] = []

    async def start(**overrides: Any) -> TestClient:
        channel = WebchatChannel(
            chat_settings(**overrides),
            business="Lindenhof Clinic",
            templates=templates_of(demo[0]),
        )
        host = ChannelHost(
            bot.engine.handle, bot.live.outbound, bot.store, bot.routing, bot.store.clock
        )

        async def running(app: web.Application) -> AsyncIterator[None]:
            async with channel.running(host):
                yield

        app = web.Application()
        app.add_routes(channel.routes())
        app.cleanup_ctx.append(running)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def client(serve: Callable[..., Any]) -> TestClient:
    started: TestClient = await serve()
    return started


class Socket:
    """A widget's side of the WebSocket, reading frames with a timeout."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, **frame: Any) -> None:
        await self.ws.send_json(frame)

    async def frame(self) -> Frame:
        msg = await self.ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        data: Frame = json.loads(msg.data)
        return data

    async def until(self, done: Callable[[Frame], bool]) -> list[Frame]:
        frames = [await self.frame()]
        while not done(frames[-1]):
            frames.append(await self.frame())
        return frames

    async def hello(self, **fields: Any) -> Frame:
        await self.send(type="hello", **fields)
        return await self.frame()

    async def say(self, key: str, text: str, **extra: Any) -> list[Frame]:
        """Send a message; every frame up to its ack (or an error about it)."""
        await self.send(type="message", key=key, text=text, **extra)
        return await self.until(lambda f: f.get("key") == key and f["type"] in ("ack", "error"))


async def connect(client: TestClient, origin: str | None = ORIGIN) -> Socket:
    headers = {"Origin": origin} if origin else {}
    return Socket(await client.ws_connect("/webchat/ws", headers=headers))


def messages(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f["type"] == "message"]


# -- hello, answers, history ----------------------------------------------------------------------


async def test_hello_then_a_message_is_stored_answered_and_acknowledged(
    client: TestClient, store: CrmStore
) -> None:
    sock = await connect(client)
    welcome = await sock.hello()
    assert welcome["type"] == "welcome" and welcome["verified"] is False
    assert welcome["reset"] is True and welcome["messages"] == []
    session = welcome["session"]
    assert len(session) >= 16

    frames = await sock.say("key-00000001", "hello")
    kinds = [f["type"] for f in frames]
    assert kinds[:3] == ["message", "typing", "typing"] and kinds[-1] == "ack"
    assert [f["on"] for f in frames if f["type"] == "typing"] == [True, False]
    mine, *answers = messages(frames)
    assert (mine["seq"], mine["author"], mine["key"], mine["text"]) == (
        1,
        "customer",
        "key-00000001",
        "hello",
    )
    assert answers and answers[0]["author"] == "bot" and "Lindenhof Clinic" in answers[0]["text"]
    assert answers[0]["buttons"][0]["payload"] == "/book_appointment"
    assert frames[-1] == {"type": "ack", "key": "key-00000001", "seq": 1}

    stored = await store.webchat.latest(f"web:anon-{session}", 10)
    assert [e.seq for e in stored] == [1, *(a["seq"] for a in answers)]
    assert stored[1].client_key == "key-00000001/1"
    customer = await store.customers.find_by_identity(Channel.WEB, f"anon-{session}")
    assert customer is not None and customer.tier.value == "lead"


async def test_a_button_tap_sends_the_payload_and_shows_the_title(
    client: TestClient, store: CrmStore
) -> None:
    sock = await connect(client)
    session = (await sock.hello())["session"]
    frames = await sock.say("tap-00000001", "/help", title="What can you do?")
    mine = messages(frames)[0]
    assert (mine["text"], mine["title"]) == ("/help", "What can you do?")
    (entry,) = await store.webchat.after(f"web:anon-{session}", 0, 1)
    assert entry.body == {"text": "/help", "title": "What can you do?"}


async def test_reconnecting_backfills_what_came_after_last_seq(client: TestClient) -> None:
    sock = await connect(client)
    session = (await sock.hello())["session"]
    first = messages(await sock.say("msg-00000001", "hello"))
    second = messages(await sock.say("msg-00000002", "thanks"))
    await sock.ws.close()
    seen = first[-1]["seq"]

    again = await connect(client)
    welcome = await again.hello(session=session, last_seq=seen)
    assert welcome["session"] == session and welcome["reset"] is False
    assert welcome["messages"] == second

    reload = await connect(client)
    everything = await reload.hello(session=session)
    assert everything["reset"] is True and everything["messages"] == first + second

    stranger = await connect(client)
    other = await stranger.hello(session=session, last_seq=999)  # not this conversation's
    assert other["reset"] is True and [m["seq"] for m in other["messages"]] == [
        m["seq"] for m in first + second
    ]


async def test_a_long_gap_restores_only_the_latest_history(serve: Callable[..., Any]) -> None:
    client = await serve(history_messages=3)
    sock = await connect(client)
    session = (await sock.hello())["session"]
    for i in range(3):
        await sock.say(f"gap-0000000{i}", "thanks")
    welcome = await (await connect(client)).hello(session=session, last_seq=1)
    assert welcome["reset"] is True
    assert [m["seq"] for m in welcome["messages"]] == [4, 5, 6]


async def test_a_resent_message_is_stored_and_handled_once(
    client: TestClient, store: CrmStore
) -> None:
    sock = await connect(client)
    session = (await sock.hello())["session"]
    cid = f"web:anon-{session}"
    first = await sock.say("same-0000001", "hello")
    await sock.ws.close()
    customer = await store.customers.find_by_identity(Channel.WEB, f"anon-{session}")
    assert customer is not None
    history = len((await store.views.view(customer.id)).recent_interactions)

    again = await connect(client)
    await again.hello(session=session, last_seq=messages(first)[-1]["seq"])
    repeat = await again.say("same-0000001", "hello")
    assert [f["type"] for f in repeat] == ["message", "ack"]  # no typing: not handled again
    assert repeat[0] == messages(first)[0]
    assert await store.webchat.last_seq(cid) == messages(first)[-1]["seq"]
    assert len((await store.views.view(customer.id)).recent_interactions) == history


async def test_a_message_stored_but_unanswered_before_a_crash_is_answered_on_resend(
    client: TestClient, store: CrmStore
) -> None:
    sock = await connect(client)
    session = (await sock.hello())["session"]
    cid = f"web:anon-{session}"
    await store.webchat.append_customer(cid, "crash-000001", {"text": "hello"})  # then it died
    frames = await sock.say("crash-000001", "hello")
    assert [m["author"] for m in messages(frames)][:2] == ["customer", "bot"]
    assert frames[-1] == {"type": "ack", "key": "crash-000001", "seq": 1}
    assert [e.author for e in await store.webchat.after(cid, 0, 10)][:2] == [
        Author.CUSTOMER,
        Author.BOT,
    ]


async def test_a_turn_in_flight_when_the_socket_closes_is_finished_not_repeated(
    client: TestClient, store: CrmStore, interpreter: GatedInterpreter
) -> None:
    interpreter.gate.clear()
    sock = await connect(client)
    session = (await sock.hello())["session"]
    cid = f"web:anon-{session}"
    await sock.send(type="message", key="slow-0000001", text="slow hello")
    await sock.until(lambda f: f["type"] == "typing" and f["on"])
    await sock.ws.close()  # the tab closes (or the network drops) mid-turn
    again = await connect(client)  # the widget comes back ...
    await again.hello(session=session)
    interpreter.gate.set()
    finished = await again.until(lambda f: f.get("author") == "bot")  # the turn went on
    assert "Lindenhof Clinic" in finished[-1]["text"]
    assert await store.webchat.by_key(cid, "slow-0000001/1") is not None

    frames = await again.say("slow-0000001", "slow hello")  # ... and re-sends the unacked key
    assert [f["type"] for f in frames] == ["message", "ack"]
    assert frames[-1] == {"type": "ack", "key": "slow-0000001", "seq": 1}
    stored = await store.webchat.after(cid, 0, 50)
    assert [e.client_key for e in stored].count("slow-0000001") == 1
    answers = [e.client_key for e in stored if e.author is Author.BOT]
    assert answers and answers == [f"slow-0000001/{n}" for n in range(1, len(answers) + 1)]
    customer = await store.customers.find_by_identity(Channel.WEB, f"anon-{session}")
    assert customer is not None
    view = await store.views.view(customer.id)
    assert [i.text for i in view.recent_interactions].count("slow hello") == 1


async def test_a_message_stored_by_another_process_arrives_with_the_next_pong(
    client: TestClient, store: CrmStore
) -> None:
    sock = await connect(client)
    session = (await sock.hello())["session"]
    await store.webchat.append_customer(f"web:anon-{session}", "other-000001", {"text": "hi"})
    await sock.send(type="ping", last_seq=0)
    frames = await sock.until(lambda f: f["type"] == "pong")
    assert [(f["type"], f.get("seq")) for f in frames] == [("message", 1), ("pong", None)]


# -- who may connect, and limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://www.lindenhof.example.evil", None]
)
async def test_a_foreign_origin_is_refused_before_the_upgrade(
    client: TestClient, origin: str | None
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(client, origin)
    assert refused.value.status == 403
    config = await client.get("/webchat/config", headers={"Origin": origin or ""})
    assert (await config.json())["origin_allowed"] is False
    allowed = await client.get("/webchat/config", headers={"Origin": ORIGIN})
    assert (await allowed.json())["origin_allowed"] is True


async def test_the_rate_limit_refuses_with_a_reason(
    serve: Callable[..., Any], store: CrmStore
) -> None:
    client = await serve(rate_limit_messages=3)
    sock = await connect(client)
    session = (await sock.hello())["session"]
    for i in range(3):
        assert (await sock.say(f"rate-000000{i}", "thanks"))[-1]["type"] == "ack"
    refused = await sock.say("rate-0000009", "thanks")
    assert refused == [
        {
            "type": "error",
            "code": "rate_limited",
            "message": refused[0]["message"],
            "key": "rate-0000009",
            "retry": False,
        }
    ]
    assert "too quickly" in refused[0]["message"]
    assert await store.webchat.by_key(f"web:anon-{session}", "rate-0000009") is None


async def test_an_over_long_message_is_refused(client: TestClient, store: CrmStore) -> None:
    sock = await connect(client)
    session = (await sock.hello())["session"]
    (refused,) = await sock.say("long-0000001", "x" * 61)
    assert (refused["code"], refused["retry"]) == ("too_long", False)
    assert "60 characters" in refused["message"]
    assert (await sock.say("long-0000002", "y" * 60))[-1]["type"] == "ack"
    assert await store.webchat.by_key(f"web:anon-{session}", "long-0000001") is None


async def test_bad_frames_get_clear_errors_and_the_socket_stays_open(client: TestClient) -> None:
    sock = await connect(client)
    await sock.send(type="message", key="early-000001", text="hi")
    assert (await sock.frame())["code"] == "hello_first"
    await sock.hello()
    bad: list[tuple[Any, str]] = [
        ("not json", "JSON"),
        ([1, 2], "type"),
        ({"type": "shout"}, "type"),
        ({"type": "message", "key": "k", "text": "hi"}, "message.key"),
        ({"type": "message", "key": "good-0000001"}, "message.text"),
        ({"type": "message", "key": "good-0000001", "text": "   "}, "empty"),
        ({"type": "ping", "last_seq": -1}, "ping.last_seq"),
        ({"type": "hello"}, "already"),
    ]
    for frame, reason in bad:
        await sock.ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
        error = await sock.frame()
        assert error["type"] == "error" and error["code"] == "bad_frame", error
        assert reason in error["message"], error
        assert "Traceback" not in error["message"]
    await sock.ws.send_bytes(b"\x00\x01")
    assert (await sock.frame())["code"] == "bad_frame"
    await sock.send(type="ping")
    assert await sock.frame() == {"type": "pong"}


# -- signed-in visitors ---------------------------------------------------------------------------


def token(store: CrmStore, *, sub: str = "anna", ahead: timedelta = timedelta(minutes=10),
          secret: str = SECRET, **claims: Any) -> str:  # fmt: skip
    exp = int((store.clock() + ahead).timestamp())
    return jwt.encode({"sub": sub, "exp": exp, **claims}, secret, algorithm="HS256")


async def test_a_signed_identity_verifies_and_joins_the_users_conversation(
    client: TestClient, store: CrmStore
) -> None:
    sock = await connect(client)
    welcome = await sock.hello(identity={"user_id": "anna", "hash": sign("anna", SECRET)})
    assert welcome["verified"] is True
    await sock.say("anna-0000001", "hello")
    assert await store.webchat.last_seq("web:anna") >= 2
    identity = await store.customers.identity(Channel.WEB, "anna")
    assert identity is not None and identity.verified


async def test_a_wrong_hash_stays_anonymous_and_says_so(
    client: TestClient, store: CrmStore
) -> None:
    sock = await connect(client)
    welcome = await sock.hello(identity={"user_id": "anna", "hash": sign("anna", "not-the-secret")})
    assert welcome["verified"] is False
    rejected = await sock.frame()
    assert rejected["code"] == "identity_rejected" and "anonymous" in rejected["message"]
    await sock.say("anon-0000001", "hello")
    assert await store.webchat.last_seq("web:anna") == 0
    assert await store.customers.identity(Channel.WEB, "anna") is None


@pytest.mark.parametrize(
    ("claims", "verified"),
    [
        ({}, True),
        ({"ahead": timedelta(minutes=-5)}, False),  # expired
        ({"secret": "someone-elses-secret-also-32-bytes-long"}, False),
        ({"ahead": timedelta(hours=3)}, False),  # not short-lived
        ({"sub": "<script>"}, False),
    ],
    ids=["valid", "expired", "wrong-secret", "too-long-lived", "bad-sub"],
)
async def test_a_jwt_verifies_only_when_valid_and_short_lived(
    client: TestClient, store: CrmStore, claims: dict[str, Any], verified: bool
) -> None:
    sock = await connect(client)
    welcome = await sock.hello(token=token(store, **claims))
    assert welcome["verified"] is verified
    if not verified:
        assert (await sock.frame())["code"] == "identity_rejected"


async def test_a_jwt_without_exp_is_refused(client: TestClient, store: CrmStore) -> None:
    sock = await connect(client)
    unbounded = jwt.encode({"sub": "anna"}, SECRET, algorithm="HS256")
    assert (await sock.hello(token=unbounded))["verified"] is False


# -- agents, rating, several tabs -----------------------------------------------------------------


async def test_agent_messages_and_the_rating_reach_every_open_socket(
    client: TestClient, store: CrmStore, bot: Dialogue
) -> None:
    proof = {"user_id": "anna", "hash": sign("anna", SECRET)}
    tab1, tab2 = await connect(client), await connect(client)
    await tab1.hello(identity=proof)
    await tab2.hello(identity=proof)
    asked = await tab1.say("human-000001", "/request_human")
    assert any("request number" in m["text"] for m in messages(asked))
    shown = await tab2.until(lambda f: f["type"] == "typing" and f["on"] is False)
    assert messages(shown)[0]["key"] == "human-000001"  # the other tab sees the message too

    agent = await store.agents.create(
        "maria", "a long enough password", display_name="Maria", skills=["reception", "booking"]
    )
    await bot.routing.sign_in(agent.id)
    ticket = await bot.routing.next_ticket(agent.id) or (await bot.routing.my_tickets(agent.id))[0]
    await bot.routing.agent_message(ticket.id, agent.id, "Hello Anna, <b>Maria</b> here.")
    for tab in (tab1, tab2):
        said = await tab.until(lambda f: f.get("author") == "agent")
        assert said[-1]["agent"] == "Maria"
        assert said[-1]["text"] == "Maria: Hello Anna, <b>Maria</b> here."
    await bot.routing.resolve(ticket.id, agent.id)
    resolved = await tab1.until(lambda f: bool(f.get("buttons")))
    assert "How did we do?" in resolved[-1]["text"]
    assert [b["title"] for b in resolved[-1]["buttons"]][-1] == "★★★★★"
    rated = await tab1.say("rate-0000005", '/rate{"score": 5}', title="★★★★★")
    assert any("Thank you for your feedback" in m["text"] for m in messages(rated))
    authors = [e.author for e in await store.webchat.latest("web:anna", 50)]
    assert Author.AGENT in authors


async def test_the_outbound_port_stores_and_pushes_quick_replies_and_safe_links(
    client: TestClient, store: CrmStore, bot: Dialogue
) -> None:
    sock = await connect(client)
    session = (await sock.hello())["session"]
    reminder = Reply(
        "A reminder: your cleaning is tomorrow at 10:00.",
        quick_replies=(Button("Move it", "/reschedule_appointment"),),
        links=(
            Link("Bad", "javascript:alert(1)"),
            Link("How to find us", "https://maps.example/l"),
        ),
    )
    await bot.live.outbound.send(Channel.WEB, f"anon-{session}", [reminder])
    pushed = await sock.frame()
    assert pushed["author"] == "bot" and pushed["seq"] == 1
    assert pushed["quick_replies"] == [{"title": "Move it", "payload": "/reschedule_appointment"}]
    assert pushed["links"] == [{"title": "How to find us", "url": "https://maps.example/l"}]
    assert "buttons" not in pushed
    assert await store.webchat.last_seq(f"web:anon-{session}") == 1


async def test_the_socket_answers_503_until_the_channel_runs(
    demo: tuple[Settings, KnowledgeBase],
) -> None:
    channel = WebchatChannel(
        chat_settings(), business="Lindenhof Clinic", templates=templates_of(demo[0])
    )
    app = web.Application()
    app.add_routes(channel.routes())
    async with TestClient(TestServer(app)) as idle:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await connect(idle)
        assert refused.value.status == 503


async def test_the_widget_files_and_the_demo_page(client: TestClient) -> None:
    js = await client.get("/webchat/widget.js")
    assert js.status == 200 and js.content_type == "application/javascript"
    source = await js.text()
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source
    assert "textContent" in source
    css = await client.get("/webchat/widget.css")
    assert css.content_type == "text/css"
    demo = await client.get("/demo")
    page = await demo.text()
    assert '<script src="/webchat/widget.js" async></script>' in page
    assert "<title>Lindenhof Clinic" in page
    config = await (await client.get("/webchat/config", headers={"Origin": ORIGIN})).json()
    assert config["title"] == "Lindenhof Clinic" and config["max_message_chars"] == 60
    assert config["texts"]["send"] == "Send"


async def test_a_rest_user_who_never_opened_the_widget_still_gets_agent_messages(
    client: TestClient, store: CrmStore, bot: Dialogue
) -> None:
    """Signed-in REST users share the web identity; the widget would never show them the
    agent's words, so they wait in the outbox for the conversation's next turn."""
    message = InboundMessage(
        channel=Channel.WEB,
        sender_id="rest-user",
        text="/request_human",
        received_at=store.clock(),
        verified=True,
    )
    await bot.engine.handle(message)
    agent = await store.agents.create(
        "maria", "a long enough password", display_name="Maria", skills=["reception", "booking"]
    )
    await bot.routing.sign_in(agent.id)
    ticket = await bot.routing.next_ticket(agent.id) or (await bot.routing.my_tickets(agent.id))[0]
    await bot.routing.agent_message(ticket.id, agent.id, "Hello from the desk")
    assert await store.webchat.last_seq("web:rest-user") == 0
    replies = await bot.engine.handle(replace(message, text="thanks"))
    assert any("Hello from the desk" in r.text for r in replies)
