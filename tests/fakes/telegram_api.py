"""A local fake of the Telegram Bot API (aiohttp), for python-telegram-bot pointed at it.

It speaks the wire format PTB uses (../shared/PROTOCOLS.md): `POST /bot<TOKEN>/<method>` with a
form whose non-string values are JSON-encoded inside the fields; answers `{"ok": true, "result"}`
or `{"ok": false, "error_code", "description", "parameters"?}` with the matching HTTP status.

What it does: getMe, getUpdates (offset confirms, timeout long-polls, 409 while a webhook is
set), setWebhook / deleteWebhook / getWebhookInfo (the url and secret are kept), setMyCommands,
sendMessage (every message recorded, with Telegram's checks: 1-4096 characters after HTML
parsing, well-formed HTML, callback data of at most 64 bytes), answerCallbackQuery,
sendChatAction, editMessageText, editMessageReplyMarkup. Every call is recorded with its
monotonic time, so tests can measure pacing. Failures can be scripted: `fail_next(...)` for a
429 with retry_after (or any error), `block(chat_id)` for "bot was blocked by the user" (403).
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

BOT_USER = {"id": 999000, "is_bot": True, "first_name": "Frontdesk", "username": "frontdesk_bot"}
MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
PLAIN_FIELDS = frozenset(
    {"text", "parse_mode", "url", "secret_token", "callback_query_id", "action"}
)
HTML_TAGS = "b|strong|i|em|u|ins|s|strike|del|a|code|pre|span|tg-spoiler|tg-emoji|blockquote"
_BAD_TAG = re.compile(rf"<(?!/?(?:{HTML_TAGS})\b)")
_BAD_ENTITY = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


class ApiError(Exception):
    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            data["parameters"] = {"retry_after": self.retry_after}
        return data


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic() when the request arrived


@dataclass(frozen=True)
class Sent:
    message_id: int
    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    at: float

    @property
    def plain(self) -> str:
        """The text as the user sees it (HTML entities resolved)."""
        return html.unescape(self.text) if self.parse_mode == "HTML" else self.text

    @property
    def callback_data(self) -> list[str]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]

    @property
    def button_titles(self) -> list[str]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [b["text"] for row in rows for b in row]


@dataclass
class _Failure:
    method: str
    chat_id: int | None
    error: ApiError
    times: int


@dataclass
class FakeBotApi:
    token: str
    calls: list[Call] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    commands: list[dict[str, Any]] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)
    _failures: list[_Failure] = field(default_factory=list)
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _next_message_id: int = 1000
    _server: TestServer | None = None

    # -- running ------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeBotApi:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._arrived.set()  # wake any long poll
        if self._server is not None:
            await self._server.close()

    @property
    def url(self) -> str:
        """The server root, for TelegramChannel.base_url (PTB gets <url>/bot and <url>/file/bot)."""
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    # -- scripting ------------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates."""
        self._pending.append(update)
        self._arrived.set()

    def fail_next(
        self,
        method: str = "sendMessage",
        *,
        chat_id: int | None = None,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` (to `chat_id`, if given) with an error."""
        if status == 429 and retry_after is None:
            retry_after = 1
        text = description or (
            f"Too Many Requests: retry after {retry_after}" if status == 429 else "Bad Request"
        )
        self._failures.append(
            _Failure(method.lower(), chat_id, ApiError(status, text, retry_after), times)
        )

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every sendMessage to them is a 403 from now on."""
        self.blocked.add(chat_id)

    def calls_of(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method.lower()]

    def sent_to(self, chat_id: int) -> list[Sent]:
        return [message for message in self.sent if message.chat_id == chat_id]

    # -- the API --------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        match = re.fullmatch(r"/bot(?P<token>[^/]+)/(?P<method>\w+)", request.path)
        if match is None or match["token"] != self.token:
            return web.json_response(
                ApiError(404 if match is None else 401, "Unauthorized").body(),
                status=404 if match is None else 401,
            )
        method = match["method"].lower()
        params = _decode(dict(await request.post()) if request.can_read_body else {})
        params.update(request.query)
        self.calls.append(Call(method, params, time.monotonic()))
        try:
            self._scripted_failure(method, params)
            handler = getattr(self, f"_api_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            result = await handler(params)
        except ApiError as error:
            return web.json_response(error.body(), status=error.status)
        return web.json_response({"ok": True, "result": result})

    def _scripted_failure(self, method: str, params: dict[str, Any]) -> None:
        chat_id = params.get("chat_id")
        for failure in self._failures:
            if failure.method == method and failure.chat_id in (None, chat_id):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                raise failure.error
        if method == "sendmessage" and chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    async def _api_getme(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    async def _api_setmycommands(self, params: dict[str, Any]) -> Any:
        self.commands = list(params.get("commands") or [])
        return True

    async def _api_setwebhook(self, params: dict[str, Any]) -> Any:
        if not str(params.get("url", "")).startswith(("https://", "http://")):
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided")
        self.webhook = dict(params)
        return True

    async def _api_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _api_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        url = (self.webhook or {}).get("url", "")
        return {"url": url, "has_custom_certificate": False, "pending_update_count": 0}

    async def _api_getupdates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        self._pending = [u for u in self._pending if u["update_id"] >= offset]
        if not self._pending:
            self._arrived.clear()
            timeout = float(params.get("timeout") or 0)
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return []
        limit = int(params.get("limit") or 100)
        return self._pending[:limit]

    async def _api_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id, text = params.get("chat_id"), str(params.get("text", ""))
        mode = params.get("parse_mode")
        _check_text(text, mode)
        markup = params.get("reply_markup")
        for row in (markup or {}).get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_BYTES:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        self._next_message_id += 1
        sent = Sent(self._next_message_id, int(chat_id), text, mode, markup, time.monotonic())
        self.sent.append(sent)
        return self._message(sent.message_id, sent.chat_id, sent.plain)

    async def _api_answercallbackquery(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_sendchataction(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_editmessagetext(self, params: dict[str, Any]) -> Any:
        _check_text(str(params.get("text", "")), params.get("parse_mode"))
        return self._message(int(params["message_id"]), int(params["chat_id"]), params["text"])

    async def _api_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        return self._message(int(params["message_id"]), int(params["chat_id"]), "(edited)")

    @staticmethod
    def _message(message_id: int, chat_id: int, text: str) -> dict[str, Any]:
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": BOT_USER,
            "text": text,
        }


def _decode(form: dict[str, Any]) -> dict[str, Any]:
    """PTB's form: strings as they are, everything else JSON inside the field."""
    params: dict[str, Any] = {}
    for key, value in form.items():
        if key in PLAIN_FIELDS or not isinstance(value, str):
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _check_text(text: str, parse_mode: str | None) -> None:
    if parse_mode == "HTML":
        if _BAD_TAG.search(text) or _BAD_ENTITY.search(text):
            raise ApiError(400, "Bad Request: can't parse entities: unsupported start tag")
        text = html.unescape(text)
    length = len(text.encode("utf-16-le")) // 2
    if not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if length > MAX_TEXT:
        raise ApiError(400, "Bad Request: message is too long")


# -- updates, as Telegram would push them (the user's side) ---------------------------------------


def _chat(chat_id: int, chat_type: str) -> dict[str, Any]:
    chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type != "private":
        chat["title"] = "Some group"
    return chat


def _from(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": "en"}


def message_update(
    update_id: int,
    *,
    user_id: int,
    chat_id: int | None = None,
    chat_type: str = "private",
    **content: Any,
) -> dict[str, Any]:
    message = {
        "message_id": 10_000 + update_id,
        "date": int(time.time()),
        "chat": _chat(user_id if chat_id is None else chat_id, chat_type),
        "from": _from(user_id),
        **content,
    }
    return {"update_id": update_id, "message": message}


def text_update(update_id: int, text: str, *, user_id: int, **where: Any) -> dict[str, Any]:
    """A text message; one starting with "/" carries the bot_command entity CommandHandler needs."""
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return message_update(update_id, user_id=user_id, **where, **content)


def contact_update(
    update_id: int,
    phone: str,
    *,
    user_id: int,
    contact_user_id: int | None,
    forwarded: bool = False,
    **where: Any,
) -> dict[str, Any]:
    contact: dict[str, Any] = {"phone_number": phone, "first_name": "Ann"}
    if contact_user_id is not None:
        contact["user_id"] = contact_user_id
    content: dict[str, Any] = {"contact": contact}
    if forwarded:
        content["forward_origin"] = {
            "type": "hidden_user",
            "date": int(time.time()) - 60,
            "sender_user_name": "Someone",
        }
    return message_update(update_id, user_id=user_id, **where, **content)


def callback_update(
    update_id: int, data: str, *, user_id: int, message_id: int = 555, chat_id: int | None = None
) -> dict[str, Any]:
    """A tap on an inline button of the bot's message `message_id`."""
    chat = _chat(user_id if chat_id is None else chat_id, "private" if chat_id is None else "group")
    bot_message = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat,
        "from": BOT_USER,
        "text": "(the bot's message)",
    }
    query = {
        "id": f"cb{update_id}",
        "from": _from(user_id),
        "chat_instance": "ci-1",
        "data": data,
        "message": bot_message,
    }
    return {"update_id": update_id, "callback_query": query}
