"""Offset-stable text normalisation: every output has exactly the length of its input.

Extractors match on the normalised text and report offsets into it, which are therefore offsets
into the text the user sent. Only one-character-for-one-character rewrites are allowed:

* any Unicode decimal digit (Persian ۰-۹, Arabic-Indic ٠-٩, Devanagari, full-width, ...) -> ASCII;
* control characters (NUL, tabs, line breaks, ...) -> a space;
* typographic apostrophes -> ', dashes -> -, no-break spaces -> a space;
* per language, more: Persian maps Arabic yeh/kaf to the Persian letters and the Arabic decimal
  and thousands separators to "." and ",".

Case is not folded here (str.lower can change a string's length); matchers ignore case instead.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Protocol

_COMMON: dict[str, str] = {
    "\u2018": "'",  # left single quotation mark
    "\u2019": "'",  # right single quotation mark
    "\u02bc": "'",  # modifier letter apostrophe
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u00a0": " ",  # no-break space
    "\u202f": " ",  # narrow no-break space
}

PERSIAN_EXTRA: dict[str, str] = {
    "\u064a": "\u06cc",  # Arabic yeh -> Persian yeh
    "\u0649": "\u06cc",  # alef maksura -> Persian yeh
    "\u0643": "\u06a9",  # Arabic kaf -> Persian keheh
    "\u066b": ".",  # Arabic decimal separator
    "\u066c": ",",  # Arabic thousands separator
    "\u060c": ",",  # Arabic comma
    "\u061f": "?",  # Arabic question mark
    "\u061b": ";",  # Arabic semicolon
}


class Normaliser(Protocol):
    """Rewrites a text without changing its length (so offsets stay valid)."""

    def normalise(self, text: str) -> str: ...


class _Table(dict[int, str]):
    """A str.translate table that works out each character's rewrite once, on first sight."""

    def __init__(self, extra: Mapping[str, str]) -> None:
        super().__init__()
        for source, target in {**_COMMON, **extra}.items():
            if len(source) != 1 or len(target) != 1:
                raise ValueError(f"normalisation must map one character to one: {source!r}")
            self[ord(source)] = target

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char.isascii() and not char.isspace() and char.isprintable():
            rewrite = char
        else:
            rewrite = _rewrite(char)
        self[code] = rewrite
        return rewrite


def _rewrite(char: str) -> str:
    if "0" <= char <= "9":
        return char
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)
    if char.isspace() or unicodedata.category(char) == "Cc":
        return " "
    return char


class TableNormaliser:
    """The shared rewrites plus a language's own one-for-one character map."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._table = _Table(extra or {})

    def normalise(self, text: str) -> str:
        return text.translate(self._table)


def english_normaliser() -> TableNormaliser:
    return TableNormaliser()


def persian_normaliser() -> TableNormaliser:
    return TableNormaliser(PERSIAN_EXTRA)
