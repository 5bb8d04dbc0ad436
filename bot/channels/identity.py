"""Signed identities from web pages (Chatwoot-compatible): hex HMAC-SHA256 of the user id."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

log = logging.getLogger(__name__)


def sign(user_id: str, secret: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verified_user_id(identity: Any, secret: SecretStr | None) -> str | None:
    """The user id if `identity` = {"user_id", "hash"} carries a valid hash; None otherwise.

    A wrong hash is treated as anonymous and logged (without the hash or the secret).
    """
    if not isinstance(identity, Mapping):
        return None
    user_id, given = identity.get("user_id"), identity.get("hash")
    if not isinstance(user_id, str) or not isinstance(given, str) or not user_id:
        return None
    if secret is None or not secret.get_secret_value():
        log.warning("signed identity for %r ignored: no identity secret configured", user_id[:64])
        return None
    expected = sign(user_id, secret.get_secret_value())
    if not hmac.compare_digest(expected, given.lower()):
        log.warning("signed identity for %r has a wrong hash; treated as anonymous", user_id[:64])
        return None
    return user_id
