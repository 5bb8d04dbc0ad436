"""Signing in and out: the login token (CSRF before a session exists), throttled password checks,
a fresh session on every sign-in, and `GET /desk/api/me` for the pages.

Before sign-in the login form gets a random token in a cookie and in the page (double submit):
the POST must echo it in X-CSRF-Token. After sign-in the session carries its own token.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from crm_store.records import AgentRecord
from desk.access import AGENT, ANYONE
from desk.audit import AuditAction, AuditEntry, Outcome
from desk.errors import BadRequest, DeskError, Forbidden, NotSignedIn, Throttled
from desk.guard import (
    CSRF_HEADER,
    MAX_TOKEN,
    SESSION_COOKIE,
    Call,
    Route,
    client_address,
    endpoint,
    error_response,
    read_json,
    reply,
)
from desk.parts import DeskParts, Runtime
from desk.sessions import Session, new_token

LOGIN_COOKIE = "fd_desk_login"
COOKIE_PATH = "/desk"
MAX_USERNAME = 64
MAX_PASSWORD = 1024


def agent_json(agent: AgentRecord) -> dict[str, Any]:
    return {
        "id": agent.id,
        "username": agent.username,
        "display_name": agent.display_name,
        "roles": [str(role) for role in agent.roles],
        "skills": list(agent.skills),
        "capacity": agent.capacity,
    }


def set_cookie(response: web.StreamResponse, parts: DeskParts, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=parts.config.cookie_secure,
        max_age=int(parts.config.session_max_age.total_seconds()),
    )


def login_token(response: web.StreamResponse, parts: DeskParts) -> str:
    """A new pre-login CSRF token, set as a cookie on `response`; the page echoes it."""
    token = new_token()
    set_cookie(response, parts, LOGIN_COOKIE, token)
    return token


class Auth:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def routes(self) -> list[web.RouteDef]:
        me: Route = endpoint(self._runtime, self.me, ANYONE)
        logout: Route = endpoint(self._runtime, self.logout, ANYONE)
        return [
            web.get("/desk/api/login-token", self.token),
            web.post("/desk/api/login", self.login),
            web.post("/desk/api/logout", logout),
            web.get("/desk/api/me", me),
        ]

    async def token(self, request: web.Request) -> web.StreamResponse:
        try:
            parts = self._runtime.parts
        except DeskError as exc:
            return error_response(exc)
        token = new_token()
        response = reply({"csrf": token})
        set_cookie(response, parts, LOGIN_COOKIE, token)
        return response

    async def login(self, request: web.Request) -> web.StreamResponse:
        try:
            parts = self._runtime.parts
            agent = await self._login(request, parts)
        except DeskError as exc:
            return error_response(exc)
        token, csrf = new_token(), new_token()
        session = Session(agent.id, csrf, parts.clock(), client_address(request))
        lifetime = min(parts.config.session_lifetime, parts.config.session_max_age)
        old = request.cookies.get(SESSION_COOKIE, "")
        if old and len(old) <= MAX_TOKEN:
            await parts.sessions.delete(old)  # never keep a session from before sign-in
        await parts.sessions.put(token, session, lifetime)
        await self._audit(parts, request, AuditAction.LOGIN, agent.username, agent.id)
        response = reply({"agent": agent_json(agent), "csrf": csrf})
        set_cookie(response, parts, SESSION_COOKIE, token)
        response.del_cookie(LOGIN_COOKIE, path=COOKIE_PATH)
        return response

    async def _login(self, request: web.Request, parts: DeskParts) -> AgentRecord:
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        sent = request.headers.get(CSRF_HEADER, "")
        if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
            await self._audit(
                parts, request, AuditAction.CSRF_REJECTED, None, None, Outcome.REFUSED
            )
            raise Forbidden("missing or wrong CSRF token; reload the sign-in page")
        body = await read_json(request)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not 0 < len(username) <= MAX_USERNAME:
            raise BadRequest(f"username: 1 to {MAX_USERNAME} characters")
        if not isinstance(password, str) or not 0 < len(password) <= MAX_PASSWORD:
            raise BadRequest(f"password: 1 to {MAX_PASSWORD} characters")
        address = client_address(request)
        try:
            await parts.throttle.check(username, address)
        except Throttled:
            await self._audit(
                parts, request, AuditAction.LOGIN_THROTTLED, username, None, Outcome.REFUSED
            )
            raise
        agent = await parts.store.agents.authenticate(username, password)
        if agent is None:
            await parts.throttle.failed(username, address)
            await self._audit(
                parts, request, AuditAction.LOGIN_FAILED, username, None, Outcome.FAILED
            )
            raise NotSignedIn("wrong username or password")
        await parts.throttle.succeeded(username)
        return agent

    @staticmethod
    async def _audit(
        parts: DeskParts,
        request: web.Request,
        action: AuditAction,
        username: str | None,
        agent_id: int | None,
        outcome: Outcome = Outcome.OK,
    ) -> None:
        entry = AuditEntry(action, outcome, agent_id, username, client_address(request), detail={})
        await parts.audit.record(entry)

    async def logout(self, call: Call) -> web.StreamResponse:
        token = call.request.cookies.get(SESSION_COOKIE, "")
        await call.parts.sessions.delete(token)
        if call.who.has_any(AGENT):
            await call.parts.routing.sign_out(call.who.id)
        await call.audit(AuditAction.LOGOUT)
        response = reply({"signed_out": True})
        response.del_cookie(SESSION_COOKIE, path=COOKIE_PATH)
        return response

    async def me(self, call: Call) -> web.StreamResponse:
        config = call.parts.config
        book = call.parts.queues
        visible = call.who.visible_queues(book)
        return reply(
            {
                "agent": agent_json(call.who.agent),
                "csrf": call.session.csrf,
                "queues": [{"key": key, "name": book[key].name or key} for key in visible],
                "all_queues": [{"key": q.key, "name": q.name or q.key} for q in book],
                "business": config.business_name,
                "canned_responses": [
                    {"key": c.key, "title": c.title, "text": c.text}
                    for c in config.canned_responses
                ],
                "resolution_codes": [
                    {"key": c.key, "title": c.title} for c in config.resolution_codes
                ],
                "priority_step": config.priority_step,
            }
        )
