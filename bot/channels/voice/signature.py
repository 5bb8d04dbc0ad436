"""Every webhook proves it comes from the provider: X-Twilio-Signature (or X-SignalWire-Signature).

The signature is base64 HMAC-SHA1 over the URL the provider called followed by the POST
parameters (names sorted), keyed with the auth token; twilio's RequestValidator computes and
compares it. Behind a proxy the server sees another URL than the provider called, so the URL is
rebuilt from the configured public base and the request's path and query, never request.url.
Nothing in the request is looked at before the signature holds.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict, MultiDictProxy
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)

SIGNATURE_HEADERS = ("X-Twilio-Signature", "X-SignalWire-Signature")
FORM = "application/x-www-form-urlencoded"
MAX_FIELDS = 200


class BadWebhook(ValueError):
    """The request is not a well-formed webhook (answered 400 with this short reason)."""


class Forbidden(Exception):
    """The signature is missing or wrong (answered 403, saying nothing more)."""


def parse_form(body: bytes) -> MultiDictProxy[str]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise BadWebhook("the body is not a form") from None
    return MultiDictProxy(MultiDict(pairs))


class SignatureCheck:
    def __init__(self, auth_token: SecretStr, public_url: str) -> None:
        self._validator = RequestValidator(auth_token.get_secret_value())
        self._base = public_url.rstrip("/")

    def url_of(self, path_qs: str) -> str:
        """The URL the provider called: the public base with the request's path and query."""
        return self._base + path_qs

    async def signed_form(self, request: web.Request) -> MultiDictProxy[str]:
        """The webhook's parameters once its signature holds; Forbidden or BadWebhook if not."""
        signature = next(
            (request.headers[h] for h in SIGNATURE_HEADERS if request.headers.get(h)), None
        )
        if signature is None:
            raise Forbidden
        if request.content_type != FORM:
            raise BadWebhook("expected a form-encoded body")
        params = parse_form(await request.read())
        if not self._validator.validate(self.url_of(request.path_qs), params, signature):
            log.warning("voice: refused a webhook to %s with a wrong signature", request.path)
            raise Forbidden
        return params
