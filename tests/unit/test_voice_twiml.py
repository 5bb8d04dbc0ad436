"""Replies as TwiML: what is said, how choices are read, and that nothing said is markup."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

from bot.channels.voice.hold import position_lines
from bot.channels.voice.twiml import Speaker, VoiceStyle, offered, speakable
from bot.dialogue.messages import Button, Link, Reply
from bot.dialogue.templates import Templates
from routing.events import TicketStatus
from routing.notify import QueuePosition
from tests.conftest import ROOT

STYLE = VoiceStyle("Polly.Amy", "en-GB", "auto", 5, 20, 25)
TEMPLATES = Templates.load(Path(ROOT / "templates"))
ACTION = "https://frontdesk.example.test/voice/gather?step=3"


def speaker() -> Speaker:
    return Speaker(STYLE, lambda key, **fields: TEMPLATES.render("en", key, **fields))


def parsed(response: object) -> ET.Element:
    return ET.fromstring(str(response))


def test_speakable_drops_symbols_and_makes_lines_sentences() -> None:
    assert speakable("Zoë Clarke 🌻 ★★★") == "Zoë Clarke."
    assert speakable("Your appointments:\n- Cleaning · Priya Nair\n• Check-up") == (
        "Your appointments: Cleaning, Priya Nair. Check-up."
    )
    assert speakable("a\x00b\x1bc\ufffe") == "abc."
    assert speakable("  ") == ""
    assert speakable("مریم رضایی") == "مریم رضایی."


def test_choices_are_read_with_their_numbers() -> None:
    say = speaker()
    yes_no = (Button("Yes", "/affirm"), Button("No", "/deny"))
    assert say.choices(yes_no) == "Say or press 1 for Yes, 2 for No."
    stars = tuple(Button("★" * n, f"/rate{n}") for n in range(1, 6))
    assert say.choices(stars) == "Say or press 1, 2, 3, 4 or 5."


def test_only_the_last_offered_choices_are_read_and_links_by_their_title() -> None:
    replies = [
        Reply("Old question?", buttons=(Button("A", "/a"),)),
        Reply("See our guide.", links=(Link("Caring for your gums", "https://x.test/gums"),)),
        Reply("Which one?", quick_replies=(Button("B", "/b"), Button("C", "/c"))),
        Reply("Thanks."),
    ]
    lines = speaker().lines(replies)
    assert lines == [
        "Old question?",
        "See our guide.",
        "Caring for your gums.",
        "Which one?",
        "Say or press 1 for B, 2 for C.",
        "Thanks.",
    ]
    assert [b.payload for b in offered(replies)] == ["/b", "/c"]
    many = [Reply("Pick", buttons=tuple(Button(str(i), f"/{i}") for i in range(12)))]
    assert len(offered(many)) == 9  # one key each


def test_a_gather_speaks_inside_and_posts_empty_results() -> None:
    yes_no = (Button("Yes", "/affirm"), Button("No", "/deny"))
    root = parsed(
        speaker().gather(["Shall I?", "Say or press 1 for Yes, 2 for No."], ACTION, yes_no)
    )
    gather, redirect = list(root)
    assert gather.tag == "Gather" and redirect.tag == "Redirect"
    assert gather.attrib == {
        "action": ACTION,
        "actionOnEmptyResult": "true",
        "hints": "Yes, No",
        "input": "speech dtmf",
        "language": "en-GB",
        "method": "POST",
        "numDigits": "1",
        "speechTimeout": "auto",
        "timeout": "5",
    }
    assert [(s.tag, s.text, s.get("voice")) for s in gather] == [
        ("Say", "Shall I?", "Polly.Amy"),
        ("Say", "Say or press 1 for Yes, 2 for No.", "Polly.Amy"),
    ]
    assert redirect.text == ACTION


def test_attacker_text_stays_text() -> None:
    hostile = '<Say>hi</Say> & <Hangup/> "quoted" </Response>'
    document = str(speaker().gather([hostile], ACTION))
    root = ET.fromstring(document)
    (gather, _redirect) = list(root)
    (say,) = list(gather)
    assert say.text == hostile
    assert "<Hangup" not in document and "&lt;Hangup/&gt;" in document and "&amp;" in document


def test_hold_connect_and_goodbye() -> None:
    say = speaker()
    hold = parsed(say.hold(["You are number 2 in the queue."], "https://h.test/voice/hold?step=4"))
    gather, redirect = list(hold)
    assert gather.get("actionOnEmptyResult") == "false" and gather.get("numDigits") == "1"
    assert [c.tag for c in gather] == ["Say", "Pause"] and gather[1].get("length") == "20"
    assert redirect.text == "https://h.test/voice/hold?step=4"
    number = parsed(say.connect(["Putting you through."], "+442079460999", "https://h.test/d"))
    said, dial = list(number)
    assert said.text == "Putting you through."
    assert dial.get("timeout") == "25" and dial.get("action") == "https://h.test/d"
    assert [(c.tag, c.text) for c in dial] == [("Number", "+442079460999")]
    sip = parsed(say.connect([], "sip:maria@pbx.example.test", "https://h.test/d"))
    assert [(c.tag, c.text) for c in sip[0]] == [("Sip", "sip:maria@pbx.example.test")]
    bye = parsed(say.goodbye(["Goodbye."]))
    assert [c.tag for c in bye] == ["Say", "Hangup"]


def test_the_place_in_the_queue_in_words() -> None:
    texts = speaker().texts

    def standing(position: int | None, wait: timedelta | None) -> QueuePosition:
        status = TicketStatus.QUEUED if position else TicketStatus.OFFERED
        return QueuePosition(7, status, "general", position, 3, 0, 300.0, wait)

    assert position_lines(texts, standing(2, timedelta(minutes=7, seconds=20))) == [
        "You are number 2 in the queue.",
        "The wait is about 7 minutes.",
    ]
    assert position_lines(texts, standing(1, timedelta(0)))[1] == "The wait is about a minute."
    assert position_lines(texts, standing(4, None))[1].startswith("Everyone is busy right now")
    assert position_lines(texts, standing(None, timedelta(0))) == [
        "A member of our team is about to take your call."
    ]
