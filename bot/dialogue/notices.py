"""Routing's notices to a customer, in the bot's words, through the one outbound port."""

from __future__ import annotations

import logging

from bot.dialogue.flows.escalation import position_text, rating_buttons
from bot.dialogue.gate import ConversationGate
from bot.dialogue.messages import Reply
from bot.dialogue.outbox import ChannelOutbound
from bot.dialogue.templates import Templates
from crm_store.customers import NewInteraction
from crm_store.enums import Channel, Direction
from crm_store.errors import NotFound
from crm_store.store import CrmStore
from routing.events import TicketStatus
from routing.notify import CustomerNotice, NoticeKind

log = logging.getLogger(__name__)


class DialogueNotifier:
    def __init__(
        self,
        store: CrmStore,
        outbound: ChannelOutbound,
        templates: Templates,
        gate: ConversationGate,
    ) -> None:
        self._store = store
        self._outbound = outbound
        self._templates = templates
        self._gate = gate

    async def notify(self, notice: CustomerNotice) -> None:
        if notice.conversation_id is None or ":" not in notice.conversation_id:
            return
        channel_name, _, recipient = notice.conversation_id.partition(":")
        channel = Channel(channel_name)
        if notice.kind is NoticeKind.RESOLVED:
            await self._await_rating(notice.conversation_id, notice.ticket_id)
        replies = await self._render(notice)
        if not replies:
            return
        await self._outbound.send(channel, recipient, replies)
        await self._store.customers.record_interactions(
            NewInteraction(
                notice.customer_id,
                channel,
                Direction.OUTBOUND,
                reply.text,
                conversation_id=notice.conversation_id,
            )
            for reply in replies
        )

    async def _render(self, notice: CustomerNotice) -> list[Reply]:
        language = await self._language(notice.customer_id)

        def text(key: str, **fields: object) -> str:
            return self._templates.render(language, key, **fields)

        if notice.kind is NoticeKind.QUEUED and notice.position is not None:
            standing = notice.position
            if standing.status not in (TicketStatus.QUEUED, TicketStatus.OFFERED):
                return []
            return [Reply(position_text(text, standing))]
        agent = await self._agent_name(notice.agent_id)
        if notice.kind is NoticeKind.AGENT_JOINED:
            return [Reply(text("agent_joined", agent=agent))]
        if notice.kind is NoticeKind.AGENT_MESSAGE and notice.text:
            said = text("agent_says", agent=agent, text=notice.text)
            # marked as the agent's, so the web chat can show it as theirs
            return [Reply(said, custom={"author": "agent", "agent": agent})]
        if notice.kind is NoticeKind.RESOLVED:
            return [
                Reply(text("ticket_resolved", ticket=notice.ticket_id), buttons=rating_buttons())
            ]
        return []

    async def _language(self, customer_id: int) -> str:
        try:
            return (await self._store.customers.get(customer_id)).language
        except NotFound:  # erased meanwhile: the default language
            return "en"

    async def _agent_name(self, agent_id: int | None) -> str:
        if agent_id is None:
            return "Our team"
        agent = await self._store.agents.get(agent_id)
        return agent.display_name if agent else "Our team"

    async def _await_rating(self, conversation_id: str, ticket_id: int) -> None:
        async with self._gate.enter(conversation_id) as held:
            state = held.state
            if state.ticket_id == ticket_id:
                state.ticket_id = None
            state.awaiting_rating_ticket = ticket_id
            held.keep()
