"""Status callbacks: the call's end goes into the contact history once, whatever the order.

The provider may send a callback twice, or late: each carries a SequenceNumber, and one not
newer than the newest seen changes nothing. The first final status (completed, busy, failed,
no-answer, canceled) is recorded with its duration; a caller who hangs up while their ticket is
still waiting for a person (and asked for no call-back) leaves the queue: the ticket is
abandoned with reason "caller_hung_up".
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.channels.host import ChannelHost
from bot.channels.voice.calls import CallState, CallStore
from bot.channels.voice.hold import has_call_back_request
from bot.channels.voice.webhook import Webhook, parse_timestamp
from crm_store.customers import NewInteraction
from crm_store.enums import Channel, Direction
from routing.errors import RoutingError
from routing.tickets import WAITING_FOR_AGENT

log = logging.getLogger(__name__)

FINAL = {
    "completed": "completed",
    "busy": "busy",
    "failed": "failed",
    "no-answer": "not answered",
    "canceled": "cancelled",
}
HUNG_UP = "caller_hung_up"


def call_summary(status: str, duration: int | None) -> str:
    words = FINAL.get(status, status)
    return f"Phone call {words}" if duration is None else f"Phone call {words}, {duration} s"


class CallLog:
    def __init__(self, host: ChannelHost, calls: CallStore) -> None:
        self._host = host
        self._calls = calls

    async def record(self, hook: Webhook, fresh: CallState) -> None:
        """Take one status callback; the call's end is acted on exactly once."""
        sequence, status = hook.sequence, hook.call_status

        def change(state: CallState) -> CallState:
            if sequence is not None and sequence <= state.status_sequence:
                return state  # a duplicate, or older than one already seen
            if sequence is not None:
                state = replace(state, status_sequence=sequence)
            if status in FINAL and state.final_status is None:
                state = replace(state, final_status=status)
            return state

        before, after = await self._calls.update(fresh, change)
        if before.final_status is None and after.final_status is not None:
            await self._ended(after, hook)

    async def _ended(self, state: CallState, hook: Webhook) -> None:
        host = self._host
        customer = await host.store.customers.find_by_identity(state.channel, state.sender_id)
        if customer is None:
            log.info("voice: call %s ended before the caller reached the assistant", state.call_sid)
        else:
            await host.store.customers.record_interactions(
                [
                    NewInteraction(
                        customer.id,
                        Channel.PHONE,
                        Direction.INBOUND,
                        call_summary(state.final_status or hook.call_status, hook.duration),
                        conversation_id=state.conversation_id,
                        occurred_at=parse_timestamp(hook.timestamp) or host.clock(),
                    )
                ]
            )
        ticket = await host.routing.open_ticket_of(state.conversation_id)
        if ticket is None or ticket.status not in WAITING_FOR_AGENT:
            return
        if state.callback_requested or await has_call_back_request(host, ticket.id):
            return
        try:
            await host.routing.abandon(ticket.id, HUNG_UP)
        except RoutingError as exc:  # taken by an agent a moment ago: it stays theirs
            log.info("voice: call %s: ticket %s kept: %s", state.call_sid, ticket.id, exc)
