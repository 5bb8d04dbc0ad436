"""Assembling the dialogue: its live layer (Redis or memory), flows, knowledge base and routing.

Part of the composition root with bot/app.py, bot/routing_setup.py and bot/nlu_backend.py:
these are the only modules that choose adapters.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bot.config import Settings
from bot.dialogue.admission import TurnSlots
from bot.dialogue.availability import SlotFinder
from bot.dialogue.engine import DialogueEngine
from bot.dialogue.flows import Flow
from bot.dialogue.flows.advice import AdviceFlow
from bot.dialogue.flows.basics import BasicsFlow
from bot.dialogue.flows.booking import BookingFlow
from bot.dialogue.flows.escalation import EscalationFlow, FeedbackFlow, HandoffFlow
from bot.dialogue.flows.my_appointments import CancelFlow, ListAppointmentsFlow, RescheduleFlow
from bot.dialogue.flows.verification import VerificationFlow
from bot.dialogue.gate import ConversationGate, LocalGate
from bot.dialogue.handled import forget_handled_forever
from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue.live_redis import RedisConversationGate
from bot.dialogue.lock import ConversationLock, MemoryConversationLock, RedisConversationLock
from bot.dialogue.notices import DialogueNotifier
from bot.dialogue.outbox import ChannelOutbound, MemoryOutbox, RedisOutbox
from bot.dialogue.ports import Interpreter
from bot.dialogue.reminders import ReminderJob
from bot.dialogue.router import Router
from bot.dialogue.services import DialogueServices
from bot.dialogue.state import ConversationStore, MemoryConversationStore
from bot.dialogue.state_redis import RedisConversationStore
from bot.dialogue.templates import Templates
from bot.dialogue.turned_away import RedisTurnedAway
from bot.resources import open_crm, open_redis
from bot.routing_setup import open_routing, position_updates, sla_monitor
from crm_store.clock import Clock, system_clock
from crm_store.store import CrmStore


@dataclass(frozen=True)
class LiveLayer:
    states: ConversationStore
    locks: ConversationLock
    outbound: ChannelOutbound
    gate: ConversationGate  # a turn's lock, state and outbox together


def live_layer(settings: Settings, redis: aioredis.Redis | None) -> LiveLayer:
    ttl = settings.dialogue.state_ttl.total_seconds()
    if redis is None:
        states: ConversationStore = MemoryConversationStore(ttl)
        locks = MemoryConversationLock()
        outbox = MemoryOutbox()
        return LiveLayer(states, locks, ChannelOutbound(outbox), LocalGate(locks, states, outbox))
    lock = RedisConversationLock(redis)
    return LiveLayer(
        RedisConversationStore(redis, ttl),
        lock,
        ChannelOutbound(RedisOutbox(redis)),
        RedisConversationGate(redis, lock, ttl),
    )


def flows() -> list[Flow]:
    return [
        HandoffFlow(),
        FeedbackFlow(),
        BasicsFlow(),
        VerificationFlow(),
        BookingFlow(),
        ListAppointmentsFlow(),
        CancelFlow(),
        RescheduleFlow(),
        AdviceFlow(),
        EscalationFlow(),
    ]


def load_knowledge(settings: Settings) -> KnowledgeBase:
    return KnowledgeBase.load(
        Path(settings.knowledge_base.folder), [queue.key for queue in settings.queues]
    )


def templates_of(settings: Settings) -> Templates:
    return Templates.load(Path(settings.dialogue.templates))


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@dataclass
class Dialogue:
    """Everything a running bot holds: the engine and the parts channels and the desk use."""

    engine: DialogueEngine
    store: CrmStore
    routing: Any
    live: LiveLayer


@asynccontextmanager
async def open_dialogue(
    settings: Settings,
    interpreter: Interpreter,
    *,
    store: CrmStore | None = None,
    clock: Clock = system_clock,
    knowledge: KnowledgeBase | None = None,
    background: bool = False,
) -> AsyncIterator[Dialogue]:
    """Open (or reuse) the store, Redis when configured, routing, and build the engine.

    With `background`, routing's housekeeping (offer timeouts, pushing waiting tickets,
    rebuilding a lost live layer), the SLA monitor (warnings, breaches, escalations), the
    reminder job, the queue-position updates and the forgetting of day-old message ids run as
    tasks until the block ends.
    """
    async with AsyncExitStack() as stack:
        if store is None:
            store = await stack.enter_async_context(open_crm(settings, clock=clock))
        redis = None
        if settings.stores.redis_url:
            redis = await stack.enter_async_context(open_redis(settings.stores.redis_url))
        live = live_layer(settings, redis)
        templates = templates_of(settings)
        notifier = DialogueNotifier(store, live.outbound, templates, live.gate)
        routing = await stack.enter_async_context(
            open_routing(settings, store, notifier=notifier, clock=clock)
        )
        await routing.start()
        services = DialogueServices(
            settings=settings,
            store=store,
            interpreter=interpreter,
            templates=templates,
            clock=clock,
            slots=SlotFinder.from_settings(settings, store.appointments, clock),
            knowledge=knowledge or load_knowledge(settings),
            routing=routing,
        )
        router = Router(flows(), fallback_threshold=settings.nlu.fallback_threshold)
        turned_away = None if redis is None else RedisTurnedAway(redis)  # shared by instances
        slots = TurnSlots(settings.server.max_turns, settings.server.turn_wait, turned_away)
        engine = DialogueEngine(services, router, live.gate, live.outbound, slots)
        if background:
            reminders = ReminderJob(
                store, live.outbound, templates, before=settings.booking.reminder_before
            )
            monitor = sla_monitor(settings, routing, clock)
            updates = position_updates(settings, routing, clock)
            jobs = (
                routing.run(),
                monitor.run(),
                reminders.run_forever(),
                updates.run(),
                forget_handled_forever(store),
            )
            for job in jobs:
                stack.push_async_callback(_stop, asyncio.create_task(job))
        yield Dialogue(engine, store, routing, live)
