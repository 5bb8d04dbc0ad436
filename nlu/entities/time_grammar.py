"""The English time grammar: rules find atoms, atoms next to each other join into expressions.

1. Every rule's regex runs over the normalised text; its builder turns a match into an `Atom`
   or rejects it (a bare "2" that no "at"/"after" introduces, "May" with no "in" before it).
2. Overlapping atoms: the longest wins (then the most confident, then the leftmost).
3. A bound word ("after", "by") joins the atom right after it; then atoms separated only by a
   connector ("", ",", "at", "on", "in the") join left to right while their parts fit together
   (a day + a clock time + a part of the day; a weekday + a date; a weekday + "next week").
4. Atoms that only count with support ("morning" in "good morning", "sat", a bare "12th") and
   bound words left alone are dropped.
"""

from __future__ import annotations

import re
from dataclasses import replace

from nlu.entities.time_patterns import Rule, Scan
from nlu.entities.time_rules_clock import CLOCK_RULES
from nlu.entities.time_rules_date import DATE_RULES
from nlu.entities.time_rules_span import SPAN_RULES
from nlu.entities.time_spec import (
    Atom,
    Bound,
    CalendarKind,
    CalendarSpec,
    Modifier,
    TimeSpec,
    WeekdaySpec,
)

RULES: tuple[Rule, ...] = DATE_RULES + CLOCK_RULES + SPAN_RULES
CONNECTORS = frozenset({"", "at", "on", "in the", "-", "@", "around", "about"})
_RANGE_WORDS = frozenset({"to", "-", "until", "till", "through", "thru"})
_BETWEEN = re.compile(r"(?<!\w)between\s+$", re.IGNORECASE)
_MAX_GAP = 12


def find_expressions(text: str, *, day_first: bool = True) -> list[Atom]:
    """Every time expression in a normalised text, left to right, not overlapping."""
    scan = Scan(text, day_first)
    atoms = _select(_candidates(scan), len(text))
    joined = _join(_day_ranges(_attach_bounds(atoms, text), text), text)
    return [a for a in joined if _stands_alone(a)]


def _candidates(scan: Scan) -> list[Atom]:
    lowered = scan.text.lower()  # only to test rule keys: its offsets are never used
    found: list[Atom] = []
    for rule in RULES:
        if not rule.may_match(lowered):
            continue
        for match in rule.pattern.finditer(scan.text):
            atom = rule.build(match, scan)
            if atom is not None and atom.end > atom.start:
                found.append(atom)
    return found


def _select(atoms: list[Atom], size: int) -> list[Atom]:
    taken = bytearray(size)
    chosen: list[Atom] = []
    for atom in sorted(atoms, key=lambda a: (-a.length, -a.confidence, a.start)):
        if any(taken[atom.start : atom.end]):
            continue
        taken[atom.start : atom.end] = b"\x01" * atom.length
        chosen.append(atom)
    chosen.sort(key=lambda a: a.start)
    return chosen


def _gap(text: str, start: int, end: int) -> str | None:
    """The connector between two atoms, or None when they are too far apart."""
    if end - start > _MAX_GAP:
        return None
    return " ".join(text[start:end].replace(",", " ").lower().split())


def _attach_bounds(atoms: list[Atom], text: str) -> list[Atom]:
    out: list[Atom] = []
    index = 0
    while index < len(atoms):
        atom = atoms[index]
        following = atoms[index + 1] if index + 1 < len(atoms) else None
        if (
            _is_marker(atom)
            and following is not None
            and _gap(text, atom.end, following.start) == ""
        ):
            bounded = _bounded(atom, following)
            if bounded is not None:
                out.append(bounded)
                index += 2
                continue
        out.append(atom)
        index += 1
    return out


def _is_marker(atom: Atom) -> bool:
    return isinstance(atom.spec, TimeSpec) and atom.spec.is_marker


def _bounded(marker: Atom, atom: Atom) -> Atom | None:
    if not isinstance(marker.spec, TimeSpec) or atom.spec.bound is not None or _is_marker(atom):
        return None
    if atom.invalid:
        return None
    spec = replace(atom.spec, bound=marker.spec.bound)
    return Atom(marker.start, atom.end, spec, atom.confidence, atom.needs_support)


def _day_ranges(atoms: list[Atom], text: str) -> list[Atom]:
    """ "(from) Monday to Wednesday", "between the 3rd and the 5th": one range of days."""
    out: list[Atom] = []
    for atom in atoms:
        previous = out[-1] if out else None
        if previous is not None:
            joined = _day_range(previous, atom, text)
            if joined is not None:
                out[-1] = joined
                continue
        out.append(atom)
    return out


def _day_range(first: Atom, second: Atom, text: str) -> Atom | None:
    if not (_day_only(first, (None, Bound.FROM)) and _day_only(second, (None, Bound.UNTIL))):
        return None
    gap = _gap(text, first.end, second.start)
    start = first.start
    if second.spec.bound is Bound.UNTIL:  # "until Friday" already took its bound word
        if gap != "":
            return None
    elif gap == "and" and (between := _BETWEEN.search(text, max(0, start - 12), start)):
        start = between.start()
    elif gap not in _RANGE_WORDS:
        return None
    assert isinstance(first.spec, TimeSpec) and isinstance(second.spec, TimeSpec)
    spec = TimeSpec(day=first.spec.day, day_end=second.spec.day)
    confidence = min(first.confidence, second.confidence)
    return Atom(start, second.end, spec, confidence, first.needs_support and second.needs_support)


def _day_only(atom: Atom, bounds: tuple[Bound | None, ...]) -> bool:
    spec = atom.spec
    if not isinstance(spec, TimeSpec) or atom.invalid or spec.day is None:
        return False
    plain = spec.clock is None and spec.part is None and spec.day_end is None
    return plain and spec.bound in bounds


def _join(atoms: list[Atom], text: str) -> list[Atom]:
    out: list[Atom] = []
    current: Atom | None = None
    for atom in atoms:
        if current is not None and _gap(text, current.end, atom.start) in CONNECTORS:
            combined = _combine(current, atom)
            if combined is not None:
                current = combined
                continue
        if current is not None:
            out.append(current)
        current = atom
    if current is not None:
        out.append(current)
    return out


def _combine(first: Atom, second: Atom) -> Atom | None:
    if first.invalid or second.invalid:  # "the 31st of November at 3pm": none of it
        return Atom(first.start, second.end, first.spec, invalid=True)
    spec: TimeSpec | None = None
    if isinstance(first.spec, TimeSpec) and isinstance(second.spec, TimeSpec):
        if second.spec.bound is not None and first.spec.bound is None and first.spec.day is None:
            return None  # "3pm after 4"
        spec = first.spec.merged(second.spec)
    elif isinstance(first.spec, TimeSpec) and isinstance(second.spec, CalendarSpec):
        spec = _weekday_in_week(first.spec, second.spec)
    elif isinstance(first.spec, CalendarSpec) and isinstance(second.spec, TimeSpec):
        spec = _weekday_in_week(second.spec, first.spec)
    if spec is None:
        return None
    confidence = min(first.confidence, second.confidence)
    return Atom(first.start, second.end, spec, confidence)


def _weekday_in_week(spec: TimeSpec, calendar: CalendarSpec) -> TimeSpec | None:
    """ "Friday next week" / "next week Friday": that week's Friday."""
    day = spec.day
    if calendar.kind is not CalendarKind.WEEK or calendar.bound is not None:
        return None
    if not isinstance(day, WeekdaySpec) or day.modifier is not Modifier.NONE:
        return None
    if spec.clock or spec.part or spec.bound:
        return None
    return replace(spec, day=replace(day, week_offset=calendar.offset))


def _stands_alone(atom: Atom) -> bool:
    return not atom.needs_support and not atom.invalid and not _is_marker(atom)
