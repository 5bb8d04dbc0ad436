"""`frontdesk nlu ...` (under construction)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def register(groups: Any, command: Callable[..., Any]) -> None:
    """Add the `nlu` command group."""
