"""Which flow takes a message: handoff and emergencies, then the active flow, then the intent."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.dialogue.flows import Flow
from bot.dialogue.flows.basics import fallback
from bot.dialogue.flows.verification import VerificationFlow
from bot.dialogue.turn import Turn
from nlu.types import FALLBACK_INTENT

ABORT = re.compile(
    r"^\s*(never\s*mind|nevermind|forget it|stop|cancel that|leave it|/stop)\b", re.IGNORECASE
)


class Router:
    def __init__(self, flows: Iterable[Flow], *, fallback_threshold: float) -> None:
        self._flows = {flow.name: flow for flow in flows}
        self._by_intent = {intent: flow for flow in self._flows.values() for intent in flow.intents}
        self._threshold = fallback_threshold
        for flow in self._flows.values():
            if hasattr(flow, "router"):
                flow.router = self

    def verification(self) -> VerificationFlow:
        flow = self._flows["verify"]
        assert isinstance(flow, VerificationFlow)
        return flow

    async def start_intent(self, turn: Turn, intent: str) -> None:
        """Start the flow of `intent` as if the customer had just asked for it."""
        flow = self._by_intent.get(intent)
        if flow is not None:
            await self._start(turn, flow)

    def flow(self, name: str) -> Flow:
        return self._flows[name]

    async def route(self, turn: Turn) -> None:
        state = turn.state
        for name in ("handoff", "feedback"):
            owner = self._flows.get(name)
            if owner is not None and await owner.resume(turn):
                return
        urgent = self._by_intent.get(turn.intent) if turn.intent in {"emergency"} else None
        if urgent is not None:
            await self._start(turn, urgent)
            return
        if state.flow is not None:
            if ABORT.match(turn.message.text):
                state.end_flow()
                turn.say("cancelled_flow")
                return
            if await self._flows[state.flow].resume(turn):
                state.fallbacks = 0
                return
        understood = turn.intent != FALLBACK_INTENT and turn.confidence >= self._threshold
        flow = self._by_intent.get(turn.intent) if understood else None
        if flow is None:
            if await fallback(turn) and "escalation" in self._flows:
                await self._flows["escalation"].start(turn)
            return
        await self._start(turn, flow)

    async def _start(self, turn: Turn, flow: Flow) -> None:
        turn.state.fallbacks = 0
        turn.state.last_intent = turn.intent
        await flow.start(turn)
