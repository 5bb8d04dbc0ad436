"""TurnSlots: at most `limit` turns at once; the next waits its turn, first come first served,
for at most `wait` seconds, then is turned away (Overloaded) before any of its work is done."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from bot.dialogue import admission, turned_away
from bot.dialogue.admission import Busy, Overloaded, TurnSlots, worth_logging
from bot.dialogue.lock import LockTimeout
from bot.dialogue.turned_away import LocalTurnedAway


async def hold(slots: TurnSlots, entered: asyncio.Event, leave: asyncio.Event) -> None:
    async with slots.take():
        entered.set()
        await leave.wait()


async def held(slots: TurnSlots) -> tuple[asyncio.Event, asyncio.Task[None]]:
    """A turn holding one of the places until the event is set; the task that holds it."""
    leave, entered = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold(slots, entered, leave))
    await entered.wait()
    return leave, holder


async def test_a_full_house_turns_the_next_message_away_after_the_wait() -> None:
    slots = TurnSlots(limit=2, wait=0.05)
    leave = asyncio.Event()
    entered = [asyncio.Event(), asyncio.Event()]
    holders = [asyncio.create_task(hold(slots, e, leave)) for e in entered]
    await asyncio.gather(*(e.wait() for e in entered))
    assert slots.in_progress == 2

    started = asyncio.get_running_loop().time()
    with pytest.raises(Overloaded, match="2 turns in progress"):
        async with slots.take():
            pytest.fail("admitted past the limit")
    assert asyncio.get_running_loop().time() - started >= 0.05  # it did wait its `wait`
    assert (slots.in_progress, slots.refused) == (2, 1)

    leave.set()
    await asyncio.gather(*holders)
    assert slots.in_progress == 0
    async with slots.take():  # the places are free again
        assert slots.in_progress == 1


async def test_a_waiting_message_gets_the_first_place_that_frees_up_in_arrival_order() -> None:
    slots = TurnSlots(limit=1, wait=5)
    order: list[str] = []
    leave, first = await held(slots)

    async def waiting(name: str) -> None:
        async with slots.take():
            order.append(name)
            await asyncio.sleep(0)

    waiters = []
    for name in ("second", "third", "fourth"):
        waiters.append(asyncio.create_task(waiting(name)))
        await asyncio.sleep(0)  # each queues before the next
    leave.set()
    await asyncio.gather(first, *waiters)
    assert order == ["second", "third", "fourth"]
    assert slots.refused == 0


async def test_a_failing_turn_gives_its_place_back() -> None:
    slots = TurnSlots(limit=1, wait=0)
    with pytest.raises(ValueError, match="flow"):
        async with slots.take():
            raise ValueError("the flow failed")
    async with slots.take():  # not leaked: admitted at once, without waiting
        assert slots.in_progress == 1


async def test_a_cancelled_waiter_leaves_no_place_taken() -> None:
    slots = TurnSlots(limit=1, wait=5)
    leave, first = await held(slots)
    waiter = asyncio.create_task(hold(slots, asyncio.Event(), asyncio.Event()))
    await asyncio.sleep(0.01)
    waiter.cancel()  # the client went away while it waited
    leave.set()
    await first
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.in_progress == 0
    async with asyncio.timeout(1), slots.take():
        assert slots.in_progress == 1


async def test_a_message_sent_again_after_busy_keeps_its_place_ahead_of_later_ones() -> None:
    away = LocalTurnedAway()
    slots = TurnSlots(limit=1, wait=0.1, turned_away=away)
    leave, first = await held(slots)
    order: list[str] = []

    async def turn(name: str, message: str | None) -> None:
        async with slots.take(message):
            order.append(name)

    with pytest.raises(Overloaded):
        await turn("early", "web:m1")  # turned away: "busy, try again"
    later = asyncio.create_task(turn("later", "web:m2"))  # a newer message, waiting
    await asyncio.sleep(0.01)
    again = asyncio.create_task(turn("early, again", "web:m1"))  # the retry, after it
    await asyncio.sleep(0.01)
    assert (slots.waiting, slots.in_progress) == (2, 1)
    leave.set()
    await asyncio.gather(first, later, again)
    assert order == ["early, again", "later"]  # in order of first arrival
    assert (slots.refused, slots.in_progress, slots.waiting) == (1, 0, 0)
    assert len(away) == 0  # admitted: forgotten


async def test_a_waiter_cancelled_just_after_it_was_handed_a_place_passes_it_on() -> None:
    slots = TurnSlots(limit=1, wait=5)
    holder = slots.take()
    await holder.__aenter__()
    entered: list[str] = []

    async def turn(name: str) -> None:
        async with slots.take():
            entered.append(name)

    handed, next_ = asyncio.create_task(turn("handed")), asyncio.create_task(turn("next"))
    await asyncio.sleep(0.01)  # both in line
    await holder.__aexit__(None, None, None)  # the place goes to "handed"...
    handed.cancel()  # ...which is cancelled before it could run
    with pytest.raises(asyncio.CancelledError):
        await handed
    async with asyncio.timeout(1):
        await next_
    assert entered == ["next"] and slots.in_progress == 0


async def test_turned_away_messages_are_remembered_within_bounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(turned_away, "REMEMBERED", 2)
    away = LocalTurnedAway()
    now = time.time()
    for name in ("web:a", "web:b", "web:c"):
        await away.remember(name, now)
    assert len(away) == 2 and await away.first_arrival("web:a") is None  # the oldest went
    assert await away.first_arrival("web:c") == now
    assert await away.first_arrival("web:c") is None  # forgotten once asked
    await away.remember("web:old", now - turned_away.RETRY_MEMORY - 1)
    await away.remember("web:d", now)  # the too old one in front is dropped
    assert await away.first_arrival("web:old") is None


async def test_a_message_with_a_free_place_does_not_ask_when_it_first_arrived() -> None:
    class Counting(LocalTurnedAway):
        asked = 0

        async def first_arrival(self, message: str) -> float | None:
            self.asked += 1
            return await super().first_arrival(message)

    away = Counting()
    slots = TurnSlots(limit=2, wait=0, turned_away=away)
    async with slots.take("web:1"):
        pass
    assert away.asked == 0  # the usual case costs no look-up (in Redis: no round trip)


async def test_a_surge_is_one_warning_now_and_then_not_one_per_message(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(admission.time, "monotonic", lambda: now[0])
    slots = TurnSlots(limit=1, wait=0)
    leave, first = await held(slots)

    async def turned_away(times: int) -> None:
        for _ in range(times):
            with pytest.raises(Overloaded):
                async with slots.take():
                    pass

    with caplog.at_level(logging.WARNING, logger="bot.dialogue.admission"):
        await turned_away(5)
        now[0] += admission.REPORT_EVERY - 1
        await turned_away(3)
        now[0] += 1
        await turned_away(2)
    leave.set()
    await first
    reports = [r.getMessage() for r in caplog.records]
    assert len(reports) == 2, reports
    assert reports[0].endswith("since the last report: 1")  # the first of the surge, at once
    assert reports[1].endswith("since the last report: 8")  # 4 + 3 + 1 since
    assert slots.refused == 10


def test_busy_covers_both_ways_a_turn_cannot_start_and_only_a_surge_is_quiet() -> None:
    assert issubclass(LockTimeout, Busy) and issubclass(Overloaded, Busy)
    assert worth_logging(LockTimeout("web:1")) and not worth_logging(Overloaded("full"))


@pytest.mark.parametrize(("limit", "wait"), [(0, 1.0), (4, -1.0)])
def test_a_limit_below_one_or_a_negative_wait_is_refused(limit: int, wait: float) -> None:
    with pytest.raises(ValueError, match="limit >= 1"):
        TurnSlots(limit, wait)
