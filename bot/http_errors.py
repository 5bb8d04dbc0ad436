"""The HTTP edge: every error leaves as a short JSON body; no stack trace ever reaches a client."""

from __future__ import annotations

import logging
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)


def json_error(status: int, message: str, **extra: str) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return json_error(exc.status, exc.reason)
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception(
            "unhandled error on %s %s (incident %s)", request.method, request.path, incident
        )
        return json_error(500, "internal error", incident=incident)
