"""The NLU's exceptions: one small hierarchy, each message says what to do about it."""

from __future__ import annotations


class NluError(Exception):
    """Anything the NLU package raises on purpose."""


class TrainingDataError(NluError):
    """Training data that cannot be read: names the file, the line and the reason."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class ModelFileError(NluError):
    """A model file that is missing, damaged, tampered with or from an incompatible version."""


class DenseFeaturesUnavailable(NluError):
    """Dense sentence features were asked for but their optional packages are not installed."""


class NluUnavailable(NluError):
    """The NLU backend (a remote Rasa server) cannot answer right now."""


class BadParseRequest(NluError):
    """A parse request that cannot be answered as asked (an unknown time zone, ...)."""
