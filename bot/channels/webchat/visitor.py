"""Who is behind a browser: an anonymous visitor, or a user the host page vouches for.

The host page proves a signed-in user with the signed identity ({"user_id", "hash"}: hex
HMAC-SHA256 of the user id with the identity secret) or a short-lived JWT (HS256 with the same
secret, `sub` = user id, `exp` required and at most `max_token_age` ahead). A proof that does not
check out leaves the visitor anonymous and is reported back, never silently trusted.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from pydantic import SecretStr

from bot.channels.identity import verified_user_id
from bot.channels.webchat.protocol import USER_ID_PATTERN, Hello
from crm_store.enums import Channel

log = logging.getLogger(__name__)

ANONYMOUS_PREFIX = "anon-"
LEEWAY = timedelta(seconds=30)  # clock skew between the host page's server and ours
_USER_ID = re.compile(USER_ID_PATTERN)


class IdentityRejected(ValueError):
    """The host page's proof of the user did not check out (the reason names no secret)."""


@dataclass(frozen=True, slots=True)
class Visitor:
    session: str
    user_id: str | None  # set only when verified

    @property
    def verified(self) -> bool:
        return self.user_id is not None

    @property
    def sender_id(self) -> str:
        return self.user_id or f"{ANONYMOUS_PREFIX}{self.session}"

    @property
    def conversation_id(self) -> str:
        return f"{Channel.WEB.value}:{self.sender_id}"


def new_session() -> str:
    return secrets.token_urlsafe(18)  # 24 characters, 144 random bits


def token_user_id(token: str, secret: str, now: datetime, max_age: timedelta) -> str:
    """The `sub` of a valid, unexpired, short-lived HS256 token; IdentityRejected otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={
                "require": ["exp", "sub"],
                "verify_exp": False,  # checked below against our clock
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise IdentityRejected(f"token not valid ({type(exc).__name__})") from None
    exp, nbf, sub = claims.get("exp"), claims.get("nbf"), claims.get("sub")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise IdentityRejected("token 'exp' is not a number")
    moment = now.timestamp()
    if exp <= moment - LEEWAY.total_seconds():
        raise IdentityRejected("token expired")
    if exp > moment + (max_age + LEEWAY).total_seconds():
        raise IdentityRejected(f"token valid for longer than {max_age}")
    if isinstance(nbf, int | float) and nbf > moment + LEEWAY.total_seconds():
        raise IdentityRejected("token not valid yet")
    if not isinstance(sub, str) or not _USER_ID.match(sub):
        raise IdentityRejected("token 'sub' is not a user id")
    return sub


def identify(
    hello: Hello, secret: SecretStr | None, now: datetime, max_age: timedelta
) -> tuple[Visitor, str | None]:
    """The visitor a hello describes, and why a proof was rejected (None if none was)."""
    session = hello.session or new_session()
    if hello.token is None and hello.identity is None:
        return Visitor(session, None), None
    key = secret.get_secret_value() if secret is not None else ""
    if not key:
        log.warning("web chat identity ignored: no identity secret configured")
        return Visitor(session, None), "no identity secret configured"
    if hello.token is not None:
        try:
            return Visitor(session, token_user_id(hello.token, key, now, max_age)), None
        except IdentityRejected as exc:
            log.warning("web chat token rejected: %s; treated as anonymous", exc)
            return Visitor(session, None), str(exc)
    assert hello.identity is not None
    user_id = verified_user_id(hello.identity.model_dump(), secret)
    if user_id is None:
        return Visitor(session, None), "signed identity has a wrong hash"
    return Visitor(session, user_id), None
