"""Conversation state, lock, outbox and the gate that takes all three for a turn: one contract,
run on memory and on a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot import resources
from bot.dialogue.gate import LocalGate
from bot.dialogue.live_redis import RedisConversationGate
from bot.dialogue.lock import LockTimeout, MemoryConversationLock, RedisConversationLock
from bot.dialogue.messages import Reply
from bot.dialogue.outbox import MemoryOutbox, RedisOutbox
from bot.dialogue.state import ConversationState, MemoryConversationStore, StateConflict
from bot.dialogue.state_redis import RedisConversationStore


@dataclass
class Live:
    states: Any
    outbox: Any
    gate: Any
    gate_lock: Any  # the lock the gate takes
    lock_factory: Any  # (wait_seconds, ttl_seconds) -> lock
    client: aioredis.Redis | None


@pytest.fixture
def memory_live() -> Live:
    return Live(
        states := MemoryConversationStore(),
        outbox := MemoryOutbox(),
        LocalGate(lock := MemoryConversationLock(wait_seconds=2.0), states, outbox),
        lock,
        lambda wait, ttl: MemoryConversationLock(wait_seconds=wait),
        None,
    )


@pytest.fixture
async def redis_live(redis_url: str) -> AsyncIterator[Live]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield Live(
            RedisConversationStore(client),
            RedisOutbox(client),
            RedisConversationGate(client, lock := RedisConversationLock(client), 60.0),
            lock,
            lambda wait, ttl: RedisConversationLock(client, ttl_seconds=ttl, wait_seconds=wait),
            client,
        )
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def live(request: pytest.FixtureRequest) -> Live:
    result: Live = request.getfixturevalue(f"{request.param}_live")
    return result


async def test_state_round_trips_and_revisions_guard_lost_updates(live: Live) -> None:
    assert await live.states.load("web:anna") is None
    state = ConversationState("web:anna", customer_id=1, flow="book", slots={"service": "cleaning"})
    await live.states.save(state)
    assert state.revision == 1
    loaded = await live.states.load("web:anna")
    assert loaded == state
    stale = await live.states.load("web:anna")
    loaded.slots["time"] = "2026-11-24T15:00:00+00:00"
    await live.states.save(loaded)
    stale.flow = None
    with pytest.raises(StateConflict):
        await live.states.save(stale)
    assert (await live.states.load("web:anna")).slots["time"].startswith("2026-11-24")
    await live.states.delete("web:anna")
    assert await live.states.load("web:anna") is None


async def test_the_outbox_drains_in_order_and_takes_back_what_was_not_delivered(
    live: Live,
) -> None:
    await live.outbox.push("rest:ida", [Reply("one"), Reply("two")])
    drained = await live.outbox.drain("rest:ida")
    assert [r.text for r in drained] == ["one", "two"]
    assert await live.outbox.drain("rest:ida") == []
    await live.outbox.push("rest:ida", [Reply("three")])  # came while the turn ran
    await live.outbox.put_back("rest:ida", drained)
    assert [r.text for r in await live.outbox.drain("rest:ida")] == ["one", "two", "three"]


async def test_the_gate_loads_under_the_lock_and_saves_only_what_the_turn_kept(
    live: Live,
) -> None:
    await live.outbox.push("rest:ola", [Reply("from an agent")])
    async with live.gate.enter("rest:ola", drain=True) as held:
        assert held.state.revision == 0 and held.state.flow is None  # a fresh conversation
        assert [r.text for r in held.waiting] == ["from an agent"]
        held.state.flow = "book"
        held.keep()
    assert held.state.revision == 1
    saved = await live.states.load("rest:ola")
    assert saved.flow == "book" and saved.revision == 1
    assert await live.outbox.drain("rest:ola") == []  # taken by the turn
    await live.outbox.push("rest:ola", [Reply("later")])
    with pytest.raises(RuntimeError):
        async with live.gate.enter("rest:ola") as held:  # no drain: the outbox stays
            assert held.state.flow == "book" and held.waiting == []
            held.state.flow = "cancel"
            held.keep()
            raise RuntimeError("the turn failed")
    assert (await live.states.load("rest:ola")).flow == "book"  # a failed turn saves nothing
    with pytest.raises(StateConflict):
        async with live.gate.enter("rest:ola") as held:  # and the lock was released
            stale = await live.states.load("rest:ola")
            await live.states.save(stale)  # someone saved behind the lock's back
            held.keep()
    assert [r.text for r in await live.outbox.drain("rest:ola")] == ["later"]


async def test_the_gate_and_the_lock_are_one_lock(live: Live) -> None:
    lock = live.gate_lock
    order: list[str] = []

    async def turn() -> None:
        async with live.gate.enter("tg:7") as held:
            order.append("gate in")
            await asyncio.sleep(0.1)
            held.keep()
            order.append("gate out")

    async def notice() -> None:
        await asyncio.sleep(0.02)
        async with lock.hold("tg:7"):
            order.append("lock")

    await asyncio.gather(turn(), notice())
    assert order == ["gate in", "gate out", "lock"]


async def test_the_lock_runs_one_holder_at_a_time_in_arrival_order(live: Live) -> None:
    lock = live.lock_factory(5.0, 2.0)
    inside = 0
    peak = 0
    order: list[int] = []

    async def worker(n: int) -> None:
        nonlocal inside, peak
        # Arrive in the order of n, while others still hold it: 50 ms apart, so that a busy
        # machine's late wake-up (seen at 10 ms) does not change who arrived first.
        await asyncio.sleep(n * 0.05)
        async with lock.hold("tg:42"):
            inside += 1
            peak = max(peak, inside)
            order.append(n)
            await asyncio.sleep(0.08)
            inside -= 1

    await asyncio.gather(*(worker(n) for n in range(10)))
    assert peak == 1 and order == list(range(10))  # first come, first served
    # Other conversations are not blocked by this one.
    async with lock.hold("tg:42"):
        async with asyncio.timeout(1):
            async with lock.hold("tg:43"):
                pass


async def test_a_waiter_gives_up_with_lock_timeout(live: Live) -> None:
    lock = live.lock_factory(0.2, 2.0)
    async with lock.hold("web:x"):
        with pytest.raises(LockTimeout):
            async with lock.hold("web:x"):
                pass
    async with lock.hold("web:x"):  # released properly after the timeout
        pass


async def test_redis_lock_is_renewed_while_held_and_freed_if_the_holder_dies(
    redis_live: Live,
) -> None:
    live = redis_live
    assert live.client is not None
    lock = live.lock_factory(3.0, 0.3)
    async with lock.hold("web:slow"):
        await asyncio.sleep(0.8)  # longer than the TTL: renewal keeps it ours
        assert await live.client.get("fd:lock:web:slow") is not None
    # A holder that died: its key expires after the TTL and the next one gets in.
    await live.client.set("fd:lock:web:dead", "someone-else", px=300)
    async with asyncio.timeout(2):
        async with lock.hold("web:dead"):
            pass


# Redis busy for a while (a script that spins): it reads no command meanwhile, as when the
# server is frozen, and runs what it finds queued afterwards
_SPIN = """
local start = redis.call('TIME')
repeat
  local now = redis.call('TIME')
until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > tonumber(ARGV[1])
return 1
"""


@pytest.mark.parametrize("through", ["lock", "gate"])
async def test_a_lock_script_that_timed_out_here_but_ran_there_is_given_back(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, through: str
) -> None:
    """A hung Redis answers the turn's first script after our command timeout: the turn fails,
    but the script still runs when Redis comes back and takes the lock. The failed turn gives
    it back then, so the conversation's next message gets in at once, not after the lock's TTL
    (5 s here)."""
    monkeypatch.setattr(resources, "REDIS_COMMAND_TIMEOUT", 0.3)
    admin = aioredis.Redis.from_url(redis_url)
    async with resources.open_redis(redis_url) as client:
        lock = RedisConversationLock(client, ttl_seconds=5.0, wait_seconds=10.0)
        gate = RedisConversationGate(client, lock, 60.0)

        def turn() -> Any:
            return lock.hold("web:hung") if through == "lock" else gate.enter("web:hung")

        async with turn():  # the scripts are loaded before Redis hangs
            pass
        spin = asyncio.create_task(admin.eval(_SPIN, 0, 1_000_000))  # type: ignore[misc]
        await asyncio.sleep(0.05)
        with pytest.raises(RedisTimeoutError):
            async with turn():
                pytest.fail("entered on a hung Redis")
        await spin  # Redis is back, and has run the script that timed out: the lock is taken
        started = asyncio.get_running_loop().time()
        async with asyncio.timeout(6), turn():
            waited = asyncio.get_running_loop().time() - started
        assert waited < 2.0  # not the 5 s TTL
    await admin.aclose()
