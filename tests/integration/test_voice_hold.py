"""The phone line's way to a person: hold, call-back, putting the call through, status callbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from crm_store.enums import Channel
from crm_store.records import AgentRecord
from crm_store.store import CrmStore
from routing.events import EventKind, TicketStatus
from routing.tickets import Ticket
from tests.conftest import FakeClock
from tests.fakes.twilio_peer import Call, Heard
from tests.integration.test_voice import ANNA, Brains, Line, add_anna, load_brains, open_line

SKILLS = ["reception", "booking", "billing", "nursing", "triage"]
MARIA_PHONE = "+442079460999"


@pytest.fixture(scope="module")
def brains(nlu_model: str) -> Brains:
    return load_brains(nlu_model)


@pytest.fixture
async def line(store: CrmStore, clock: FakeClock, brains: Brains) -> AsyncIterator[Line]:
    async with open_line(store, clock, brains, max_hold="10m") as opened:
        yield opened


async def add_agent(line: Line, phone: str | None, name: str = "maria") -> AgentRecord:
    agent = await line.store.agents.create(
        name,
        "a long enough password",
        display_name=name.title(),
        skills=SKILLS,
        phone_address=phone,
    )
    await line.bot.routing.sign_in(agent.id)
    return agent


async def on_hold(line: Line) -> tuple[Call, Heard]:
    """Anna calls and asks for a person."""
    await add_anna(line.store)
    call = line.peer.call(ANNA)
    await call.start()
    heard = await call.say("I want to talk to a person.")
    assert "passed this to our team" in heard.text
    assert heard.gather is not None and "/voice/hold" in heard.gather.action
    return call, heard


async def ticket_of(line: Line) -> Ticket:
    tickets = await line.bot.routing.store.tickets(conversation_id=f"phone:{ANNA}")
    assert len(tickets) == 1
    return tickets[0]


async def messages_on(line: Line, ticket_id: int) -> list[str]:
    return [
        str(event.data.get("text"))
        for event in await line.bot.routing.events(ticket_id)
        if event.kind is EventKind.CUSTOMER_MESSAGE
    ]


async def history(line: Line, text: str) -> list[str]:
    anna = await line.store.customers.find_by_identity(Channel.PHONE, ANNA)
    assert anna is not None
    view = await line.store.views.view(anna.id)
    return [i.text or "" for i in view.recent_interactions if (i.text or "").startswith(text)]


async def test_hold_announces_position_and_wait_then_puts_the_call_through_to_the_agent(
    line: Line,
) -> None:
    maria = await add_agent(line, MARIA_PHONE)
    call, heard = await on_hold(line)
    assert "You are number 1 in the queue" in heard.text
    assert heard.said[-1] == "To be called back instead, press 1 or say call me back."
    assert heard.pauses == [1]
    heard = await call.silence()  # the pause runs out: <Redirect> to the hold loop
    assert heard.said[:2] == ["You are number 1 in the queue.", "The wait is about a minute."]
    assert heard.gather is not None and heard.gather.attrs["numDigits"] == "1"
    taken = await line.bot.routing.next_ticket(maria.id)
    assert taken is not None and taken.status is TicketStatus.ASSIGNED
    heard = await call.silence()
    assert heard.said == [
        "Maria from our team is now looking after your request.",
        "Putting you through to Maria now.",
    ]
    assert heard.dialled is not None
    assert (heard.dialled.kind, heard.dialled.address) == ("Number", MARIA_PHONE)
    heard = await call.dial_ends("completed")
    assert heard.hung_up
    await call.status("completed", sequence=3, duration=240)
    ticket = await ticket_of(line)
    assert ticket.status is TicketStatus.ASSIGNED and ticket.assigned_agent_id == maria.id
    assert await history(line, "Phone call") == ["Phone call completed, 240 s"]


async def test_an_offered_ticket_then_a_sip_agent(
    store: CrmStore, clock: FakeClock, brains: Brains
) -> None:
    async with open_line(store, clock, brains, push=True) as line:
        tom = await add_agent(line, "sip:tom@pbx.example.test", name="tom")
        call, heard = await on_hold(line)
        ticket = await ticket_of(line)
        assert ticket.status is TicketStatus.OFFERED
        heard = await call.silence()
        assert heard.said[0] == "A member of our team is about to take your call."
        await line.bot.routing.accept_offer(ticket.id, tom.id)
        heard = await call.silence()
        assert heard.dialled is not None
        assert (heard.dialled.kind, heard.dialled.address) == ("Sip", "sip:tom@pbx.example.test")


async def test_an_agent_without_a_phone_calls_back_and_keeps_the_ticket(line: Line) -> None:
    maria = await add_agent(line, None)
    call, _ = await on_hold(line)
    await line.bot.routing.next_ticket(maria.id)
    heard = await call.silence()
    assert "Maria is looking after your request and will call you back shortly" in heard.text
    assert heard.hung_up and heard.dialled is None
    ticket = await ticket_of(line)
    assert ticket.status is TicketStatus.ASSIGNED and ticket.assigned_agent_id == maria.id
    assert await messages_on(line, ticket.id) == [f"call back {ANNA}"]


@pytest.mark.parametrize("ask", ["press", "say"])
async def test_a_call_back_request_leaves_the_ticket_open_and_hangs_up(
    line: Line, ask: str
) -> None:
    call, _ = await on_hold(line)
    if ask == "press":
        heard = await call.press("1")
    else:
        heard = await call.say("Could you call me back later?")
    assert "We'll call you back on this number" in heard.text and heard.hung_up
    ticket = await ticket_of(line)
    assert ticket.status is TicketStatus.QUEUED
    assert await messages_on(line, ticket.id) == [f"call back {ANNA}"]
    await call.status("completed", sequence=2, duration=50)  # hanging up after asking is fine
    assert (await ticket_of(line)).status is TicketStatus.QUEUED


async def test_hanging_up_while_queued_abandons_the_ticket(line: Line) -> None:
    call, _ = await on_hold(line)
    await call.silence()
    answer = await call.status("completed", sequence=2, duration=61)
    assert answer.status == 200
    ticket = await ticket_of(line)
    assert ticket.status is TicketStatus.ABANDONED
    (abandoned,) = [
        e for e in await line.bot.routing.events(ticket.id) if e.kind is EventKind.ABANDONED
    ]
    assert abandoned.data == {"reason": "caller_hung_up"}
    assert await history(line, "Phone call") == ["Phone call completed, 61 s"]


async def test_duplicate_and_out_of_order_status_callbacks_are_recorded_once(line: Line) -> None:
    await add_anna(line.store)
    call = line.peer.call(ANNA)
    await call.start()
    at = line.clock.now + timedelta(minutes=2)
    assert (await call.status("in-progress", sequence=1)).status == 200
    first = await call.status("completed", sequence=3, duration=95, at=at)
    assert (await line.peer.resend(line.peer.sent[-1])).body == first.body  # Twilio's retry
    await call.status("completed", sequence=3, duration=95, at=at)  # sent twice, new token
    await call.status("ringing", sequence=0)  # late
    await call.status("busy", sequence=2, duration=0)  # older than the final one
    assert await history(line, "Phone call") == ["Phone call completed, 95 s"]
    anna = await line.store.customers.find_by_identity(Channel.PHONE, ANNA)
    assert anna is not None
    view = await line.store.views.view(anna.id)
    (ended,) = [i for i in view.recent_interactions if (i.text or "").startswith("Phone call")]
    assert ended.occurred_at == at and ended.channel is Channel.PHONE


async def test_a_status_callback_before_anything_else_is_still_taken(line: Line) -> None:
    call = line.peer.call("+447700900123")
    assert (await call.status("completed", sequence=0, duration=0)).status == 200
    assert await line.store.customers.find_by_identity(Channel.PHONE, "+447700900123") is None


async def test_saying_cancel_on_hold_cancels_the_request(line: Line) -> None:
    call, _ = await on_hold(line)
    heard = await call.say("Cancel my request.")
    assert "Your request is cancelled" in heard.text
    assert heard.gather is not None and "/voice/gather" in heard.gather.action
    assert (await ticket_of(line)).status is TicketStatus.ABANDONED


async def test_a_long_wait_ends_in_a_call_back(line: Line) -> None:
    call, _ = await on_hold(line)
    await call.silence()
    line.clock.advance(minutes=11)
    heard = await call.silence()
    assert "Sorry for the long wait. We'll call you back" in heard.text and heard.hung_up
    ticket = await ticket_of(line)
    assert await messages_on(line, ticket.id) == [f"call back {ANNA}"]


async def test_a_long_wait_goes_to_the_fallback_number_when_there_is_one(
    store: CrmStore, clock: FakeClock, brains: Brains
) -> None:
    async with open_line(
        store, clock, brains, max_hold="5m", fallback_number="+442079460321"
    ) as line:
        call, _ = await on_hold(line)
        line.clock.advance(minutes=6)
        heard = await call.silence()
        assert "putting you through to our reception" in heard.text
        assert heard.dialled is not None and heard.dialled.address == "+442079460321"


async def test_an_agent_who_does_not_answer_calls_back(line: Line) -> None:
    maria = await add_agent(line, MARIA_PHONE)
    call, _ = await on_hold(line)
    await line.bot.routing.next_ticket(maria.id)
    heard = await call.silence()
    assert heard.dialled is not None
    heard = await call.dial_ends("no-answer")
    assert "Maria couldn't take the call just now" in heard.text and heard.hung_up
    assert await messages_on(line, (await ticket_of(line)).id) == [f"call back {ANNA}"]
