"""Who is calling, and what they said or keyed, as the text the dialogue reads.

The caller is recognised by `From` in E.164; a withheld number (or one of Twilio's stand-ins for
it) is served as an anonymous lead under "anonymous:<CallSid>". A single key picks the N-th
choice last offered (its payload goes to the dialogue, as a tapped button would); 0 asks for a
person; eight keys DDMMYYYY are a birth date; speech goes through as it was heard, except
"one", "option two" or a choice's title, which pick that choice.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date

import phonenumbers

from bot.dialogue.messages import Button
from crm_store.enums import Channel
from nlu.entities.number_words import NUMBER_WORDS

# Twilio's stand-ins for a number it cannot show: anonymous, unknown, restricted, blocked.
WITHHELD = frozenset({"+266696687", "+86282452253", "+7378742833", "+2562533", "+8656696"})
PERSON = "/request_human"
MAX_KEY = 9
WORDS = {word: n for word, n in NUMBER_WORDS.items() if n <= MAX_KEY}  # a key: 0-9
_PICK = re.compile(r"^(?:(?:option|number|press|choice)\s+)?(\d|[a-z]+)$")
_CALL_BACK = re.compile(r"\b(?:call|ring|phone)\s*(?:me\s+)?back\b|\bcallback\b", re.IGNORECASE)
MAX_CHOICES = 9  # one key each


@dataclass(frozen=True, slots=True)
class Caller:
    channel: Channel
    sender_id: str
    number: str | None  # the E.164 number to call back on; None when withheld


def caller_of(from_: str, call_sid: str, region: str) -> Caller:
    """The caller behind `From`; anyone we cannot see is an anonymous lead for this call.

    A withheld caller has no phone identity to hold (the CRM keeps only real numbers under
    PHONE), so they are served as a REST identity "anonymous:<CallSid>".
    """
    try:
        number = phonenumbers.parse(from_.strip(), region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        e164 = str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
        if e164 not in WITHHELD:
            return Caller(Channel.PHONE, e164, e164)
    return Caller(Channel.REST, f"anonymous:{call_sid}", None)


def choices_of(buttons: tuple[Button, ...]) -> tuple[Button, ...]:
    return buttons[:MAX_CHOICES]


def birth_date_payload(digits: str) -> str | None:
    """Eight keys DDMMYYYY as the dialogue's own birth-date message, if they are a real date."""
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        day = date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    except ValueError:
        return None
    return "/identify" + json.dumps({"birth_date": day.isoformat()})


def _plain(text: str) -> str:
    kept = "".join(
        ch if unicodedata.category(ch)[0] in "LNZ" else " " for ch in text.casefold().strip()
    )
    return " ".join(kept.split())


def pick(said: str, buttons: tuple[Button, ...]) -> Button | None:
    """The choice the caller named: its number ("2", "two", "option 2") or its title."""
    choices = choices_of(buttons)
    plain = _plain(said)
    match = _PICK.match(plain)
    if match:
        word = match.group(1)
        number = int(word) if word.isdigit() else WORDS.get(word)
        if number is not None and 1 <= number <= len(choices):
            return choices[number - 1]
    return next((b for b in choices if _plain(b.title) and _plain(b.title) == plain), None)


def keyed_text(digits: str, buttons: tuple[Button, ...]) -> str:
    keys = digits.rstrip("#")
    if keys == "0":
        return PERSON
    if len(keys) == 1 and keys.isdigit():
        chosen = pick(keys, buttons)
        if chosen is not None:
            return chosen.payload
    return birth_date_payload(keys) or keys


def spoken_text(speech: str, buttons: tuple[Button, ...]) -> str:
    chosen = pick(speech, buttons)
    return chosen.payload if chosen is not None else speech.strip()


def wants_call_back(digits: str | None, speech: str | None) -> bool:
    """On hold: key 1, or "call me back" in what they said."""
    if digits is not None and digits.rstrip("#") == "1":
        return True
    return speech is not None and _CALL_BACK.search(speech) is not None
