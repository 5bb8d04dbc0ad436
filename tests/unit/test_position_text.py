"""The customer's place in the queue in words: singular, plural, unknown wait."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from bot.dialogue.flows.escalation import position_text
from bot.dialogue.templates import Templates
from routing.events import TicketStatus
from routing.notify import QueuePosition

TEMPLATES = Templates.load(Path(__file__).resolve().parents[2] / "templates")


def standing(position: int, wait: timedelta | None) -> QueuePosition:
    return QueuePosition(7, TicketStatus.QUEUED, "general", position, 3, 0, 300.0, wait)


@pytest.mark.parametrize(
    ("wait", "said"),
    [
        (timedelta(seconds=20), "You are number 2 in the queue; the wait is about a minute."),
        (timedelta(seconds=80), "You are number 2 in the queue; the wait is about a minute."),
        (timedelta(minutes=6), "You are number 2 in the queue; the wait is about 6 minutes."),
    ],
)
def test_the_wait_in_words(wait: timedelta, said: str) -> None:
    assert position_text(partial(TEMPLATES.render, "en"), standing(2, wait)) == said


def test_an_unknown_wait_says_so() -> None:
    text = position_text(partial(TEMPLATES.render, "en"), standing(3, None))
    assert "number 3" in text and "minute" not in text
