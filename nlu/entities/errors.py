"""The entity package's errors: one small hierarchy, every one a ValueError as well."""

from __future__ import annotations


class EntityError(ValueError):
    """Base of every error raised by `nlu.entities`."""


class NaiveDateTimeError(EntityError):
    """A reference time without a timezone was given (only aware datetimes are accepted)."""


class EntityTrainingError(EntityError):
    """The training data cannot be used (an invalid regex, an annotation outside its text)."""


class EntityStateError(EntityError):
    """A stored state does not describe a valid pipeline (wrong format, shapes or types)."""
