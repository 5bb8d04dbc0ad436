"""The phone line's call store, one suite over both adapters: this process's memory and a real
Redis (keys under fd:voice:, all with the call TTL). "Two processes" are two store objects: the
same one in memory, two clients of one Redis."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from bot.channels.voice import redis_keys
from bot.channels.voice.calls import CALL_TTL_SECONDS, CallState, CallStore, MemoryCallStore
from bot.channels.voice.calls_redis import RedisCallStore
from bot.dialogue.messages import Button, Link, Reply
from crm_store.enums import Channel
from tests.contract.routing_fixture import (  # noqa: F401
    Clients,
    clients_fixture,
    live_url_fixture,
)

FRESH = CallState("CA1", Channel.PHONE, "+447700900001", "+447700900001")
FULL = CallState(
    "CA2",
    Channel.REST,
    "anonymous:CA2",
    None,
    step=3,
    prompt=(
        Reply("Which time?", buttons=(Button("Monday 10:00", '/choose{"slot": 1}'),)),
        Reply("Or", quick_replies=(Button("No", "/deny"),), links=(Link("Map", "https://m/x"),)),
        Reply("Custom", custom={"request_contact": "Share"}),
    ),
    silences=2,
    hold_since=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
    callback_requested=True,
    status_sequence=4,
    final_status="completed",
)


def stores(clients: Clients, ttl: float = CALL_TTL_SECONDS) -> list[CallStore]:
    """Two processes' views of the calls."""
    if clients[0] is None:
        memory = MemoryCallStore(ttl_seconds=ttl)
        return [memory, memory]
    return [RedisCallStore(client, ttl_seconds=ttl) for client in clients if client]


async def test_a_call_starts_fresh_and_keeps_its_changes(
    clients: Clients,
) -> None:
    one, two = stores(clients)
    assert await one.load("CA1") is None
    before, after = await one.update(FRESH, lambda s: replace(s, step=s.step + 1))
    assert (before, after) == (FRESH, replace(FRESH, step=1))
    assert await two.load("CA1") == after
    before, after = await two.update(FRESH, lambda s: replace(s, silences=s.silences + 1))
    assert (before.step, after.step, after.silences) == (1, 1, 1)  # `fresh` only when missing
    assert await one.load("CA1") == replace(FRESH, step=1, silences=1)


async def test_every_field_survives_the_trip(clients: Clients) -> None:
    one, two = stores(clients)
    await one.update(FULL, lambda s: s)
    assert await two.load("CA2") == FULL
    assert (await two.load("CA2") or FRESH).conversation_id == "rest:anonymous:CA2"


async def test_concurrent_changes_from_two_processes_are_all_applied(
    clients: Clients,
) -> None:
    one, two = stores(clients)
    runs = 40

    async def bump(store: CallStore) -> tuple[CallState, CallState]:
        return await store.update(FRESH, lambda s: replace(s, step=s.step + 1))

    results = await asyncio.gather(*(bump(one if i % 2 else two) for i in range(runs)))
    final = await one.load("CA1")
    assert final is not None and final.step == runs  # no change lost to another
    assert sorted(after.step for _, after in results) == list(range(1, runs + 1))
    assert all(after.step == before.step + 1 for before, after in results)


async def test_a_change_is_acted_on_once_however_many_processes_race(
    clients: Clients,
) -> None:
    """The status callback's pattern: only the update that set final_status sees it unset."""
    one, two = stores(clients)

    def end(state: CallState) -> CallState:
        return state if state.final_status else replace(state, final_status="completed")

    results = await asyncio.gather(*(s.update(FRESH, end) for s in (one, two) * 5))
    firsts = [1 for before, after in results if before.final_status is None and after.final_status]
    assert len(firsts) == 1


async def test_answers_are_remembered_per_idempotency_key(
    clients: Clients,
) -> None:
    one, two = stores(clients)
    assert await two.answer_for("token-1") is None
    await one.remember_answer("token-1", "<Response><Say>Hello</Say></Response>")
    assert await two.answer_for("token-1") == "<Response><Say>Hello</Say></Response>"
    assert await two.answer_for("token-2") is None


async def test_calls_and_answers_expire(clients: Clients) -> None:
    one, two = stores(clients, ttl=0.2)
    await one.update(FRESH, lambda s: s)
    await one.remember_answer("token-1", "<Response/>")
    await asyncio.sleep(0.4)
    assert await two.load("CA1") is None
    assert await two.answer_for("token-1") is None


async def test_every_redis_key_has_the_call_ttl(live_url: str | None, clients: Clients) -> None:
    one, _ = stores(clients)
    await one.update(FRESH, lambda s: s)
    await one.remember_answer("token-1", "<Response/>")
    assert await one.load("CA1") == FRESH
    client = clients[0]
    if client is None:
        return
    found = sorted([key async for key in client.scan_iter(match=f"{redis_keys.PREFIX}*")])
    assert found == [b"fd:voice:answer:token-1", b"fd:voice:call:CA1"]
    for key in found:
        left = await client.pttl(key)
        assert CALL_TTL_SECONDS * 1000 - 60_000 < left <= CALL_TTL_SECONDS * 1000, key
