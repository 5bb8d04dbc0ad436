"""The phone line's webhook paths, and the public URLs the provider is told to call next."""

from __future__ import annotations

from dataclasses import dataclass

INCOMING = "/voice/incoming"  # the number's "a call comes in" webhook
GATHER = "/voice/gather"  # what the caller said or keyed
HOLD = "/voice/hold"  # the hold loop (and a key or words while holding)
DIALLED = "/voice/dialled"  # how putting the call through to an agent ended
STATUS = "/voice/status"  # the number's status callback


@dataclass(frozen=True, slots=True)
class Links:
    """Absolute URLs on the public base the provider signs; `step` makes each one unique."""

    base: str

    def gather(self, step: int) -> str:
        return f"{self.base}{GATHER}?step={step}"

    def hold(self, step: int) -> str:
        return f"{self.base}{HOLD}?step={step}"

    def dialled(self, step: int, *, fallback: bool = False) -> str:
        leg = "&leg=fallback" if fallback else ""
        return f"{self.base}{DIALLED}?step={step}{leg}"
