"""The desk's exceptions: one small hierarchy; each carries the HTTP status it answers with."""

from __future__ import annotations


class DeskError(Exception):
    """Base class for everything the desk raises on purpose: `status` and a plain message."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(DeskError):
    status = 400


class NotSignedIn(DeskError):
    status = 401


class Forbidden(DeskError):
    status = 403


class NotFound(DeskError):
    status = 404


class Conflict(DeskError):
    status = 409


class Throttled(DeskError):
    status = 429

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotReady(DeskError):
    status = 503
