"""Routing wired from Settings: queues, priority, SLA deadlines, and the live layer to use.

With `stores.redis_url` set, the live layer and the desk events are in Redis (any number of
processes); without it, in this process's memory. bot/app.py and the CLI call `open_routing`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from bot.config import Settings, SlaPolicySettings
from bot.resources import open_redis
from crm_store.clock import Clock, system_clock
from crm_store.store import CrmStore
from crm_store.tiers import Tier
from routing.calendar import BusinessCalendar, CalendarError
from routing.desk_bus import DeskBus, MemoryDeskBus
from routing.desk_bus_redis import RedisDeskBus
from routing.dispatch import Dispatcher
from routing.dispatch_memory import MemoryDispatcher
from routing.dispatch_redis import RedisDispatcher
from routing.escalation import AlertLevel, EscalationKind, EscalationRule
from routing.events import Urgency
from routing.notify import CustomerNotifier
from routing.parts import RoutingOptions
from routing.position_updates import (
    MemoryUpdateClaims,
    PositionUpdates,
    RedisUpdateClaims,
    UpdateClaims,
)
from routing.priority import FirstResponseDue, PriorityPolicy
from routing.queues import QueueSpec
from routing.redis_keys import RedisKeys
from routing.service import RoutingService
from routing.sla import SlaTargetKind, SlaTargets
from routing.sla_monitor import SlaMonitor, SlaPolicy
from routing.ticket_store import SqlTicketStore


def queue_specs(settings: Settings) -> list[QueueSpec]:
    return [
        QueueSpec(q.key, frozenset(q.skills), q.sla_policy, q.overflow, q.name)
        for q in settings.queues
    ]


def priority_policy(settings: Settings) -> PriorityPolicy:
    routing = settings.routing
    return PriorityPolicy(
        tier_points=dict(routing.tier_points),
        urgency_points={Urgency(k): v for k, v in routing.urgency_points.items()},
        ageing_per_minute=routing.ageing_per_minute,
        sla_pressure_per_minute=routing.sla_pressure_per_minute,
    )


def routing_options(settings: Settings) -> RoutingOptions:
    routing = settings.routing
    return RoutingOptions(
        offer_timeout=routing.offer_timeout,
        presence_ttl=routing.presence_ttl,
        push=routing.push_offers,
        default_handle_time=routing.default_handle_time,
    )


class FirstResponseDeadlines:
    """When a new ticket's first response is due: its SLA target on its queue's calendar."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._calendars = {
            q.key: BusinessCalendar.from_settings(settings.calendars[q.calendar])
            for q in settings.queues
        }

    def __call__(
        self, *, queue: str, sla_policy: str, tier: Tier, urgency: Urgency, created_at: datetime
    ) -> datetime | None:
        policy = self._settings.sla_policies.get(sla_policy)
        calendar = self._calendars.get(queue)
        if policy is None or calendar is None:
            return None
        try:
            return calendar.add_business_time(created_at, policy.target_for(tier).first_response)
        except CalendarError:  # a calendar that never opens: no deadline to press on
            return None


def first_response_due(settings: Settings) -> FirstResponseDue:
    return FirstResponseDeadlines(settings)


def queue_calendars(settings: Settings) -> dict[str, BusinessCalendar]:
    """Each queue's business calendar, by queue key."""
    return {
        q.key: BusinessCalendar.from_settings(settings.calendars[q.calendar])
        for q in settings.queues
    }


def sla_policy(policy: SlaPolicySettings) -> SlaPolicy:
    """One configured SLA policy: targets for every tier, escalation rules, warning share."""
    rules = tuple(
        EscalationRule(
            AlertLevel(rule.on),
            EscalationKind(rule.action),
            None if rule.target is None else SlaTargetKind(rule.target),
        )
        for rule in policy.escalations
    )
    targets = {tier: SlaTargets.from_settings(policy.target_for(tier)) for tier in Tier}
    return SlaPolicy(targets, rules, policy.warning_share)


def sla_monitor(settings: Settings, service: RoutingService, clock: Clock) -> SlaMonitor:
    """The SLA monitor over the configured queues' calendars and SLA policies."""
    policies = {name: sla_policy(policy) for name, policy in settings.sla_policies.items()}
    return SlaMonitor(service, queue_calendars(settings), policies, clock=clock)


def position_updates(settings: Settings, service: RoutingService, clock: Clock) -> PositionUpdates:
    """The queue-position update job, sharing the live layer (claims in Redis or memory)."""
    dispatcher = service.dispatcher
    claims: UpdateClaims = (
        RedisUpdateClaims(dispatcher.client, dispatcher.keys)
        if isinstance(dispatcher, RedisDispatcher)
        else MemoryUpdateClaims(clock)
    )
    return PositionUpdates(service, claims, settings.routing.position_updates, clock)


@asynccontextmanager
async def open_routing(
    settings: Settings,
    store: CrmStore,
    *,
    notifier: CustomerNotifier | None = None,
    clock: Clock = system_clock,
    keys: RedisKeys | None = None,
) -> AsyncIterator[RoutingService]:
    """The routing service on the configured live layer (Redis, or this process's memory)."""
    redis_url = settings.stores.redis_url
    if redis_url is None:
        yield _service(settings, store, MemoryDispatcher(), MemoryDeskBus(), notifier, clock)
        return
    async with open_redis(redis_url) as client:
        yield _service(
            settings,
            store,
            RedisDispatcher(client, keys),
            RedisDeskBus(client, keys),
            notifier,
            clock,
        )


def _service(
    settings: Settings,
    store: CrmStore,
    dispatcher: Dispatcher,
    bus: DeskBus,
    notifier: CustomerNotifier | None,
    clock: Clock,
) -> RoutingService:
    return RoutingService(
        SqlTicketStore(store.database),
        dispatcher,
        queue_specs(settings),
        bus=bus,
        notifier=notifier,
        policy=priority_policy(settings),
        first_response_due=first_response_due(settings),
        options=routing_options(settings),
        clock=clock,
    )
