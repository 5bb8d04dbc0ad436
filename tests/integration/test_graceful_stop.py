"""`frontdesk run` stops gracefully on SIGTERM (docker stop, a rolling deploy): it takes no new
connection, tells the open chat sockets it is going away (the widgets reconnect elsewhere), ends
the desk's live streams, finishes the request in flight and exits 0, without waiting out its
grace period for the long-lived connections.

The request is held in flight by the test itself: it takes the conversation's lock in Redis
first, so the server's turn waits for it, and lets it go only after the signal.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from bot.bench_e2e import wait_until_up
from bot.dialogue.lock import RedisConversationLock
from tests.fakes.twilio_peer import TwilioPeer
from tests.integration.servers import (
    DeskAgent,
    create_agents,
    inbound_texts,
    phone_line_config,
    running_servers,
    server_env,
)

pytestmark = pytest.mark.redis
ORIGIN = "http://localhost:8080"  # config.yml's channels.webchat.allowed_origins
PUBLIC = "https://clinic.example.test"  # FRONTDESK_PUBLIC_URL: what the provider signs
TOKEN = "graceful-stop-auth-token"


async def refused(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{url}/healthz"):
            return False
    except aiohttp.ClientConnectionError:
        return True


async def test_sigterm_finishes_the_request_in_flight_and_exits_0(
    postgres_url: str, redis_url: str, nlu_model: str, tmp_path: Path
) -> None:
    sender = f"stopping-{uuid.uuid4().hex[:8]}"
    env = server_env(postgres_url, redis_url, nlu_model)
    (username,) = await asyncio.to_thread(create_agents, env, 1)
    redis = aioredis.Redis.from_url(redis_url)
    lock = RedisConversationLock(redis)
    timeout = aiohttp.ClientTimeout(total=30)
    with running_servers(env, tmp_path, 1) as (server,):
        await wait_until_up(server.url, within=90)
        agent = DeskAgent(username, server.url, [], timeout)
        await agent.sign_in()
        live = await agent.session.get(f"{server.url}/desk/api/events")  # the desk's stream
        assert live.status == 200
        async with aiohttp.ClientSession(timeout=timeout) as session:
            chat = await session.ws_connect(f"{server.url}/webchat/ws", headers={"Origin": ORIGIN})
            await chat.send_json({"type": "hello"})
            assert json.loads((await chat.receive(timeout=10)).data)["type"] == "welcome"
            async with lock.hold(f"rest:{sender}"):
                body = {"sender": sender, "message": "hello there"}
                in_flight = asyncio.create_task(
                    session.post(f"{server.url}/webhooks/rest/webhook", json=body)
                )
                await asyncio.sleep(1.0)  # the turn is waiting for the lock
                assert not in_flight.done()
                server.process.send_signal(signal.SIGTERM)
                closed = await chat.receive(timeout=10)
                assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, 1001)
                assert await refused(server.url)  # a balancer moves on to another instance
                assert server.process.poll() is None  # still finishing what it took
            released = time.monotonic()
            response = await in_flight  # the lock is free: the turn goes on
            assert response.status == 200
            replies = await response.json()
        await asyncio.wait_for(live.read(), 10)  # the stream ended
        assert await asyncio.to_thread(server.process.wait, 20) == 0
        # well inside the 20 s grace: no socket or stream held the stop up
        assert time.monotonic() - released < 8
        await agent.close()
    await redis.aclose()
    assert replies and replies[0]["recipient_id"] == sender
    assert await inbound_texts(postgres_url, sender) == ["hello there"]
    log = (tmp_path / f"server-{server.port}.log").read_text()
    assert "SIGTERM: stopping" in log and "stopped" in log, log[-2000:]


@dataclass
class Balancer:
    """In front of the instances, for the fake Twilio: every webhook goes to `url` (the
    instance the balancer picks), as nginx would send it."""

    session: aiohttp.ClientSession
    url: str

    async def post(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.session.post(self.url + path, **kwargs)


async def test_sigterm_mid_call_answers_the_webhook_in_flight_and_the_call_goes_on_elsewhere(
    postgres_url: str, redis_url: str, nlu_model: str, tmp_path: Path
) -> None:
    """A rolling deploy during a phone call: the stopping instance answers the webhook it took,
    then the call's next webhook reaches the other instance and the booking carries on there."""
    caller = f"+4477009{uuid.uuid4().int % 100000:05d}"
    env = {
        **server_env(postgres_url, redis_url, nlu_model),
        "FRONTDESK_PUBLIC_URL": PUBLIC,
        "TWILIO_AUTH_TOKEN": TOKEN,
    }
    redis = aioredis.Redis.from_url(redis_url)
    lock = RedisConversationLock(redis)
    config = phone_line_config(tmp_path)
    with running_servers(env, tmp_path, 2, config) as (stopping, staying):
        for server in (stopping, staying):
            await wait_until_up(server.url, within=90)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            balancer = Balancer(session, stopping.url)
            call = TwilioPeer(balancer, public_url=PUBLIC, auth_token=TOKEN).call(caller)  # type: ignore[arg-type]
            assert "Lindenhof Clinic" in (await call.start()).text
            async with lock.hold(f"phone:{caller}"):
                in_flight = asyncio.create_task(call.say("I'd like to book a cleaning, please."))
                await asyncio.sleep(1.0)  # the turn is waiting for the lock
                assert not in_flight.done()
                stopping.process.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.5)
                assert await refused(stopping.url)
                assert stopping.process.poll() is None  # still finishing the webhook it took
            heard = await in_flight
            assert "These times are free for a Dental cleaning" in heard.text
            balancer.url = staying.url  # the balancer moves on
            heard = await call.press("1")  # the slot the stopping instance offered
            assert "May I have your full name for the booking?" in heard.text  # a new caller
            heard = await call.say("Sam Taylor.")
            assert "Shall I book a dental cleaning with" in heard.text
            heard = await call.say("Yes.")
            assert "is booked for" in heard.text
        assert await asyncio.to_thread(stopping.process.wait, 20) == 0
    await redis.aclose()
    for server in (stopping, staying):
        log = (tmp_path / f"server-{server.port}.log").read_text()
        assert "Traceback" not in log, log[-3000:]
