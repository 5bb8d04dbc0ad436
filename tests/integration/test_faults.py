"""Faults under load: an instance killed (-9), Redis flushed and restarted, PostgreSQL restarted.

Each scenario runs booking-style REST conversations from customers who retry a failed request
with the same `metadata.message_id` (tests/integration/faults.py), breaks something midway (at
a share of the messages answered, not at a time), and then reads the record: every message sent
must be stored exactly once, in order, and answered with a 200 that is not an apology; every
refusal on the way must be a polite 503 JSON. Each prints one line: sent / stored / answered and
what went wrong on the way (`pytest -s`).

The faults are made to land mid-turn: Redis is frozen (SIGSTOP) for a second before the instance
is killed, and before Redis itself is killed, so that turns are caught between their database
commit and their next Redis call, the window in which a retried message could be handled twice.

Every scenario runs on a PostgreSQL cluster and a redis-server of its own (faults_servers.py):
the shared Redis database is flushed by every other Redis test (a conversation's state and lock
vanish mid-turn) and the shared PostgreSQL runs out of connections when neighbours load it;
either would make a fault appear that this test did not cause.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.bench_e2e import wait_until_up
from tests.integration.faults import (
    BOOKING,
    ESCALATE,
    Customers,
    PatientAgent,
    Script,
    account,
    lock_keys,
    open_ticket_ids,
    probe,
    sla_dues,
)
from tests.integration.faults_servers import PrivatePostgres, PrivateRedis
from tests.integration.servers import (
    Server,
    inbound_by_sender,
    running_nginx,
    running_servers,
    server_env,
)
from tests.integration.test_several_instances import create_agents

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

TIMEOUT = aiohttp.ClientTimeout(total=60)
IN_FLIGHT = 30  # requests at once (each holds a connection of its instance's pool)
CHATTY: Script = [("hello", None), *BOOKING, ("thank you", None), ("goodbye", None)]


def run_id() -> str:
    return uuid.uuid4().hex[:6]


def session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=TIMEOUT, connector=aiohttp.TCPConnector(limit=0))


def alive(servers: list[Server]) -> list[int]:
    return [s.port for s in servers if s.process.poll() is None]


@dataclass
class Stack:
    postgres: PrivatePostgres
    redis: PrivateRedis
    env: dict[str, str]  # for `frontdesk run`
    agent: str  # a desk agent with every skill


@pytest.fixture
def stack(nlu_model: str, tmp_path: Path) -> Iterator[Stack]:
    """A private PostgreSQL (migrated, the clinic seeded, one agent) and a private Redis."""
    postgres, redis = PrivatePostgres(), PrivateRedis(tmp_path)
    try:
        postgres.init()
        postgres.start()
        redis.start()
        env = server_env(asyncio.run(postgres.create_database()), redis.url, nlu_model)
        [agent] = create_agents(env, 1)  # also seeds the clinic's services and practitioners
        yield Stack(postgres, redis, env, agent)
    finally:
        redis.kill()
        postgres.remove()


@pytest.fixture
def two_instances(stack: Stack, tmp_path: Path) -> Iterator[list[Server]]:
    with running_servers(stack.env, tmp_path, 2) as servers:
        yield servers


# -- 1. kill -9 of one instance under load -------------------------------------------------------

KILL_CONVERSATIONS = 60


@pytest.fixture
def three_behind_nginx(stack: Stack, tmp_path: Path) -> Iterator[tuple[list[Server], str]]:
    with (
        running_servers(stack.env, tmp_path, 3) as servers,
        running_nginx(tmp_path, [f"127.0.0.1:{s.port}" for s in servers]) as front,
    ):
        yield servers, front


async def test_kill_9_of_one_instance_loses_and_doubles_no_message(
    three_behind_nginx: tuple[list[Server], str], stack: Stack
) -> None:
    servers, front = three_behind_nginx
    doors = [front, *(s.url for s in servers)]
    run = run_id()
    async with session() as http:
        await asyncio.gather(*(wait_until_up(url, within=90) for url in doors))
        # nginx answers 502 for a request its instance died with; the client retries it
        customers = Customers(http, doors, in_flight=IN_FLIGHT, cut_off_ok=frozenset({502}))
        total = KILL_CONVERSATIONS * len(CHATTY)

        async def kill_midway() -> None:
            """The worst moment for the victim: Redis hangs for a second first, so its turns
            pile up on their next Redis call, some of them after the database commit."""
            await customers.reached(total * 2 // 5)
            stack.redis.freeze()
            await asyncio.sleep(1)
            servers[0].kill()
            stack.redis.thaw()

        await asyncio.gather(
            kill_midway(),
            *(customers.converse(f"kill-{run}-{i:02d}", CHATTY) for i in range(KILL_CONVERSATIONS)),
        )
    tally = customers.tally
    stored = await inbound_by_sender(stack.postgres.url, sorted(tally.sent))
    result = account("kill -9 of 1 of 3 instances", tally, stored)
    print(result.line())
    assert servers[0].process.returncode == -9
    assert alive(servers) == [s.port for s in servers[1:]]
    stuck = [await lock_keys(stack.redis.url, g.split()[0]) for g in tally.gave_up]
    assert tally.gave_up == [] and tally.impolite == [], (tally.gave_up, stuck, tally.impolite)
    assert tally.apologies == [], tally.apologies
    assert result.sent == total and result.answered == total
    assert (result.lost, result.doubles, result.misordered) == (0, 0, 0), result
    assert stored == tally.sent
    assert tally.wrong == [], tally.wrong[:5]  # every conversation carried on elsewhere


# -- 2. Redis flushed, then restarted, under load ------------------------------------------------

REDIS_CONVERSATIONS = 40
WAITING = 4  # tickets queued before the faults


async def test_redis_flushed_and_restarted_under_load_loses_nothing(
    two_instances: list[Server], stack: Stack
) -> None:
    servers, redis, agent_name = two_instances, stack.redis, stack.agent
    database_url = stack.postgres.url
    run = run_id()
    doors = [s.url for s in servers]
    async with session() as http:
        await asyncio.gather(*(wait_until_up(url, within=90) for url in doors))
        customers = Customers(http, doors, in_flight=IN_FLIGHT)
        waiting = [f"wait-{run}-{i}" for i in range(WAITING)]
        await asyncio.gather(*(customers.converse(s, [ESCALATE]) for s in waiting))
        queued = await open_ticket_ids(database_url, waiting)
        before = await sla_clocks(agent_name, doors[0], queued)
        scripts = {f"redis-{run}-{i:02d}": redis_script(i) for i in range(REDIS_CONVERSATIONS)}
        total = WAITING + sum(len(s) for s in scripts.values())
        faults = asyncio.create_task(break_redis(customers, redis, http, doors, total))
        await asyncio.gather(*(customers.converse(s, script) for s, script in scripts.items()))
        down_answers = await faults
        expected = await open_ticket_ids(database_url, [*waiting, *scripts])
        taken, after, desk_refusals = await pull_all(agent_name, doors, expected)
    tally = customers.tally
    stored = await inbound_by_sender(database_url, sorted(tally.sent))
    result = account("Redis FLUSHALL, then restarted empty", tally, stored)
    print(
        result.line(),
        f"{len(expected)} open tickets, {len(taken)} pulled after the faults "
        f"({desk_refusals} polite desk refusals on the way)",
    )
    assert down_answers == [(503, "")] * len(doors), down_answers  # polite, from each instance
    assert alive(servers) == [s.port for s in servers]
    assert tally.gave_up == [] and tally.impolite == [], (tally.gave_up, tally.impolite)
    assert tally.apologies == [], tally.apologies  # a failed turn is refused, not answered
    # the live layer was rebuilt from the record: every waiting ticket could be pulled, once
    assert len(queued) == WAITING and sorted(taken) == expected, (queued, expected, taken)
    assert desk_refusals == 0, "the desk refused (503) after Redis was back: stale connections"
    assert {t: after[t] for t in before} == before  # the SLA clocks did not move
    assert result.sent == total and result.answered == total
    assert (result.lost, result.doubles, result.misordered) == (0, 0, 0), result


def redis_script(index: int) -> Script:
    # the dialogue's state lives in Redis and may start over: only the first reply is checked
    tail: list[tuple[str, str | None]] = [(text, None) for text, _ in BOOKING[1:]]
    return [BOOKING[0], *tail, (ESCALATE[0], None) if index % 4 == 0 else ("thank you", None)]


async def break_redis(
    customers: Customers,
    redis: PrivateRedis,
    http: aiohttp.ClientSession,
    doors: list[str],
    total: int,
) -> list[tuple[int, str]]:
    """FLUSHALL at a quarter of the load; at a half, hung for a second, then kill -9; while it
    is down, one probe per instance; then the same port again, empty. Returns the probes'
    (status, impoliteness)."""
    await customers.reached(total // 4)
    await redis.flushall()
    await customers.reached(total // 2)
    redis.freeze()  # it hangs first (turns wait on it mid-way), then dies
    await asyncio.sleep(1)
    await redis.kill_now()
    answers = [await probe(http, url, f"probe-{uuid.uuid4().hex[:8]}") for url in doors]
    await asyncio.sleep(3)  # down for a while under load
    await redis.restart_later()
    return answers


async def sla_clocks(username: str, url: str, tickets: list[int]) -> dict[int, dict[str, Any]]:
    agent = PatientAgent(username, url, [], TIMEOUT)
    try:
        await agent.sign_in(available=False)  # looks, takes nothing
        views = [await agent.ask("GET", f"/desk/api/tickets/{t}") for t in tickets]
    finally:
        await agent.close()
    assert all(status == 200 for status, _ in views), views
    return {t: sla_dues(view) for t, (_, view) in zip(tickets, views, strict=True)}


async def pull_all(
    username: str, doors: list[str], expected: list[int]
) -> tuple[list[int], dict[int, dict[str, Any]], int]:
    """Sign in again (desk sessions lived in the lost Redis), take every ticket offered or
    pulled until all of `expected` were taken; note each one's SLA clocks and resolve it.
    Returns the tickets of `expected` taken, in order, the clocks, and the polite refusals."""
    agent = PatientAgent(username, doors[0], doors[1:], TIMEOUT)
    taken: list[int] = []
    clocks: dict[int, dict[str, Any]] = {}
    try:
        await agent.sign_in()
        for _ in range(300):
            if set(expected) <= set(taken):
                break
            for ticket_id in await take_some(agent):
                status, view = await agent.ask("GET", f"/desk/api/tickets/{ticket_id}")
                assert status == 200, view
                clocks[ticket_id] = sla_dues(view)
                resolve = f"/desk/api/tickets/{ticket_id}/resolve"
                assert (await agent.ask("POST", resolve, {"code": "resolved"}))[0] == 200
                taken.append(ticket_id)
            await asyncio.sleep(0.1)
    finally:
        await agent.close()
    return [t for t in taken if t in expected], clocks, agent.refused


async def take_some(agent: PatientAgent) -> list[int]:
    status, console = await agent.ask("GET", "/desk/api/console")
    assert status == 200, console
    took = []
    for offer in console["offers"]:
        ticket_id = offer["ticket"]["id"]
        status, _ = await agent.ask("POST", f"/desk/api/offers/{ticket_id}/accept")
        if status == 200:
            took.append(ticket_id)
    status, pulled = await agent.ask("POST", "/desk/api/next")
    if status == 200 and pulled["ticket"] is not None:
        took.append(pulled["ticket"]["id"])
    return took


# -- 3. PostgreSQL restarted under load ----------------------------------------------------------

PG_CONVERSATIONS = 40


async def test_postgres_restart_gets_polite_refusals_and_service_comes_back(
    two_instances: list[Server], stack: Stack
) -> None:
    servers, private_postgres = two_instances, stack.postgres
    run = run_id()
    doors = [s.url for s in servers]
    async with session() as http:
        await asyncio.gather(*(wait_until_up(url, within=90) for url in doors))
        customers = Customers(http, doors, in_flight=IN_FLIGHT)
        script: Script = [(text, None) for text, _ in CHATTY]
        total = PG_CONVERSATIONS * len(script)

        async def restart_midway() -> list[tuple[int, str]]:
            await customers.reached(total * 2 // 5)
            await asyncio.to_thread(private_postgres.stop)
            answers = [await probe(http, url, f"probe-{run}-{url[-5:]}") for url in doors]
            await asyncio.sleep(3)  # down for a while under load
            await asyncio.to_thread(private_postgres.start)
            return answers

        down_answers, *_ = await asyncio.gather(
            restart_midway(),
            *(customers.converse(f"pg-{run}-{i:02d}", script) for i in range(PG_CONVERSATIONS)),
        )
        # back by itself: a new customer is answered at once by every instance
        after = [await probe(http, url, f"after-{run}-{url[-5:]}") for url in doors]
        health = [await status_of(http, f"{url}/healthz") for url in doors]
    tally = customers.tally
    stored = await inbound_by_sender(private_postgres.url, sorted(tally.sent))
    result = account("PostgreSQL restarted (fast)", tally, stored)
    print(result.line())
    assert down_answers == [(503, "")] * len(doors), down_answers
    assert alive(servers) == [s.port for s in servers]
    assert after == [(200, "")] * len(doors) and health == [200] * len(doors)
    assert tally.gave_up == [] and tally.impolite == [], (tally.gave_up, tally.impolite)
    assert tally.apologies == [], tally.apologies  # a failed turn is refused, not answered
    assert result.sent == total and result.answered == total
    assert (result.lost, result.doubles, result.misordered) == (0, 0, 0), result


async def status_of(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as response:
        return response.status
