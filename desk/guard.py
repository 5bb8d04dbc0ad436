"""Every desk endpoint goes through `endpoint`: signed in (401), the CSRF token on every
state-changing request (403), the role (403), then the handler; errors leave as short JSON.

Refusals of a signed-in agent (wrong role, a missing or wrong CSRF token) are audited.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from crm_store import errors as crm
from crm_store.enums import AgentRole
from desk.access import Principal
from desk.audit import AuditAction, AuditEntry, Outcome
from desk.errors import BadRequest, DeskError, Forbidden, NotFound, NotSignedIn, Throttled
from desk.parts import DeskParts, Runtime
from desk.proxies import TrustedProxies
from desk.sessions import Session
from routing import errors as routing

log = logging.getLogger(__name__)

SESSION_COOKIE = "fd_desk_session"
CSRF_HEADER = "X-CSRF-Token"
FORWARDED_FOR = "X-Forwarded-For"
# The proxies whose X-Forwarded-For is believed (desk.trusted_proxies); set on the app that
# serves the desk (bot/app.py). Without it, the client is the TCP peer.
TRUSTED_PROXIES = web.AppKey("desk_trusted_proxies", TrustedProxies)
NO_PROXIES = TrustedProxies()
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_TOKEN = 128


@dataclass(frozen=True)
class Call:
    """One authenticated request: the request, the desk's parts, who asks, their session."""

    request: web.Request
    parts: DeskParts
    who: Principal
    session: Session

    async def audit(
        self,
        action: AuditAction,
        *,
        outcome: Outcome = Outcome.OK,
        target: str | None = None,
        **detail: Any,
    ) -> None:
        await self.parts.audit.record(
            AuditEntry(
                action,
                outcome,
                agent_id=self.who.id,
                username=self.who.agent.username,
                address=client_address(self.request),
                target=target,
                detail=detail,
            )
        )


Handler = Callable[[Call], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_address(request: web.Request) -> str | None:
    """Who sent the request, for throttling, sessions and the audit log (desk/proxies.py):
    the TCP peer, or behind a trusted proxy the address it reports."""
    proxies = request.config_dict.get(TRUSTED_PROXIES, NO_PROXIES)
    return proxies.client_of(request.remote, request.headers.getall(FORWARDED_FOR, ()))


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    response = web.json_response({"error": message, **extra}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def reply(data: Any, status: int = 200) -> web.Response:
    response = web.json_response(data, status=status, dumps=_dumps)
    response.headers["Cache-Control"] = "no-store"
    return response


def _dumps(data: Any) -> str:
    return json.dumps(data, default=str)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; an empty body is {}."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest("the body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def error_response(exc: Exception) -> web.Response:
    """The answer for an error the desk expects; anything else is re-raised by the caller."""
    if isinstance(exc, Throttled):
        response = json_error(exc.status, exc.message)
        response.headers["Retry-After"] = str(int(exc.retry_after + 0.999))
        return response
    if isinstance(exc, DeskError):
        return json_error(exc.status, exc.message)
    status, message = _translated(exc)
    return json_error(status, message)


def _translated(exc: Exception) -> tuple[int, str]:
    match exc:
        case routing.TicketNotFound() | crm.NotFound():
            return 404, str(exc)
        case routing.InvalidTransition():
            return 409, exc.reason
        case routing.AgentAtCapacity() | crm.SlotTaken() | crm.InvalidTransition():
            return 409, str(exc)
        case routing.UnknownQueue() | routing.UnknownAgent():
            return 400, str(exc)
        case crm.InvalidInput():
            return 400, str(exc)
        case routing.DispatchUnavailable() | crm.StoreUnavailable():
            log.warning("desk request failed: %s", exc)
            return 503, "a backend is unavailable; try again shortly"
    raise exc


EXPECTED = (
    DeskError,
    routing.RoutingError,
    crm.NotFound,
    crm.SlotTaken,
    crm.InvalidTransition,
    crm.InvalidInput,
    crm.StoreUnavailable,
)


async def signed_in(request: web.Request, parts: DeskParts) -> tuple[str, Session, Principal]:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token or len(token) > MAX_TOKEN:
        raise NotSignedIn("sign in first")
    config = parts.config
    session = await parts.sessions.get(token, config.session_lifetime)
    if session is None:
        raise NotSignedIn("your session has ended; sign in again")
    if parts.clock() - session.created_at >= config.session_max_age:
        await parts.sessions.delete(token)
        raise NotSignedIn("your session has ended; sign in again")
    agent = await parts.store.agents.get(session.agent_id)
    if agent is None or not agent.active:
        await parts.sessions.delete(token)
        raise NotSignedIn("this account is no longer active")
    return token, session, Principal.of(agent, parts.queues)


def csrf_ok(request: web.Request, session: Session) -> bool:
    sent = request.headers.get(CSRF_HEADER, "")
    return bool(sent) and hmac.compare_digest(sent.encode(), session.csrf.encode())


def endpoint(runtime: Runtime, handler: Handler, roles: Iterable[AgentRole]) -> Route:
    """Wrap a handler: authentication, CSRF on non-GET methods, role, error translation."""
    allowed = frozenset(roles)

    async def route(request: web.Request) -> web.StreamResponse:
        try:
            parts = runtime.parts
            _token, session, who = await signed_in(request, parts)
            call = Call(request, parts, who, session)
            if request.method not in SAFE_METHODS and not csrf_ok(request, session):
                await call.audit(
                    AuditAction.CSRF_REJECTED, outcome=Outcome.REFUSED, path=request.path
                )
                raise Forbidden("missing or wrong CSRF token")
            if not who.has_any(allowed):
                await call.audit(
                    AuditAction.ROLE_REFUSED, outcome=Outcome.REFUSED, path=request.path
                )
                raise Forbidden("your role does not allow this")
            return await handler(call)
        except EXPECTED as exc:
            return error_response(exc)

    return route


Guard = Callable[[Handler, Iterable[AgentRole]], Route]


def guarded(runtime: Runtime) -> Guard:
    """`guard(handler, roles)`: the route for a handler that needs one of `roles`."""
    return lambda handler, roles: endpoint(runtime, handler, roles)


def int_param(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None
    if not 0 < number < 2**31:
        raise NotFound(f"no {name} {value}")
    return number
