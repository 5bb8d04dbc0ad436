"""The HTTP edge: every error leaves as a short JSON body; no stack trace ever reaches a client.

A backend that is down for the moment (the database, Redis) is not an internal error: the
client gets a polite 503 it may retry, and the log gets one line, not a traceback per request.
"""

from __future__ import annotations

import logging
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from routing.background import UNAVAILABLE

log = logging.getLogger(__name__)

BUSY = "we are busy right now; please try again in a moment"


def json_error(status: int, message: str, **extra: str) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def busy() -> web.Response:
    response = json_error(503, BUSY)
    response.headers["Retry-After"] = "1"
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return json_error(exc.status, exc.reason)
    except UNAVAILABLE as exc:
        what = f"{type(exc).__name__}: {exc}"
        log.warning("%s %s: a backend is unavailable (%s)", request.method, request.path, what)
        return busy()
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception(
            "unhandled error on %s %s (incident %s)", request.method, request.path, incident
        )
        return json_error(500, "internal error", incident=incident)
