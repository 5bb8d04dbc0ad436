"""Turn the NLU's `time` entity (Duckling-style) into what the slot finder asks for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from nlu.types import Entity

EXACT_GRAINS = frozenset({"minute", "hour", "second"})
SPAN = {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31)}


@dataclass(frozen=True, slots=True)
class Requested:
    at: datetime | None = None
    between: tuple[datetime, datetime | None] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat() if self.at else None,
            "from": self.between[0].isoformat() if self.between else None,
            "to": self.between[1].isoformat() if self.between and self.between[1] else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Requested:
        if data.get("at"):
            return cls(at=datetime.fromisoformat(data["at"]))
        if data.get("from"):
            end = datetime.fromisoformat(data["to"]) if data.get("to") else None
            return cls(between=(datetime.fromisoformat(data["from"]), end))
        return cls()


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def requested_time(entity: Entity | None) -> Requested | None:
    """An exact time for minute/hour grains, an interval for days, weeks, months and ranges."""
    if entity is None:
        return None
    grain = (entity.additional_info or {}).get("grain", "hour")
    if isinstance(entity.value, dict):
        start = _parse(entity.value.get("from"))
        end = _parse(entity.value.get("to"))
        return Requested(between=(start, end)) if start else None
    start = _parse(entity.value)
    if start is None:
        return None
    if grain in EXACT_GRAINS:
        return Requested(at=start)
    return Requested(between=(start, start + SPAN.get(grain, timedelta(days=1))))


def time_entity(entities: tuple[Entity, ...], role: str | None = None) -> Entity | None:
    """The first `time` entity (with `role` if given, else preferring one without a role)."""
    times = [e for e in entities if e.entity == "time"]
    if role is not None:
        return next((e for e in times if e.role == role), None)
    return next((e for e in times if e.role in (None, "to")), times[0] if times else None)
