"""The phone line end to end: a fake Twilio places calls, signs every webhook, walks the TwiML.

The server sits "behind a proxy": the public URL the fake signs (PUBLIC) is not the test
server's own address. The dialogue runs on the trained NLU model, a real store and routing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.channels.host import ChannelHost, Handle
from bot.channels.voice import VoiceChannel
from bot.config import Settings
from bot.config import VoiceChannel as VoiceSettings
from bot.dialogue.admission import Overloaded
from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue.messages import InboundMessage, Reply
from bot.dialogue_setup import Dialogue, load_knowledge, open_dialogue, templates_of
from bot.nlu_backend import runtime_config, trained_model_path
from crm_store import models as m
from crm_store.customers import NewCustomer
from crm_store.enums import Channel, Direction
from crm_store.errors import StoreUnavailable
from crm_store.records import CustomerRecord
from crm_store.store import CrmStore
from nlu.engine import LocalInterpreter
from tests.conftest import FakeClock
from tests.dialogue_support import demo_settings
from tests.fakes.twilio_peer import TwilioPeer

TOKEN = "test-twilio-auth-token"
PUBLIC = "https://frontdesk.example.test"  # what Twilio calls; the test server is elsewhere
ANNA = "+447700900001"
Brains = tuple[LocalInterpreter, KnowledgeBase]


@dataclass
class Line:
    client: TestClient
    peer: TwilioPeer
    bot: Dialogue
    store: CrmStore
    clock: FakeClock
    settings: Settings

    async def inbound_count(self) -> int:
        async with self.store.database.transaction() as session:
            count = await session.scalar(
                select(func.count(m.Interaction.id)).where(
                    m.Interaction.direction == Direction.INBOUND
                )
            )
        return int(count or 0)


def with_voice(settings: Settings, **voice: object) -> Settings:
    values: dict[str, object] = {
        "enabled": True,
        "auth_token": SecretStr(TOKEN),
        "hold_pause": "1s",
        **voice,
    }
    channels = settings.channels.model_copy(update={"voice": VoiceSettings(**values)})
    return settings.model_copy(update={"channels": channels})


@asynccontextmanager
async def open_line(
    store: CrmStore,
    clock: FakeClock,
    brains: Brains,
    *,
    push: bool = False,
    handle: Handle | None = None,
    **voice: object,
) -> AsyncIterator[Line]:
    settings = with_voice(demo_settings("sqlite+aiosqlite://"), **voice)
    routing = settings.routing.model_copy(update={"push_offers": push})
    settings = settings.model_copy(update={"routing": routing})
    await store.catalog.sync(settings.services, settings.resources, settings.business.timezone)
    interpreter, knowledge = brains
    async with (
        interpreter,
        open_dialogue(settings, interpreter, store=store, clock=clock, knowledge=knowledge) as bot,
    ):
        channel = VoiceChannel(
            settings.channels.voice,
            public_url=PUBLIC,
            business=settings.business.name,
            region=settings.business.default_region,
            templates=templates_of(settings),
        )
        app = web.Application()
        app.add_routes(channel.routes())
        turn = handle or bot.engine.handle
        host = ChannelHost(turn, bot.live.outbound, bot.store, bot.routing, clock)
        async with channel.running(host):
            client = TestClient(TestServer(app))
            await client.start_server()
            try:
                peer = TwilioPeer(client, public_url=PUBLIC, auth_token=TOKEN)
                yield Line(client, peer, bot, store, clock, settings)
            finally:
                await client.close()


def load_brains(nlu_model: str) -> Brains:
    """The trained NLU model and the knowledge base (loaded once per module: they only read)."""
    settings = demo_settings("sqlite+aiosqlite://", nlu_model)
    interpreter = LocalInterpreter.load(trained_model_path(settings), runtime_config(settings))
    return interpreter, load_knowledge(settings)


@pytest.fixture(scope="module")
def brains(nlu_model: str) -> Brains:
    return load_brains(nlu_model)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only here: the channel is what these tests vary (test_voice_hold.py and the
    phone-address contract run on PostgreSQL too)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'voice.db'}"


@pytest.fixture
async def line(store: CrmStore, clock: FakeClock, brains: Brains) -> AsyncIterator[Line]:
    async with open_line(store, clock, brains) as opened:
        yield opened


async def add_anna(store: CrmStore) -> CustomerRecord:
    """Anna as in the demo seed, her number on file but never proven on a call."""
    return await store.customers.create(
        NewCustomer(full_name="Anna Weber", birth_date=date(1985, 3, 12)), [(Channel.PHONE, ANNA)]
    )


# -- recognition and verification ------------------------------------------------------------------


async def test_anna_is_recognised_by_her_number_and_verified_by_her_spoken_birth_date(
    line: Line,
) -> None:
    anna = await add_anna(line.store)
    start = line.clock.now + timedelta(days=2)
    await line.store.appointments.book(anna.id, "cleaning", "priya-nair", start.replace(hour=9))
    call = line.peer.call(ANNA)
    heard = await call.start()
    assert "Hello Anna, welcome back to Lindenhof Clinic" in heard.text
    assert "cleaning" not in heard.text.lower()  # nothing private before she is verified
    assert heard.gather is not None and heard.gather.attrs["input"] == "speech dtmf"
    heard = await call.say("What appointments do I have?")
    assert "date of birth" in heard.text and "eight digits" in heard.text
    assert "cleaning" not in heard.text.lower()
    heard = await call.say("The 12th of March 1985.")
    assert "that's confirmed" in heard.text
    assert "Dental cleaning" in heard.text
    identity = await line.store.customers.identity(Channel.PHONE, ANNA)
    assert identity is not None and identity.verified


async def test_a_birth_date_proves_who_is_calling_for_that_call_only(line: Line) -> None:
    """Caller ids can be forged: the next call from Anna's number must prove it again."""
    anna = await add_anna(line.store)
    start = line.clock.now + timedelta(days=2)
    await line.store.appointments.book(anna.id, "cleaning", "priya-nair", start.replace(hour=9))
    first = line.peer.call(ANNA)
    await first.start()
    await first.say("What appointments do I have?")
    assert "Dental cleaning" in (await first.say("The 12th of March 1985.")).text
    await first.status("completed", sequence=3, duration=40)
    second = line.peer.call(ANNA)
    await second.start()
    heard = await second.say("What appointments do I have?")
    assert "date of birth" in heard.text
    assert "cleaning" not in heard.text.lower()


async def test_a_birth_date_keyed_in_verifies_and_a_wrong_one_does_not(line: Line) -> None:
    await add_anna(line.store)
    call = line.peer.call(ANNA)
    await call.start()
    heard = await call.say("Can you list my appointments?")
    assert "date of birth" in heard.text
    heard = await call.press("01011990#")
    assert "doesn't match our records" in heard.text
    identity = await line.store.customers.identity(Channel.PHONE, ANNA)
    assert identity is not None and not identity.verified
    heard = await call.press("12031985")
    assert "that's confirmed" in heard.text
    assert "no upcoming appointments" in heard.text
    identity = await line.store.customers.identity(Channel.PHONE, ANNA)
    assert identity is not None and identity.verified


# -- a booking by voice ----------------------------------------------------------------------------


async def test_a_whole_booking_by_voice_speech_and_keys(line: Line) -> None:
    anna = await add_anna(line.store)
    call = line.peer.call(ANNA)
    await call.start()
    heard = await call.say("I'd like to book a cleaning, please.")
    assert "These times are free for a Dental cleaning" in heard.text
    assert "Say or press 1 for Monday 23 November at" in heard.text
    assert ", 2 for " in heard.text and ", 3 for " in heard.text
    assert heard.gather is not None and heard.gather.attrs["numDigits"] == "1"
    first = (
        heard.said[-1].split("1 for ", 1)[1].split(", 2 for")[0]
    )  # "Monday ... at 11:00, Priya Nair"
    heard = await call.press("1")
    assert "Shall I book a dental cleaning with Priya Nair" in heard.text
    assert "Say or press 1 for Yes, 2 for No." in heard.text
    heard = await call.say("Yes.")
    assert "is booked for" in heard.text
    heard = await call.say("Goodbye.")
    assert "Thank you for contacting Lindenhof Clinic" in heard.text and heard.hung_up
    (booked,) = await line.store.appointments.upcoming(anna.id, limit=5)
    assert booked.resource_name == "Priya Nair" and booked.service_name == "Dental cleaning"
    local = booked.start_at.astimezone(line.clock.now.tzinfo)
    assert f"{local:%H:%M}" in first


async def test_a_choice_can_be_named_or_numbered_in_words(line: Line) -> None:
    await add_anna(line.store)
    call = line.peer.call(ANNA)
    await call.start()
    heard = await call.say("Book an appointment.")
    assert "Which service" in heard.text and "2 for Dental check-up" in heard.text
    heard = await call.say("Number two.")
    assert "These times are free for a Dental check-up" in heard.text
    heard = await call.say("Three.")
    assert "Shall I book a dental check-up" in heard.text
    heard = await call.say("No.")
    assert "Which day or time would suit you better" in heard.text


# -- who may call, and what they may send -------------------------------------------------------


async def test_a_withheld_number_is_served_as_an_anonymous_lead(line: Line) -> None:
    for withheld in ["anonymous", "+266696687", ""]:
        call = line.peer.call(withheld)
        heard = await call.start()
        assert "Hello, this is Lindenhof Clinic" in heard.text
        assert "Say or press 1 for Book an appointment" in heard.text
        lead = await line.store.customers.find_by_identity(Channel.REST, f"anonymous:{call.sid}")
        assert lead is not None and lead.full_name == "New contact"
    async with line.store.database.transaction() as session:
        phones = await session.scalar(
            select(func.count(m.Identity.id)).where(m.Identity.channel == Channel.PHONE)
        )
    assert phones == 0


async def test_forged_missing_and_misdirected_signatures_get_403_and_nothing_runs(
    line: Line,
) -> None:
    call = line.peer.call(ANNA)
    url = PUBLIC + "/voice/incoming"
    params = call.params("ringing")
    real_address = str(line.client.make_url("/voice/incoming"))
    assert not real_address.startswith(PUBLIC)  # behind a proxy: the URL signed is the public one
    attempts = [
        await line.peer.post(url, params, signature="dGhpcyBpcyBub3QgYSBzaWduYXR1cmU="),
        await line.peer.post(url, params, sign=False),
        await line.peer.post(url, params, signature=line.peer.sign(real_address, params)),
        await line.peer.post(url, params, signature=line.peer.sign(url, {**params, "From": "+1"})),
    ]
    assert [(a.status, a.body) for a in attempts] == [(403, "")] * 4
    assert await line.store.customers.find_by_identity(Channel.PHONE, ANNA) is None
    assert await line.inbound_count() == 0
    signed = await line.peer.post(url, params)
    assert signed.status == 200 and "Hello" in signed.body


async def test_a_signalwire_signature_is_accepted(line: Line) -> None:
    peer = TwilioPeer(
        line.client, public_url=PUBLIC, auth_token=TOKEN, signature_header="X-SignalWire-Signature"
    )
    heard = await peer.call(ANNA).start()
    assert "Hello, this is Lindenhof Clinic" in heard.text


@pytest.mark.parametrize(
    ("drop", "body", "content_type", "reason"),
    [
        ("CallSid", None, None, "CallSid is missing"),
        ("From", None, None, "From is missing"),
        (None, b"this is not a form", None, "not a form"),
        (None, b"\xff\xfe=1", None, "not a form"),
        (None, b'{"CallSid": "CA1"}', "application/json", "form-encoded"),
    ],
)
async def test_bad_webhooks_get_400_and_nothing_runs(
    line: Line, drop: str | None, body: bytes | None, content_type: str | None, reason: str
) -> None:
    params = line.peer.call(ANNA).params("ringing")
    if drop:
        del params[drop]
    url = PUBLIC + "/voice/incoming"
    headers = {
        "X-Twilio-Signature": line.peer.sign(url, params),
        "Content-Type": content_type or "application/x-www-form-urlencoded",
    }
    data = body if body is not None else urlencode(params).encode()
    response = await line.client.post("/voice/incoming", data=data, headers=headers)
    assert response.status == 400
    text = await response.text()
    assert reason in text and "Traceback" not in text
    assert await line.inbound_count() == 0


async def test_a_bad_sequence_number_is_a_bad_request(line: Line) -> None:
    call = line.peer.call(ANNA)
    url = PUBLIC + "/voice/status"
    answer = await line.peer.post(url, call.params("completed", SequenceNumber="two"))
    assert answer.status == 400 and "SequenceNumber" in answer.body


# -- retries ---------------------------------------------------------------------------------------


async def test_a_retried_webhook_answers_the_same_twiml_and_runs_the_dialogue_once(
    line: Line,
) -> None:
    await add_anna(line.store)
    call = line.peer.call(ANNA)
    await call.start()
    await call.say("I'd like to book a cleaning.")
    heard = await call.press("2")
    assert "Shall I book" in heard.text
    before = await line.inbound_count()
    original = line.peer.sent[-1]
    again = await line.peer.resend(original)
    assert again.status == 200 and again.body == heard.documents[0]
    assert await line.inbound_count() == before
    heard = await call.say("Yes.")
    booked_answer = line.peer.sent[-1]
    again = await line.peer.resend(booked_answer)
    assert again.body == heard.documents[0]
    (only,) = await line.store.appointments.upcoming((await anna_id(line)), limit=5)
    assert only.status.value == "booked"


async def test_two_identical_answers_in_one_call_are_two_turns(line: Line) -> None:
    """Without the idempotency header the key is the CallSid + URL + parameters; each question's
    action URL carries its step, so saying "hello" twice is two messages."""
    call = line.peer.call(ANNA)
    await call.start()
    first = await call.say("Hello.")
    second = await call.say("Hello.")
    assert first.gather is not None and second.gather is not None
    assert first.gather.action != second.gather.action
    assert await line.inbound_count() == 3  # the greeting and two hellos


async def anna_id(line: Line) -> int:
    anna = await line.store.customers.find_by_identity(Channel.PHONE, ANNA)
    assert anna is not None
    return anna.id


# -- what the caller says is data, never markup ---------------------------------------------------


async def test_the_callers_words_are_escaped_in_the_twiml(line: Line) -> None:
    call = line.peer.call("+447700900077")
    await call.start()
    await call.say("Book a cleaning.")
    heard = await call.press("1")
    assert "full name" in heard.text
    heard = await call.say('<Say>Eve</Say> & "Co" <Hangup/>')
    assert "Shall I book" in heard.text
    caller = await line.store.customers.find_by_identity(Channel.PHONE, "+447700900077")
    assert caller is not None and "<" in caller.full_name  # their words became their name
    heard = await call.say("Hello.")
    first_name = caller.full_name.split()[0]
    assert heard.said == [f"Hello {first_name}, welcome back to Lindenhof Clinic."]
    document = heard.documents[0]
    assert "&lt;" in document and document.count("<Say ") == 1 and "<Hangup" not in document
    assert not heard.hung_up and heard.gather is not None


# -- silence and failures --------------------------------------------------------------------------


async def test_silence_repeats_the_question_then_offers_a_person_then_ends_the_call(
    line: Line,
) -> None:
    await add_anna(line.store)
    call = line.peer.call(ANNA)
    await call.start()
    heard = await call.silence()
    assert heard.said[0] == "Sorry, I didn't hear anything."
    assert heard.said[1] == "Hello Anna, welcome back to Lindenhof Clinic."
    assert heard.said[2] == "How can I help you today?"
    heard = await call.silence()
    assert "Say or press 1 for Talk to a person." in heard.text
    heard = await call.silence()
    assert "end the call" in heard.text and heard.hung_up


async def test_silence_then_a_key_reaches_a_person(line: Line) -> None:
    call = line.peer.call(ANNA)
    await call.start()
    await call.silence()
    await call.silence()
    heard = await call.press("1")
    assert "passed this to our team" in heard.text
    assert heard.gather is not None and "/voice/hold" in heard.gather.action


@pytest.mark.parametrize(
    "error",
    [StoreUnavailable("the database went away"), Overloaded("32 turns in progress")],
    ids=["database down", "surge"],
)
async def test_a_dialogue_that_cannot_run_ends_in_the_apology_and_the_fallback_without_a_trace(
    store: CrmStore,
    clock: FakeClock,
    brains: Brains,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
) -> None:
    async def cannot(message: InboundMessage) -> list[Reply]:
        raise error

    fallback = "sip:reception@pbx.example.test"
    async with open_line(store, clock, brains, handle=cannot, fallback_number=fallback) as opened:
        call = opened.peer.call(ANNA)
        heard = await call.start()
    assert "something went wrong on our side" in heard.text
    assert heard.dialled is not None and heard.dialled.address == fallback
    failures = [r for r in caplog.records if r.name.startswith("bot.channels.voice")]
    assert all(r.exc_info is None for r in failures)  # a known state, not a bug
    # one line per call for an outage; a surge is logged once in a while by the admission
    assert [call.sid in r.getMessage() for r in failures] == (
        [] if isinstance(error, Overloaded) else [True]
    )


async def test_a_failing_dialogue_ends_in_an_apology_logged_with_the_call_sid(
    store: CrmStore, clock: FakeClock, brains: Brains, caplog: pytest.LogCaptureFixture
) -> None:
    async def database_gone(message: InboundMessage) -> list[Reply]:
        raise RuntimeError("a bug in a flow")

    fallback = "sip:reception@pbx.example.test"
    async with open_line(
        store, clock, brains, handle=database_gone, fallback_number=fallback
    ) as opened:
        call = opened.peer.call(ANNA)
        heard = await call.start()
    assert "something went wrong on our side" in heard.text
    assert heard.dialled is not None and heard.dialled.kind == "Sip"
    assert heard.dialled.address == "sip:reception@pbx.example.test"
    failures = [r for r in caplog.records if r.name.startswith("bot.channels.voice")]
    assert any(call.sid in r.getMessage() for r in failures)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)
