"""A caller whose request waits for a person: on hold, called back, or put through.

While the conversation's ticket is queued or offered the caller holds: position and estimated
wait, a pause, and back (routing's notices are spoken as they come). Key 1 or "call me back"
leaves a call-back request on the ticket, which stays open, and ends the call. Once an agent
holds the ticket the call is put through to the agent's phone address (<Number> or <Sip>); an
agent without one calls back. Past `max_hold` the caller is called back (or put through to the
fallback number, when one is configured).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta

from twilio.twiml.voice_response import VoiceResponse

from bot.channels.host import ChannelHost
from bot.channels.voice.calls import CallState, CallStore
from bot.channels.voice.links import Links
from bot.channels.voice.twiml import Speaker, Texts
from routing.errors import RoutingError
from routing.events import EventKind
from routing.notify import QueuePosition
from routing.tickets import WAITING_FOR_AGENT, Ticket

log = logging.getLogger(__name__)

CALL_BACK = "call back"  # the ticket message an agent acts on: "call back +447700900001"
_CALL_BACK_MESSAGE = re.compile(r"^call back \+\d+$")
OUR_TEAM = "Our team"
COMPLETED = frozenset({"completed", "answered"})


class HoldLine:
    def __init__(
        self,
        host: ChannelHost,
        speaker: Speaker,
        calls: CallStore,
        links: Links,
        *,
        max_hold: timedelta,
        fallback_number: str | None,
    ) -> None:
        self._host = host
        self._speaker = speaker
        self._calls = calls
        self._links = links
        self._max_hold = max_hold
        self._fallback = fallback_number

    def _text(self, key: str, **fields: object) -> str:
        return self._speaker.texts(key, **fields)

    async def answer(
        self, state: CallState, lines: list[str], *, announce: bool
    ) -> VoiceResponse | None:
        """Hold or put through when the conversation has a ticket open; None when it has not."""
        ticket = await self._host.routing.open_ticket_of(state.conversation_id)
        if ticket is None:
            return None
        if ticket.status in WAITING_FOR_AGENT:
            return await self._hold(state, ticket, lines, announce=announce)
        return await self._put_through(state, ticket, lines)

    async def call_back(self, state: CallState) -> VoiceResponse | None:
        """The caller on hold asked to be called back; None when no ticket is open any more."""
        ticket = await self._host.routing.open_ticket_of(state.conversation_id)
        if ticket is None:
            return None
        if ticket.status not in WAITING_FOR_AGENT:
            return await self._put_through(state, ticket, [])
        if state.number is None:
            lines = [self._text("voice_callback_no_number")]
            return await self._hold(state, ticket, lines, announce=False)
        await self._leave_call_back(state, ticket.id)
        return self._speaker.goodbye([self._text("voice_callback_taken")])

    async def dialled(
        self, state: CallState, status: str | None, *, fallback_leg: bool
    ) -> VoiceResponse:
        """How putting the call through ended: done, or nobody answered (fallback, call-back)."""
        if status in COMPLETED:
            return self._speaker.goodbye([])
        if self._fallback and not fallback_leg:
            state = await self._next_step(state)
            action = self._links.dialled(state.step, fallback=True)
            return self._speaker.connect([self._text("voice_transfer")], self._fallback, action)
        ticket = await self._host.routing.open_ticket_of(state.conversation_id)
        agent = await self._agent_name(ticket)
        if ticket is None or state.number is None:
            return self._speaker.goodbye([self._text("voice_agent_cannot_call", agent=agent)])
        await self._leave_call_back(state, ticket.id)
        return self._speaker.goodbye([self._text("voice_agent_unreachable", agent=agent)])

    # -- the three ways a wait goes ----------------------------------------------------------------

    async def _hold(
        self, state: CallState, ticket: Ticket, lines: list[str], *, announce: bool
    ) -> VoiceResponse:
        now = self._host.clock()
        _, state = await self._calls.update(
            state, lambda s: replace(s, hold_since=s.hold_since or now, step=s.step + 1)
        )
        if state.hold_since is not None and now - state.hold_since >= self._max_hold:
            return await self._long_wait(state, ticket, lines)
        if announce:
            standing = await self._host.routing.position(ticket.id)
            lines = [*lines, *position_lines(self._speaker.texts, standing)]
        if state.number is not None:
            lines = [*lines, self._text("voice_hold_callback_offer")]
        return self._speaker.hold(lines, self._links.hold(state.step))

    async def _put_through(
        self, state: CallState, ticket: Ticket, lines: list[str]
    ) -> VoiceResponse:
        agent = (
            None
            if ticket.assigned_agent_id is None
            else await self._host.store.agents.get(ticket.assigned_agent_id)
        )
        name = agent.display_name if agent is not None else OUR_TEAM
        if agent is not None and agent.phone_address:
            state = await self._next_step(state)
            lines = [*lines, self._text("voice_connecting", agent=name)]
            return self._speaker.connect(
                lines, agent.phone_address, self._links.dialled(state.step)
            )
        if state.number is None:
            return self._speaker.goodbye(
                [*lines, self._text("voice_agent_cannot_call", agent=name)]
            )
        await self._leave_call_back(state, ticket.id)
        return self._speaker.goodbye([*lines, self._text("voice_agent_will_call", agent=name)])

    async def _long_wait(self, state: CallState, ticket: Ticket, lines: list[str]) -> VoiceResponse:
        if self._fallback:
            lines = [*lines, self._text("voice_long_wait_transfer")]
            action = self._links.dialled(state.step, fallback=True)
            return self._speaker.connect(lines, self._fallback, action)
        if state.number is None:
            return self._speaker.goodbye([*lines, self._text("voice_long_wait_call_again")])
        await self._leave_call_back(state, ticket.id)
        return self._speaker.goodbye([*lines, self._text("voice_long_wait")])

    # -- helpers -----------------------------------------------------------------------------------

    async def _leave_call_back(self, state: CallState, ticket_id: int) -> None:
        """Once per call: "call back <number>" on the ticket, for the agent who takes it."""
        before, _ = await self._calls.update(state, lambda s: replace(s, callback_requested=True))
        if before.callback_requested:
            return
        try:
            await self._host.routing.customer_message(ticket_id, f"{CALL_BACK} {state.number}")
        except RoutingError as exc:
            log.warning("voice: call %s: call-back request not recorded: %s", state.call_sid, exc)

    async def _agent_name(self, ticket: Ticket | None) -> str:
        if ticket is None or ticket.assigned_agent_id is None:
            return OUR_TEAM
        agent = await self._host.store.agents.get(ticket.assigned_agent_id)
        return agent.display_name if agent is not None else OUR_TEAM

    async def _next_step(self, state: CallState) -> CallState:
        _, state = await self._calls.update(state, lambda s: replace(s, step=s.step + 1))
        return state


def position_lines(texts: Texts, standing: QueuePosition) -> list[str]:
    """Where the caller stands, in words: their number in the queue and the estimated wait."""
    if standing.position is None:  # on offer: an agent is deciding now
        return [texts("voice_hold_next")]
    lines = [texts("voice_hold_position", position=standing.position)]
    wait = standing.estimated_wait
    if wait is None:
        lines.append(texts("voice_hold_wait_unknown"))
    elif wait <= timedelta(seconds=90):
        lines.append(texts("voice_hold_wait_minute"))
    else:
        minutes = round(wait / timedelta(minutes=1))
        lines.append(texts("voice_hold_wait_minutes", minutes=minutes))
    return lines


async def has_call_back_request(host: ChannelHost, ticket_id: int) -> bool:
    """Whether a caller asked (in any call) to be called back about this ticket."""
    return any(
        event.kind is EventKind.CUSTOMER_MESSAGE
        and _CALL_BACK_MESSAGE.match(str(event.data.get("text", "")))
        for event in await host.routing.events(ticket_id)
    )
