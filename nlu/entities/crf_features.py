"""Tokens and their features for the CRF (Rasa's CRFEntityExtractor's feature set, roughly).

Each token gets: a bias, its lower-cased word, prefixes and suffixes, its shape, title/upper/
digit flags, the words one and two either side (or BOS/EOS), and the names of the regexes and
lookup tables that match over it ("pattern" features: data rules help the CRF generalise).
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

from nlu.entities.from_data import Patterns, pattern_spans

_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_MAX_WORD = 32  # longer tokens are cut in features (a 100,000-letter "word" stays cheap)


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int


def tokenize(text: str, limit: int | None = None) -> list[Token]:
    """Words and punctuation marks, the first `limit` of them (all when None)."""
    matches = _TOKEN.finditer(text)
    if limit is not None:
        matches = itertools.islice(matches, limit)
    return [Token(m.group(), m.start(), m.end()) for m in matches]


def shape(word: str) -> str:
    """Character classes with repeats collapsed: "Anna" -> "Xx", "07700" -> "d", "B-12" -> "X-d"."""
    out: list[str] = []
    for char in word[:_MAX_WORD]:
        if char.isdigit():
            kind = "d"
        elif char.isupper():
            kind = "X"
        elif char.isalpha():
            kind = "x"
        else:
            kind = char
        if not out or out[-1] != kind:
            out.append(kind)
    return "".join(out)


def _word_features(word: str, position: str) -> list[str]:
    low = word[:_MAX_WORD].lower()
    features = [f"{position}w:{low}"]
    if word[:1].isupper():
        features.append(f"{position}title")
    return features


def token_features(text: str, tokens: list[Token], patterns: Patterns) -> list[list[str]]:
    """The feature strings of every token (the first is always the bias)."""
    marks = _pattern_marks(text, tokens, patterns)
    rows: list[list[str]] = []
    for index, token in enumerate(tokens):
        word = token.text[:_MAX_WORD]
        low = word.lower()
        row = ["bias", f"w:{low}", f"p2:{low[:2]}", f"p3:{low[:3]}"]
        row += [f"s2:{low[-2:]}", f"s3:{low[-3:]}", f"s5:{low[-5:]}", f"shape:{shape(word)}"]
        if word[:1].isupper():
            row.append("title")
        if word.isupper():
            row.append("upper")
        if word.isdigit():
            row.append("digit")
        row += _word_features(tokens[index - 1].text, "-1") if index else ["-1w:BOS"]
        if index + 1 < len(tokens):
            row += _word_features(tokens[index + 1].text, "+1")
        else:
            row.append("+1w:EOS")
        if index > 1:
            row.append(f"-2w:{tokens[index - 2].text[:_MAX_WORD].lower()}")
        if index + 2 < len(tokens):
            row.append(f"+2w:{tokens[index + 2].text[:_MAX_WORD].lower()}")
        row += [f"pat:{name}" for name in sorted(marks[index])]
        rows.append(row)
    return rows


def _pattern_marks(text: str, tokens: list[Token], patterns: Patterns) -> list[set[str]]:
    marks: list[set[str]] = [set() for _ in tokens]
    if not patterns or not tokens:
        return marks
    starts = [token.start for token in tokens]
    for name, start, end in pattern_spans(patterns, text):
        index = _first_token_at_or_after(starts, tokens, start)
        while index < len(tokens) and tokens[index].start < end:
            marks[index].add(name)
            index += 1
    return marks


def _first_token_at_or_after(starts: list[int], tokens: list[Token], offset: int) -> int:
    index = bisect.bisect_right(starts, offset) - 1
    if index < 0:
        return 0
    return index if tokens[index].end > offset else index + 1
