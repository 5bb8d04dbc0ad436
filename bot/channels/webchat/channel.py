"""The web chat channel: the widget's files, its WebSocket, and the demo host page.

GET /webchat/widget.js   the widget (one <script> tag on any page)
GET /webchat/widget.css  its styles (loaded by the widget into its shadow root)
GET /webchat/config      the widget's texts and whether the asking page may chat
GET /webchat/ws          the WebSocket (Origin checked against allowed_origins)
GET /demo                a demo host page
"""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from bot.channels.host import ChannelHost
from bot.channels.webchat.fanout import Fanout, Listener, MemoryFanout, RedisFanout
from bot.channels.webchat.hub import Delivery, Hub
from bot.channels.webchat.limiter import rate_limiter
from bot.channels.webchat.protocol import TITLE_MAX
from bot.channels.webchat.session import ChatSession, SessionContext, Workers
from bot.config import WebchatChannel as WebchatSettings
from bot.dialogue.templates import Templates
from bot.http_errors import json_error
from crm_store.enums import Channel

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
WIDGET_TEXTS = (
    "open",
    "close",
    "placeholder",
    "send",
    "connecting",
    "online",
    "offline",
    "refused",
    "sending",
    "typing",
    "team",
)
STOP_TIMEOUT = 10.0  # seconds the channel waits, when it stops, for messages being answered
FRAME_OVERHEAD = 8192  # bytes of a frame besides its text (key, title, token, JSON)


class WebchatChannel:
    def __init__(self, settings: WebchatSettings, *, business: str, templates: Templates) -> None:
        self._settings = settings
        self._business = business
        self._templates = templates
        self._hub = Hub()
        self._context: SessionContext | None = None
        self._files = {
            name: (STATIC / name).read_text(encoding="utf-8")
            for name in ("widget.js", "widget.css", "demo.html")
        }

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/webchat/widget.js", self.widget_js),
            web.get("/webchat/widget.css", self.widget_css),
            web.get("/webchat/config", self.config),
            web.get("/webchat/ws", self.socket),
            web.get("/demo", self.demo),
        ]

    @asynccontextmanager
    async def running(self, host: ChannelHost) -> AsyncIterator[None]:
        fanout: Fanout = MemoryFanout() if host.redis is None else RedisFanout(host.redis)
        delivery = Delivery(
            host.store.webchat,
            self._hub,
            host.outbound.outbox.push,
            fanout,
            self._settings.history_messages,
        )
        workers = Workers()
        limiter = rate_limiter(  # per conversation, shared by every process with Redis
            host.redis,
            self._settings.rate_limit_messages,
            self._settings.rate_limit_period.total_seconds(),
        )
        self._context = SessionContext(
            self._settings, self._templates, host, self._hub, delivery, limiter, workers
        )
        host.outbound.register(Channel.WEB, delivery.send)
        try:
            async with fanout.listening(self._listener(delivery, workers)):
                yield
        finally:
            self._context = None
            await self.close_sockets()
            await workers.finish(within=STOP_TIMEOUT)

    def _listener(self, delivery: Delivery, workers: Workers) -> Listener:
        """Announcements from other processes: a catch-up for each conversation held here."""
        hub = self._hub

        def new(conversation_id: str, last_seq: int) -> None:
            if hub.sockets(conversation_id):
                workers.spawn(delivery.catch_up(conversation_id, last_seq))

        def resync() -> None:
            for conversation_id in hub.conversations():
                workers.spawn(delivery.catch_up(conversation_id, None))

        return Listener(new, resync)

    async def close_sockets(self) -> None:
        """Close every open chat socket (1001, going away; the widgets reconnect). Meant for the
        app's on_shutdown too: otherwise a stop waits for open sockets (aiohttp's
        shutdown_timeout) before the channel stops."""
        await self._hub.close_all()

    def origin_allowed(self, request: web.Request) -> bool:
        return request.headers.get("Origin", "") in self._settings.allowed_origins

    # -- the WebSocket ----------------------------------------------------------------------------

    async def socket(self, request: web.Request) -> web.StreamResponse:
        if not self.origin_allowed(request):
            log.warning("web chat refused for origin %r", request.headers.get("Origin", "")[:200])
            return json_error(403, "this origin may not use the chat")
        context = self._context
        if context is None:
            return json_error(503, "the chat is starting or stopping; try again in a moment")
        ws = web.WebSocketResponse(
            heartbeat=self._settings.heartbeat.total_seconds(),
            max_msg_size=self._settings.max_message_chars * 12 + TITLE_MAX * 12 + FRAME_OVERHEAD,
        )
        if not ws.can_prepare(request).ok:
            return json_error(400, "expected a WebSocket upgrade")
        await ws.prepare(request)
        await ChatSession(context, ws).serve()
        return ws

    # -- files ------------------------------------------------------------------------------------

    async def widget_js(self, request: web.Request) -> web.Response:
        return self._file("widget.js", "application/javascript")

    async def widget_css(self, request: web.Request) -> web.Response:
        return self._file("widget.css", "text/css")

    async def demo(self, request: web.Request) -> web.Response:
        page = self._files["demo.html"].replace("{{business}}", html.escape(self._business))
        return web.Response(text=page, content_type="text/html", headers=_NO_SNIFF)

    def _file(self, name: str, content_type: str) -> web.Response:
        headers = {**_NO_SNIFF, "Cache-Control": "public, max-age=300"}
        return web.Response(text=self._files[name], content_type=content_type, headers=headers)

    async def config(self, request: web.Request) -> web.Response:
        """Public facts for the widget on any page (so it may say why it cannot connect)."""
        render = self._templates.render
        data = {
            "title": self._business,
            "intro": render("en", "webchat_intro", business=self._business),
            "texts": {key: render("en", f"webchat_{key}") for key in WIDGET_TEXTS},
            "origin_allowed": self.origin_allowed(request),
            "max_message_chars": self._settings.max_message_chars,
        }
        headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
        return web.json_response(data, headers=headers)


_NO_SNIFF = {"X-Content-Type-Options": "nosniff"}
