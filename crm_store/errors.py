"""The CRM store's exceptions: one small hierarchy, library errors translated at the adapter."""

from __future__ import annotations


class CrmError(Exception):
    """Base class for everything the CRM store raises on purpose."""


class StoreUnavailable(CrmError):
    """The database cannot be reached or refused the connection."""


class SchemaOutOfDate(CrmError):
    """The database's schema revision is not the one this code was written for."""


class InvalidInput(CrmError):
    """A value was rejected at the edge; `field` names it and `reason` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(CrmError):
    """The record asked for does not exist (or was erased)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class DuplicateIdentity(CrmError):
    """The channel identity already belongs to another customer."""

    def __init__(self, channel: str, external_id: str, owner_id: int) -> None:
        super().__init__(
            f"{channel} identity {external_id!r} already belongs to customer {owner_id}"
        )
        self.channel = channel
        self.external_id = external_id
        self.owner_id = owner_id


class SlotTaken(CrmError):
    """The resource already has an active appointment overlapping the requested time."""


class InvalidTransition(CrmError):
    """A status change that the record's current status does not allow."""
