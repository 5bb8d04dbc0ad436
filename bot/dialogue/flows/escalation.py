"""Hand the conversation to a person: a ticket in the right queue, then handoff until resolved.

While a ticket is open the conversation is in handoff: the customer's messages go to the ticket
and the agent's replies come back through the customer's channel; the bot only answers
"cancel my request" and "where am I in the queue". When the ticket is resolved the bot asks for a
1-5 rating and stores it on the ticket.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from bot.dialogue.messages import Button
from bot.dialogue.turn import Turn
from routing.errors import RoutingError
from routing.events import TicketStatus, Urgency
from routing.notify import QueuePosition

QUEUE_OF_INTENT = {
    "emergency": "nurse-advice",
    "ask_advice": "nurse-advice",
    "book_appointment": "appointments",
    "reschedule_appointment": "appointments",
    "cancel_appointment": "appointments",
    "list_appointments": "appointments",
    "check_availability": "appointments",
    "prices": "billing",
    "insurance": "billing",
}
QUEUE_OF_FLOW = {"book": "appointments", "reschedule": "appointments", "cancel": "appointments"}
URGENCY_OF_INTENT = {"emergency": Urgency.EMERGENCY, "complain": Urgency.COMPLAINT}
CANCEL_REQUEST = re.compile(r"^\s*(/cancel_request|cancel (my|the|this) request)\b", re.I)
STATUS = frozenset({"ticket_status"})
RATE = "rate"


def position_text(say: Callable[..., str], standing: QueuePosition) -> str:
    """The customer's place in the queue and the wait, in words (`say(key, **fields)`)."""
    position = standing.position or 1
    if standing.estimated_wait is None:
        return say("handoff_position_unknown_wait", position=position)
    minutes = max(1, round(standing.estimated_wait / timedelta(minutes=1)))
    if minutes == 1:
        return say("handoff_position_one_minute", position=position)
    return say("handoff_position", position=position, minutes=minutes)


def wait_text(turn: Turn, standing: QueuePosition) -> str:
    if standing.status not in (TicketStatus.QUEUED, TicketStatus.OFFERED):
        return turn.text("handoff_with_agent")
    return position_text(turn.text, standing)


class EscalationFlow:
    name = "escalation"
    intents = frozenset({"request_human", "complain", "emergency", *STATUS})

    async def start(self, turn: Turn) -> None:
        if turn.intent in STATUS:
            await self._status(turn)
            return
        if turn.intent == "emergency":
            turn.say_text(turn.services.settings.dialogue.emergency_guidance)
        if turn.state.ticket_id is not None:
            await self._status(turn)
            return
        routing = turn.services.routing
        waiting = await routing.open_ticket_of(turn.message.conversation_id)
        if waiting is not None:
            # The conversation has an open ticket its state forgot: the turn that opened it did
            # not commit (a crash; this is its retry) or the live state was lost. Take it up
            # again rather than queue the customer twice.
            turn.state.end_flow()
            turn.state.ticket_id = waiting.id
            turn.say("handoff_opened", ticket=waiting.id)
            return
        queue = QUEUE_OF_INTENT.get(turn.intent) or QUEUE_OF_FLOW.get(turn.state.flow or "")
        queue = queue or QUEUE_OF_INTENT.get(turn.state.last_intent or "", "general")
        summary = self._summary(turn)
        ticket = await routing.open_ticket(
            customer_id=turn.customer.id,
            queue=queue,
            tier=turn.customer.tier,
            channel=turn.message.channel,
            urgency=URGENCY_OF_INTENT.get(turn.intent, Urgency.NORMAL),
            conversation_id=turn.message.conversation_id,
            reason=summary,
            intent=turn.intent,
            confidence=turn.confidence,
        )
        if turn.state.slots:
            await routing.note(ticket.id, "bot", f"collected so far: {turn.state.slots}")
        turn.state.end_flow()
        turn.state.ticket_id = ticket.id
        # Where it stands in the queue follows as routing's "queued" notice (see notices.py).
        turn.say("handoff_opened", ticket=ticket.id)

    async def resume(self, turn: Turn) -> bool:
        return False

    def _summary(self, turn: Turn) -> str:
        doing = turn.state.flow or turn.state.last_intent or "chatting"
        said = turn.message.text.strip().replace("\n", " ")
        return f"{turn.intent} while {doing}: {said[:160]}"

    async def _status(self, turn: Turn) -> None:
        if turn.state.ticket_id is None:
            turn.say("handoff_none")
            return
        standing = await turn.services.routing.position(turn.state.ticket_id)
        turn.say("handoff_status", ticket=turn.state.ticket_id, wait=wait_text(turn, standing))


class HandoffFlow:
    """Owns the conversation while its ticket is open."""

    name = "handoff"
    intents: frozenset[str] = frozenset()

    async def start(self, turn: Turn) -> None:
        return None

    async def resume(self, turn: Turn) -> bool:
        ticket_id = turn.state.ticket_id
        if ticket_id is None:
            return False
        routing = turn.services.routing
        ticket = await routing.ticket(ticket_id)
        if not ticket.is_open:  # resolved or abandoned while we were away
            turn.state.ticket_id = None
            return False
        if CANCEL_REQUEST.match(turn.message.text):
            try:
                await routing.abandon(ticket_id, "customer_cancelled")
            except RoutingError:
                turn.say("handoff_cannot_cancel")
                return True
            turn.state.ticket_id = None
            turn.say("handoff_cancelled")
            return True
        if turn.intent in STATUS:
            standing = await routing.position(ticket_id)
            turn.say("handoff_status", ticket=ticket_id, wait=wait_text(turn, standing))
            return True
        if turn.intent == "emergency":
            turn.say_text(turn.services.settings.dialogue.emergency_guidance)
        await routing.customer_message(
            ticket_id, turn.message.text, message_id=turn.message.message_id
        )
        if ticket.status in (TicketStatus.QUEUED, TicketStatus.OFFERED):
            standing = await routing.position(ticket_id)
            turn.say("handoff_passed_on_waiting", wait=wait_text(turn, standing))
        return True


def rating_buttons() -> tuple[Button, ...]:
    return tuple(Button("★" * n, f'/{RATE}{{"score": {n}}}') for n in range(1, 6))


class FeedbackFlow:
    """After a resolved ticket: the 1-5 rating, stored on the ticket."""

    name = "feedback"
    intents: frozenset[str] = frozenset({RATE})

    async def start(self, turn: Turn) -> None:
        if not await self.resume(turn):
            turn.say("thanks")

    async def resume(self, turn: Turn) -> bool:
        ticket_id = turn.state.awaiting_rating_ticket
        score = turn.entity("score")
        if ticket_id is None or turn.intent != RATE:
            return False
        if not isinstance(score, int) or not 1 <= score <= 5:
            turn.say("rating_ask", buttons=rating_buttons())
            return True
        await turn.services.routing.rate(ticket_id, score)
        turn.state.awaiting_rating_ticket = None
        turn.say("rating_thanks")
        return True
