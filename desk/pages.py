"""The desk's pages: small server-rendered HTML shells; desk/static/*.js fills them from the API.

Nothing a customer or an agent wrote is ever put into HTML by the server or with innerHTML by
the scripts (they use textContent). Every page is served with a strict Content Security Policy:
scripts, styles and connections from this origin only, no inline code, no framing.
"""

from __future__ import annotations

import html
from pathlib import Path

from aiohttp import web

from desk.access import AGENT, Principal
from desk.auth import LOGIN_COOKIE, set_cookie
from desk.errors import DeskError, NotSignedIn
from desk.guard import error_response, signed_in
from desk.parts import Runtime
from desk.sessions import new_token

STATIC = Path(__file__).resolve().parent / "static"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def page(title: str, business: str, body: str, script: str, *, csrf: str = "") -> str:
    name = html.escape(business)
    meta = f'<meta name="csrf" content="{html.escape(csrf)}">' if csrf else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · {name}</title>{meta}"
        '<link rel="stylesheet" href="/desk/static/desk.css">'
        '<script src="/desk/static/desk.js" defer></script>'
        f'<script src="/desk/static/{script}" defer></script>'
        f"</head><body>{body}</body></html>"
    )


def html_response(text: str) -> web.Response:
    return web.Response(text=text, content_type="text/html", headers=SECURITY_HEADERS)


LOGIN_BODY = """
<main class="login"><h1 id="business"></h1><h2>Desk sign-in</h2>
<form id="login-form" autocomplete="on">
<label>Username <input id="username" name="username" autocomplete="username" required></label>
<label>Password <input id="password" name="password" type="password"
 autocomplete="current-password" required></label>
<button type="submit" id="sign-in">Sign in</button>
<p id="login-error" class="error" role="alert"></p></form></main>
"""

CONSOLE_BODY = """
<header class="bar"><strong id="business"></strong><span id="me"></span>
<label>Status <select id="presence"><option value="available">Available</option>
<option value="away">Away</option><option value="offline">Offline</option></select></label>
<button id="next-ticket">Next ticket</button><span id="waiting" class="muted"></span>
<a href="/desk/dashboard" id="to-dashboard" hidden>Dashboard</a>
<button id="sign-out" class="link">Sign out</button></header>
<p id="notice" class="notice" role="status"></p>
<div class="console">
<aside><h2>Offers</h2><ul id="offers" class="list"></ul>
<h2>My tickets</h2><ul id="my-tickets" class="list"></ul></aside>
<section id="ticket" class="ticket" hidden>
<div class="ticket-head"><h2 id="ticket-title"></h2><div id="ticket-facts" class="facts"></div>
<div id="sla" class="sla"></div></div>
<div class="ticket-body"><div class="conversation">
<ol id="transcript" class="transcript"></ol>
<form id="reply-form"><label>Canned <select id="canned"><option value="">—</option></select></label>
<textarea id="reply-text" rows="3" placeholder="Write to the customer…"></textarea>
<div class="actions"><button type="submit" id="send-reply">Send</button>
<button type="button" id="add-note">Internal note</button>
<button type="button" id="wait-customer">Waiting on customer</button>
<button type="button" id="resume">Resume</button></div></form>
<form id="resolve-form" class="inline"><select id="resolution-code"></select>
<button type="submit" id="resolve">Resolve</button></form>
<form id="transfer-form" class="inline"><select id="transfer-queue"></select>
<select id="transfer-agent"></select><button type="submit" id="transfer">Transfer</button></form>
</div>
<div class="customer"><h3>Customer</h3><dl id="customer" class="facts"></dl>
<h4>Identities</h4><ul id="identities" class="list"></ul>
<h4>Appointments</h4><ul id="appointments" class="list"></ul>
<form id="book-form"><select id="book-service"></select><select id="book-resource"></select>
<input id="book-start" type="datetime-local"><button type="submit" id="book">Book</button></form>
<h4>Transactions</h4><p id="transactions-summary"></p><ul id="transactions" class="list"></ul>
<h4>Past tickets</h4><ul id="past-tickets" class="list"></ul>
<h4>Contact history</h4><ul id="history" class="list"></ul></div></div>
</section></div>
"""

DASHBOARD_BODY = """
<header class="bar"><strong id="business"></strong><span id="me"></span>
<span id="updated" class="muted"></span><a href="/desk/console" id="to-console" hidden>Console</a>
<button id="sign-out" class="link">Sign out</button></header>
<p id="notice" class="notice" role="status"></p>
<main class="dashboard">
<section><h2>Queues</h2><table id="queues" class="grid"><thead><tr><th>Queue</th><th>Waiting</th>
<th>Longest wait</th><th>SL interval</th><th>SL hour</th><th>SL today</th><th>ASA</th>
<th>Offered</th><th>Answered</th><th>Abandoned</th><th>Backlog</th><th>Breaches</th>
<th>Rating</th><th>Agents free/busy/away</th></tr></thead><tbody></tbody></table></section>
<section><h2>Warnings and breaches</h2><table id="alerts" class="grid"><thead><tr><th>Time left</th>
<th>Ticket</th><th>Customer</th><th>Queue</th><th>Target</th><th>State</th><th>Priority</th>
<th>Agent</th><th>Actions</th></tr></thead><tbody></tbody></table></section>
<section><h2>Open tickets</h2><table id="open-tickets" class="grid"><thead><tr><th>Ticket</th>
<th>Customer</th><th>Reason</th><th>Queue</th><th>Status</th><th>Priority</th><th>Agent</th></tr>
</thead><tbody></tbody></table></section>
<section><h2>Agents</h2><table id="agents" class="grid"><thead><tr><th>Agent</th>
<th>Status</th><th>Load</th><th>Handled today</th><th>Handle time</th></tr></thead>
<tbody></tbody></table></section>
<section><h2>Today by 15 minutes</h2><div class="charts"><figure><figcaption>Service level
</figcaption><svg id="chart-sl" class="chart" viewBox="0 0 960 160"></svg></figure>
<figure><figcaption>Volume (offered / abandoned)</figcaption>
<svg id="chart-volume" class="chart" viewBox="0 0 960 160"></svg></figure></div>
<p><a id="export-intervals" href="/desk/api/export/intervals.csv">Intervals CSV</a> ·
<a id="export-tickets" href="/desk/api/export/tickets.csv">Tickets CSV</a></p></section>
<section><h2>Knowledge-base gaps (7 days)</h2><table id="gaps" class="grid"><thead><tr>
<th>Question</th><th>Times</th><th>Unhelpful</th><th>Closest article</th><th>Last asked</th></tr>
</thead><tbody></tbody></table></section>
</main>
"""


class Pages:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._files = {  # read once: a handful of small files
            path.name: (path.read_bytes(), STATIC_TYPES[path.suffix])
            for path in sorted(STATIC.iterdir())
            if path.suffix in STATIC_TYPES
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/desk", self.home),
            web.get("/desk/", self.home),
            web.get("/desk/login", self.login),
            web.get("/desk/console", self.console),
            web.get("/desk/dashboard", self.dashboard),
            web.get("/desk/static/{name}", self.static),
        ]

    async def _who(self, request: web.Request) -> Principal:
        """The signed-in caller; otherwise off to the sign-in page (503 while not running)."""
        try:
            _, _, who = await signed_in(request, self._runtime.parts)
        except NotSignedIn:
            raise web.HTTPFound("/desk/login") from None
        return who

    async def home(self, request: web.Request) -> web.StreamResponse:
        try:
            who = await self._who(request)
        except DeskError as exc:
            return error_response(exc)
        raise web.HTTPFound("/desk/console" if who.has_any(AGENT) else "/desk/dashboard")

    async def login(self, request: web.Request) -> web.StreamResponse:
        try:
            parts = self._runtime.parts
        except DeskError as exc:
            return error_response(exc)
        token = new_token()
        response = html_response(
            page("Sign in", parts.config.business_name, LOGIN_BODY, "login.js", csrf=token)
        )
        set_cookie(response, parts, LOGIN_COOKIE, token)
        return response

    async def _shell(
        self, request: web.Request, title: str, body: str, script: str
    ) -> web.StreamResponse:
        try:
            await self._who(request)
        except DeskError as exc:
            return error_response(exc)
        business = self._runtime.parts.config.business_name
        return html_response(page(title, business, body, script))

    async def console(self, request: web.Request) -> web.StreamResponse:
        return await self._shell(request, "Console", CONSOLE_BODY, "console.js")

    async def dashboard(self, request: web.Request) -> web.StreamResponse:
        return await self._shell(request, "Dashboard", DASHBOARD_BODY, "dashboard.js")

    async def static(self, request: web.Request) -> web.StreamResponse:
        found = self._files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, content_type = found
        return web.Response(
            body=body,
            content_type=content_type,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )
