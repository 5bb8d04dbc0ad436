"""A background loop's failed rounds: a bug is a trace every time; an outage is one warning
when it starts and one line when the rounds work again."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from crm_store.errors import StoreUnavailable
from routing.background import Rounds
from routing.errors import DispatchUnavailable

log = logging.getLogger("tests.rounds")


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, bool]]:
    found = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    caplog.clear()
    return found


def test_an_outage_is_one_warning_then_quiet_then_one_line_when_it_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds = Rounds("routing tick", log)
    with caplog.at_level(logging.INFO, logger="tests.rounds"):
        rounds.succeeded()
        assert lines(caplog) == []  # nothing to say while all is well
        rounds.failed(DispatchUnavailable("redis: Timeout reading"))
        rounds.failed(StoreUnavailable("database unreachable"))
        rounds.failed(RedisTimeoutError("Timeout reading"))
        assert lines(caplog) == [
            (
                "WARNING",
                "routing tick: a backend is unavailable (DispatchUnavailable: redis: Timeout"
                " reading); trying again every round",
                False,
            )
        ]
        assert rounds.failing
        rounds.succeeded()
        rounds.succeeded()
        assert lines(caplog) == [("INFO", "routing tick: working again", False)]
        rounds.failed(StoreUnavailable("database unreachable"))  # the next outage is news again
        assert [level for level, _, _ in lines(caplog)] == ["WARNING"]


def test_a_bug_is_a_trace_every_round_even_during_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds = Rounds("SLA monitor run", log)
    with caplog.at_level(logging.INFO, logger="tests.rounds"):
        rounds.failed(StoreUnavailable("database unreachable"))
        lines(caplog)
        for _ in range(2):
            rounds.failed(KeyError("policy"))
        rounds.failed(ResponseError("ERR a script's mistake"))  # Redis answered: not an outage
        assert lines(caplog) == [("ERROR", "SLA monitor run failed", True)] * 3
