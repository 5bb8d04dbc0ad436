"""Phone numbers, e-mail addresses, numbers, and the offset-stable normaliser."""

from __future__ import annotations

import pytest

from nlu.entities import (
    EmailExtractor,
    Locale,
    NumberExtractor,
    ParseContext,
    PhoneExtractor,
)
from nlu.entities.language import normaliser_for
from nlu.types import Entity

from .test_entities_data import CONTEXT, REFERENCE

PERSIAN = ParseContext(REFERENCE, CONTEXT.timezone, "fa")
US = ParseContext(REFERENCE, CONTEXT.timezone, "en-US")


def found(entities: list[Entity], text: str) -> list[tuple[str, int, int, object]]:
    return [(text[e.start : e.end], e.start, e.end, e.value) for e in entities]


# -- phone numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my number is 07700 900123", [("07700 900123", 13, 25, "+447700900123")]),
        ("call +44 20 7946 0958 please", [("+44 20 7946 0958", 5, 21, "+442079460958")]),
        ("ring (020) 7946 0958", [("(020) 7946 0958", 5, 20, "+442079460958")]),
        ("07700900123", [("07700900123", 0, 11, "+447700900123")]),
        ("I am 45", []),
        ("for 2 people at 3pm on 2026-12-05", []),
        ("12/03/2026", []),
    ],
)
def test_phone_numbers_in_e164(text: str, expected: list[tuple[str, int, int, str]]) -> None:
    assert found(PhoneExtractor().extract(text, CONTEXT), text) == expected


def test_a_valid_number_is_certain_and_a_merely_possible_one_is_not() -> None:
    valid = PhoneExtractor().extract("020 7946 0958", CONTEXT)[0]
    drama = PhoneExtractor().extract("07700 900123", CONTEXT)[0]  # Ofcom's fiction range
    assert (valid.confidence_entity, valid.additional_info) == (1.0, {"valid": True})
    assert (drama.confidence_entity, drama.additional_info) == (0.6, {"valid": False})
    assert valid.entity == "phone-number" and valid.extractor == "PhoneExtractor"


def test_the_language_tag_sets_the_phone_region() -> None:
    text = "(202) 555-0143"
    assert [e.value for e in PhoneExtractor().extract(text, US)] == ["+12025550143"]


def test_persian_digits_make_a_phone_number_at_the_same_offsets() -> None:
    text = "شماره من ۰۹۱۲۳۴۵۶۷۸۹ است"
    assert found(PhoneExtractor().extract(text, PERSIAN), text) == [
        ("۰۹۱۲۳۴۵۶۷۸۹", 9, 20, "+989123456789")
    ]


# -- e-mail ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("anna@example.com", [("anna@example.com", 0, 16)]),
        ("write to anna@example.com.", [("anna@example.com", 9, 25)]),
        ("a.b+c@mail.example.co.uk, or x@y", [("a.b+c@mail.example.co.uk", 0, 24)]),
        ("(Anna.Smith@Example.org)", [("Anna.Smith@Example.org", 1, 23)]),
        ("two: a@b.io b@c.io", [("a@b.io", 5, 11), ("b@c.io", 12, 18)]),
        ("@anna on twitter", []),
        ("anna@localhost", []),
        ("meet @ 3pm", []),
        (".@x.com", []),
    ],
)
def test_email_addresses(text: str, expected: list[tuple[str, int, int]]) -> None:
    entities = EmailExtractor().extract(text, CONTEXT)
    assert [(text[e.start : e.end], e.start, e.end) for e in entities] == expected
    assert all(e.value == text[e.start : e.end] and e.entity == "email" for e in entities)


# -- numbers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("for 2 people", [("2", 4, 5, 2)]),
        ("I'm 45", [("45", 4, 6, 45)]),
        ("1,250.50 or 3.5", [("1,250.50", 0, 8, 1250.5), ("3.5", 12, 15, 3.5)]),
        ("twenty-one", [("twenty-one", 0, 10, 21)]),
        ("one hundred and five", [("one hundred and five", 0, 20, 105)]),
        ("two three", [("two", 0, 3, 2), ("three", 4, 9, 3)]),
        ("one thousand two hundred", [("one thousand two hundred", 0, 24, 1200)]),
        ("the one on Friday", []),
        ("no one came", []),
        ("2nd and 3pm", []),
        ("room 12b", []),
        ("۳ نفر", [("۳", 0, 1, 3)]),
        ("1" * 40, []),
    ],
)
def test_numbers(text: str, expected: list[tuple[str, int, int, object]]) -> None:
    context = PERSIAN if not text.isascii() else CONTEXT
    entities = NumberExtractor().extract(text, context)
    assert found(entities, text) == expected
    assert all(type(e.value) is type(v) for e, (*_, v) in zip(entities, expected, strict=True))


def test_number_words_are_english_only() -> None:
    assert NumberExtractor().extract("two people", PERSIAN) == []
    assert [e.value for e in NumberExtractor().extract("two people", CONTEXT)] == [2]


# -- normalisation and locales ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "at ۳pm", "at 3pm"),
        ("en", "١٢/٠٣/٢٠٢٦", "12/03/2026"),
        ("en", "tomorrow\x00at\t3pm\n", "tomorrow at 3pm "),
        ("en", "I\u2019m \uff14\uff15", "I'm 45"),
        ("en", "2\u20134pm", "2-4pm"),
        ("fa", "يك ك ٫ ٬", "یک ک . ,"),
        ("en", "😀 İstanbul ß", "😀 İstanbul ß"),
    ],
)
def test_normalisation_keeps_every_offset(language: str, text: str, expected: str) -> None:
    normal = normaliser_for(language).normalise(text)
    assert normal == expected
    assert len(normal) == len(text)


@pytest.mark.parametrize(
    ("tag", "language", "region", "day_first", "rtl"),
    [
        ("en", "en", "GB", True, False),
        ("en-GB", "en", "GB", True, False),
        ("en_US", "en", "US", False, False),
        ("fa", "fa", "IR", True, True),
        ("fa-IR", "fa", "IR", True, True),
        ("", "en", "GB", True, False),
        ("!!", "en", "GB", True, False),
    ],
)
def test_language_tags(tag: str, language: str, region: str, day_first: bool, rtl: bool) -> None:
    locale = Locale.from_tag(tag)
    assert (locale.language, locale.region, locale.day_first, locale.right_to_left) == (
        language,
        region,
        day_first,
        rtl,
    )
