"""The queues tickets wait in, as routing sees them (plain values; bot.config builds them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from routing.errors import UnknownQueue


@dataclass(frozen=True, slots=True)
class QueueSpec:
    key: str
    skills: frozenset[str] = frozenset()  # an agent with any one of them serves the queue
    sla_policy: str = "standard"
    overflow: str | None = None
    name: str = ""

    def served_by(self, skills: Iterable[str]) -> bool:
        """A queue without skills is served by everyone."""
        return not self.skills or not self.skills.isdisjoint(skills)


class QueueBook:
    def __init__(self, queues: Sequence[QueueSpec]) -> None:
        self._queues = {queue.key: queue for queue in queues}
        for queue in queues:
            if queue.overflow is not None and queue.overflow not in self._queues:
                raise UnknownQueue(queue.overflow)

    def __getitem__(self, key: str) -> QueueSpec:
        try:
            return self._queues[key]
        except KeyError:
            raise UnknownQueue(key) from None

    def __iter__(self) -> Iterator[QueueSpec]:
        return iter(self._queues.values())

    def __contains__(self, key: object) -> bool:
        return key in self._queues

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._queues)

    def served_by(self, skills: Iterable[str]) -> tuple[str, ...]:
        """The queues an agent with these skills may take tickets from."""
        skill_set = frozenset(skills)
        return tuple(key for key, queue in self._queues.items() if queue.served_by(skill_set))
