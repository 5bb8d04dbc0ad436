"""The web chat's rate limit across two instances sharing one Redis: a visitor who reconnects and
lands on the other instance (or keeps a tab on each) still has one bucket.

Each instance is a whole bot (its dialogue with Redis state, its web chat channel, its own Redis
client) over one CRM store, as two `frontdesk run` processes behind a load balancer would be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest

from bot.config_loader import load_settings
from crm_store.store import CrmStore
from tests.dialogue_support import ROOT
from tests.integration.test_webchat import chat_settings
from tests.integration.test_webchat_fanout import Server, start_server

pytestmark = pytest.mark.redis
LIMIT = 3


@pytest.fixture
async def instances(store: CrmStore, redis_url: str) -> AsyncIterator[tuple[Server, ...]]:
    settings = load_settings(
        ROOT / "config.yml",
        {"FRONTDESK_DATABASE_URL": "sqlite+aiosqlite://", "FRONTDESK_REDIS_URL": redis_url},
    )
    chat = chat_settings(rate_limit_messages=LIMIT, rate_limit_period=timedelta(hours=1))
    async with AsyncExitStack() as stack:
        yield tuple([await start_server(stack, settings, store, redis_url, chat) for _ in "12"])


async def test_reconnecting_to_another_instance_does_not_refill_the_bucket(
    instances: tuple[Server, ...],
) -> None:
    one, two = instances
    first = await one.socket()
    for i in range(LIMIT - 1):
        assert (await first.say(f"rate-a-00000{i}", "thanks"))[-1]["type"] == "ack"
    await first.ws.close()

    again = await two.socket()  # the widget reconnects; the balancer picks the other instance
    assert (await again.say("rate-b-000000", "thanks"))[-1]["type"] == "ack"
    (refused,) = await again.say("rate-b-000001", "thanks")
    assert refused["code"] == "rate_limited"

    tab = await one.socket()  # a tab on each instance: still one bucket
    (refused,) = await tab.say("rate-c-000000", "thanks")
    assert refused["code"] == "rate_limited"
