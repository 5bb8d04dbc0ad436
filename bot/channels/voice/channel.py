"""The phone line: TwiML voice webhooks from Twilio (or SignalWire) into the same dialogue.

POST /voice/incoming   a call comes in: the caller is recognised by From and greeted
POST /voice/gather     what they said (SpeechResult) or keyed (Digits) goes through the dialogue
POST /voice/hold       the hold loop while a person is awaited (key 1: call me back)
POST /voice/dialled    how putting the call through to an agent ended
POST /voice/status     the number's status callback: the call's end, recorded once

Every request is checked against its signature before anything in it is read (403 if wrong);
a retried webhook (same idempotency key) gets the answer already given and runs nothing again;
anything that goes wrong in the dialogue ends in a spoken apology, logged with the CallSid.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr
from twilio.twiml.voice_response import VoiceResponse

from bot.channels.host import ChannelHost
from bot.channels.voice import links as paths
from bot.channels.voice.caller import caller_of, keyed_text, spoken_text, wants_call_back
from bot.channels.voice.calls import CallState, CallStore, CallStoreUnavailable, MemoryCallStore
from bot.channels.voice.calls_redis import RedisCallStore
from bot.channels.voice.hold import HoldLine
from bot.channels.voice.links import Links
from bot.channels.voice.signature import BadWebhook, Forbidden, SignatureCheck
from bot.channels.voice.status import CallLog
from bot.channels.voice.twiml import Speaker, VoiceStyle, empty, offered
from bot.channels.voice.webhook import Webhook, read_webhook
from bot.config import Settings
from bot.config import VoiceChannel as VoiceSettings
from bot.dialogue.admission import Busy, worth_logging
from bot.dialogue.messages import Button, InboundMessage, Reply
from bot.dialogue.templates import Templates
from crm_store.enums import Channel
from crm_store.errors import StoreUnavailable
from routing.tickets import WAITING_FOR_AGENT

log = logging.getLogger(__name__)

GREET = "/greet"
PERSON = "/request_human"
LANGUAGE = "en"
BIRTH_DATE_PROMPTS = ("verify_birth_date", "verify_birth_date_again", "verify_wrong")


@dataclass(frozen=True, slots=True)
class _Live:
    host: ChannelHost
    hold: HoldLine
    log: CallLog


Answer = Callable[[_Live, web.Request, Webhook, CallState], Awaitable[VoiceResponse]]


def style_of(voice: VoiceSettings) -> VoiceStyle:
    return VoiceStyle(
        voice=voice.voice,
        language=voice.language,
        speech_timeout=str(voice.speech_timeout),
        input_timeout=max(1, round(voice.input_timeout.total_seconds())),
        hold_pause=max(1, round(voice.hold_pause.total_seconds())),
        dial_timeout=max(5, round(voice.dial_timeout.total_seconds())),
    )


class VoiceChannel:
    def __init__(
        self,
        voice: VoiceSettings,
        *,
        public_url: str,
        business: str,
        region: str,
        templates: Templates,
        calls: CallStore | None = None,
    ) -> None:
        self._voice = voice
        self._business = business
        self._region = region
        self._templates = templates
        self._check = SignatureCheck(voice.auth_token or SecretStr(""), public_url)
        self._links = Links(public_url.rstrip("/"))
        self._given_calls = calls  # None: chosen when the channel runs (Redis if the host has it)
        self._calls: CallStore = calls or MemoryCallStore()
        self._speaker = Speaker(style_of(voice), self.text)
        self._prompts = frozenset(self.text(key) for key in BIRTH_DATE_PROMPTS)
        self._live: _Live | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> VoiceChannel:
        return cls(
            settings.channels.voice,
            public_url=settings.server.public_url,
            business=settings.business.name,
            region=settings.business.default_region,
            templates=Templates.load(Path(settings.dialogue.templates)),
        )

    def text(self, key: str, **fields: object) -> str:
        return self._templates.render(LANGUAGE, key, **fields)

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(paths.INCOMING, self._route(self._incoming)),
            web.post(paths.GATHER, self._route(self._gather)),
            web.post(paths.HOLD, self._route(self._hold)),
            web.post(paths.DIALLED, self._route(self._dialled)),
            web.post(paths.STATUS, self._route(self._status)),
        ]

    @asynccontextmanager
    async def running(self, host: ChannelHost) -> AsyncIterator[None]:
        async def keep_for_the_call(recipient_id: str, replies: Sequence[Reply]) -> None:
            # Spoken at the caller's next hold poll or turn (the dialogue drains the outbox).
            await host.outbound.outbox.push(f"{Channel.PHONE.value}:{recipient_id}", replies)

        host.outbound.register(Channel.PHONE, keep_for_the_call)
        if self._given_calls is None:  # shared by every process when Redis is configured
            self._calls = MemoryCallStore() if host.redis is None else RedisCallStore(host.redis)
        hold = HoldLine(
            host,
            self._speaker,
            self._calls,
            self._links,
            max_hold=self._voice.max_hold,
            fallback_number=self._voice.fallback_number,
        )
        self._live = _Live(host, hold, CallLog(host, self._calls))
        try:
            yield
        finally:
            self._live = None

    # -- the edge: signature, idempotency, failures ------------------------------------------------

    def _route(self, answer: Answer) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await self._serve(request, answer)

        return handler

    async def _serve(self, request: web.Request, answer: Answer) -> web.StreamResponse:
        live = self._live
        if live is None:
            return web.Response(status=503, text="the phone line is starting up")
        try:
            params = await self._check.signed_form(request)
            hook = read_webhook(params, request.headers, request.path_qs)
        except Forbidden:
            return web.Response(status=403)
        except BadWebhook as exc:
            return web.Response(status=400, text=f"bad webhook: {exc}")
        try:
            known = await self._calls.answer_for(hook.key)
        except CallStoreUnavailable as exc:  # the provider retries, or plays its fallback URL
            log.warning("voice: call %s at %s: %s", hook.call_sid, request.path, exc)
            return web.Response(status=503, text="the phone line is unavailable")
        if known is not None:
            return _twiml(known)
        try:
            response = await answer(live, request, hook, await self._state_of(hook))
        except (StoreUnavailable, Busy) as exc:  # the apology (or the fallback), without a trace
            if worth_logging(exc):
                log.warning("voice: call %s at %s: %s", hook.call_sid, request.path, exc)
            response = self._apology()
        except Exception:  # the edge: the caller hears an apology, the log has the call
            log.exception("voice: call %s failed at %s", hook.call_sid, request.path)
            response = self._apology()
        twiml = str(response.to_xml())
        try:
            await self._calls.remember_answer(hook.key, twiml)
        except CallStoreUnavailable as exc:  # a retry runs again; the dialogue dedupes the turn
            log.warning("voice: call %s: answer not kept: %s", hook.call_sid, exc)
        return _twiml(twiml)

    async def _state_of(self, hook: Webhook) -> CallState:
        caller = caller_of(hook.from_, hook.call_sid, self._region)
        fresh = CallState(hook.call_sid, caller.channel, caller.sender_id, caller.number)
        _, state = await self._calls.update(fresh, lambda state: state)
        return state

    def _apology(self) -> VoiceResponse:
        fallback = self._voice.fallback_number
        if fallback:
            action = self._links.dialled(0, fallback=True)
            return self._speaker.connect([self.text("voice_error_transfer")], fallback, action)
        return self._speaker.goodbye([self.text("voice_error")])

    # -- the webhooks ------------------------------------------------------------------------------

    async def _incoming(
        self, live: _Live, request: web.Request, hook: Webhook, state: CallState
    ) -> VoiceResponse:
        ticket = await live.host.routing.open_ticket_of(state.conversation_id)
        if ticket is not None:  # calling again while a person is awaited or has the case
            lines = [self.text("voice_still_waiting")] if ticket.status in WAITING_FOR_AGENT else []
            held = await live.hold.answer(state, lines, announce=True)
            if held is not None:
                return held
        replies = await self._turn(live, hook, state, GREET)
        return await self._reply(live, state, replies, greeting=True)

    async def _gather(
        self, live: _Live, request: web.Request, hook: Webhook, state: CallState
    ) -> VoiceResponse:
        if not hook.said_anything:
            return await self._silence(state)
        _, state = await self._calls.update(state, lambda s: replace(s, silences=0))
        replies = await self._turn(live, hook, state, self._heard(hook, state))
        return await self._reply(live, state, replies)

    async def _hold(
        self, live: _Live, request: web.Request, hook: Webhook, state: CallState
    ) -> VoiceResponse:
        if wants_call_back(hook.digits, hook.speech):
            answered = await live.hold.call_back(state)
            if answered is not None:
                return answered
        elif hook.said_anything:  # "cancel my request", "0", ...: the dialogue decides
            replies = await self._turn(live, hook, state, self._heard(hook, state))
            return await self._reply(live, state, replies)
        notices = await live.host.outbound.outbox.drain(state.conversation_id)
        held = await live.hold.answer(state, self._speaker.lines(notices), announce=True)
        if held is not None:
            return held
        replies = notices or [Reply(self.text("voice_back_with_assistant"))]
        return await self._ask(state, replies, self._speaker.lines(replies))

    async def _dialled(
        self, live: _Live, request: web.Request, hook: Webhook, state: CallState
    ) -> VoiceResponse:
        fallback_leg = request.query.get("leg") == "fallback"
        return await live.hold.dialled(state, hook.dial_status, fallback_leg=fallback_leg)

    async def _status(
        self, live: _Live, request: web.Request, hook: Webhook, state: CallState
    ) -> VoiceResponse:
        await live.log.record(hook, state)
        return empty()

    # -- turns -------------------------------------------------------------------------------------

    def _heard(self, hook: Webhook, state: CallState) -> str:
        choices = offered(state.prompt)
        if hook.digits:
            return keyed_text(hook.digits, choices)
        return spoken_text(hook.speech or "", choices)

    async def _turn(self, live: _Live, hook: Webhook, state: CallState, text: str) -> list[Reply]:
        message = InboundMessage(
            channel=state.channel,
            sender_id=state.sender_id,
            text=text,
            received_at=live.host.clock(),
            message_id=hook.key,
            metadata={"call_sid": hook.call_sid, "session": hook.call_sid},
        )
        return await live.host.handle(message)

    async def _reply(
        self, live: _Live, state: CallState, replies: list[Reply], *, greeting: bool = False
    ) -> VoiceResponse:
        lines = self._speaker.lines(replies)
        held = await live.hold.answer(state, lines, announce=False)
        if held is not None:
            return held
        goodbye = self.text("goodbye", business=self._business)
        if any(reply.text == goodbye for reply in replies):
            return self._speaker.goodbye(lines)
        if (greeting and not offered(replies)) or not lines:
            replies = [*replies, Reply(self.text("voice_how_can_i_help"))]
            lines = self._speaker.lines(replies)
        return await self._ask(state, replies, lines)

    async def _ask(
        self, state: CallState, replies: Sequence[Reply], lines: list[str]
    ) -> VoiceResponse:
        """Say the lines and listen; the replies are remembered (their choices, a repeat)."""
        if any(reply.text in self._prompts for reply in replies):
            lines = [*lines, self.text("voice_keypad_birth_date")]
        _, state = await self._calls.update(
            state, lambda s: replace(s, step=s.step + 1, prompt=tuple(replies))
        )
        return self._speaker.gather(lines, self._links.gather(state.step), offered(replies))

    async def _silence(self, state: CallState) -> VoiceResponse:
        """Nothing heard: ask again, then offer a person, then say goodbye."""
        _, state = await self._calls.update(state, lambda s: replace(s, silences=s.silences + 1))
        if state.silences == 1:
            prompt = state.prompt or (Reply(self.text("voice_how_can_i_help")),)
            lines = [self.text("voice_didnt_hear"), *self._speaker.lines(prompt)]
            return await self._ask(state, prompt, lines)
        if state.silences == 2:
            person = Button(self.text("button_human"), PERSON)
            offer = Reply(self.text("voice_still_silent"), buttons=(person,))
            return await self._ask(state, [offer], self._speaker.lines([offer]))
        return self._speaker.goodbye([self.text("voice_no_input_goodbye")])


def _twiml(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/xml", charset="utf-8")
