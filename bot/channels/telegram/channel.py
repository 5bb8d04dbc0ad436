"""The Telegram channel: python-telegram-bot's Application, fed by our own aiohttp route.

Webhook mode: `POST /telegram/webhook/<path>` (the path derived from the webhook secret, so every
server and every restart agree), the `X-Telegram-Bot-Api-Secret-Token` header checked in
constant time before the body is read, the update processed inline: 200 once it is handled,
503 when the store was unavailable (Telegram redelivers; the dedupe makes that safe).
setWebhook is called at start. Polling mode (development): deleteWebhook, then getUpdates in
PTB's Updater task.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from bot.channels.host import ChannelHost
from bot.channels.telegram.live_state import live_state
from bot.channels.telegram.sender import Pacer, TelegramSender, quiet_retry_after_deprecation
from bot.channels.telegram.updates import ALLOWED_UPDATES, COMMANDS, UpdateHandlers
from bot.config import TelegramChannel as TelegramSettings
from bot.dialogue.messages import Reply
from bot.dialogue.outbox import ChannelOutbound, Sender
from bot.dialogue.templates import Templates
from bot.http_errors import json_error
from bot.resources import BackendUnavailable
from crm_store.enums import Channel

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
WEBHOOK_PREFIX = "/telegram/webhook/"
App = Application[Any, Any, Any, Any, Any, Any]
LOGGERS_SEEING_THE_TOKEN = (
    "httpx",
    "telegram.Bot",
    "telegram.ext.ExtBot",
    "telegram.ext.Updater",
    "telegram.ext.Application",
)


class TelegramSetupError(BackendUnavailable):
    """The channel cannot start: missing settings, a refused token, an unreachable Bot API."""


def webhook_path(secret: str) -> str:
    """The webhook's path: a SHA-256 prefix of the secret (never the secret itself)."""
    digest = hashlib.sha256(b"frontdesk telegram webhook\0" + secret.encode()).hexdigest()
    return WEBHOOK_PREFIX + digest[:32]


@dataclass(frozen=True)
class _Live:
    application: App
    handlers: UpdateHandlers


class _Redact(logging.Filter):
    """Bot API URLs contain the token (httpx logs every request URL, PTB its base URL), and
    PTB's debug log shows setWebhook's parameters: both leave the log as "<redacted>"."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if secret]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret in message for secret in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, "<redacted>")
            record.msg, record.args = message, None
        return True


@contextmanager
def _secrets_kept_out_of_logs(*secrets: str) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in LOGGERS_SEEING_THE_TOKEN]
    redact = _Redact(secrets)
    for logger in loggers:
        logger.addFilter(redact)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redact)


class TelegramChannel:
    def __init__(
        self, settings: TelegramSettings, *, public_url: str, templates: Templates
    ) -> None:
        if settings.token is None or not settings.token.get_secret_value():
            raise TelegramSetupError("channels.telegram.token is required: set TELEGRAM_BOT_TOKEN")
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        if settings.mode == "webhook" and not secret:
            raise TelegramSetupError(
                "channels.telegram.webhook_secret is required in webhook mode: "
                "set TELEGRAM_WEBHOOK_SECRET (or use mode: polling for development)"
            )
        self._settings = settings
        self._token = settings.token.get_secret_value()
        self._secret = secret.encode()
        self._path = webhook_path(secret) if settings.mode == "webhook" else None
        self._public_url = public_url.rstrip("/")
        self._templates = templates
        self._live: _Live | None = None

    @property
    def bot_id(self) -> str:
        """The bot's own id: the token's part before the colon (public, unlike the rest)."""
        return self._token.partition(":")[0]

    @property
    def webhook_url(self) -> str | None:
        return None if self._path is None else self._public_url + self._path

    def routes(self) -> list[web.RouteDef]:
        return [] if self._path is None else [web.post(self._path, self.webhook)]

    # -- lifecycle -----------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self, host: ChannelHost) -> AsyncIterator[None]:
        quiet_retry_after_deprecation()
        with _secrets_kept_out_of_logs(self._token, self._secret.decode()):
            application = self._application()
            async with self._started(application, host):
                yield

    @asynccontextmanager
    async def _started(self, application: App, host: ChannelHost) -> AsyncIterator[None]:
        settings = self._settings
        claims, callbacks, slots = live_state(host.redis, self.bot_id)
        sender = TelegramSender(
            application.bot,
            host.store,
            Pacer(settings.per_chat_interval, settings.global_rate, shared=slots),
            callbacks,
            max_retries=settings.max_retries,
            max_retry_wait=settings.max_retry_wait,
        )
        handlers = UpdateHandlers(
            host, sender, self._templates, claims, redeliver=self._path is not None
        )
        handlers.install(application)
        await self._initialize(application)
        try:
            await application.start()
            await self._connect(application)
            host.outbound.register(Channel.TELEGRAM, _while_live(self, sender, host.outbound))
            self._live = _Live(application, handlers)
            log.info("telegram: running (%s mode)", settings.mode)
            yield
        finally:
            self._live = None
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()

    @property
    def live(self) -> bool:
        return self._live is not None

    def _application(self) -> App:
        builder = Application.builder().token(self._token).job_queue(None)
        if self._settings.base_url:
            base = self._settings.base_url.rstrip("/")
            builder = builder.base_url(f"{base}/bot").base_file_url(f"{base}/file/bot")
        if self._path is not None:
            builder = builder.updater(None)
        else:
            builder = builder.concurrent_updates(True)
        return builder.build()

    async def _initialize(self, application: App) -> None:
        try:
            await application.initialize()  # getMe: checks the token
        except TelegramError as exc:
            await application.bot.shutdown()  # the HTTP clients opened before getMe failed
            if isinstance(exc, InvalidToken):
                reason = "the Bot API refused the bot token (channels.telegram.token)"
            else:
                reason = "the Bot API cannot be reached: " + str(exc).replace(self._token, "***")
            raise TelegramSetupError(reason) from None

    async def _connect(self, application: App) -> None:
        bot, settings = application.bot, self._settings
        try:
            describe = self._templates.render
            commands = [BotCommand(c, describe("en", f"telegram_command_{c}")) for c in COMMANDS]
            await bot.set_my_commands(commands)
            if self.webhook_url is not None:
                if not self.webhook_url.startswith("https://"):
                    log.warning("telegram: the webhook URL is not https; Telegram will refuse it")
                await bot.set_webhook(
                    self.webhook_url,
                    secret_token=self._secret.decode(),
                    allowed_updates=list(ALLOWED_UPDATES),
                )
                log.info("telegram: webhook set to %s", self.webhook_url)
            else:
                assert application.updater is not None
                await application.updater.start_polling(
                    timeout=settings.poll_timeout, allowed_updates=list(ALLOWED_UPDATES)
                )
        except TelegramError as exc:
            reason = str(exc).replace(self._token, "***")
            raise TelegramSetupError(f"telegram: could not connect: {reason}") from None

    # -- the webhook ---------------------------------------------------------------------------

    async def webhook(self, request: web.Request) -> web.Response:
        live = self._live
        if live is None:
            return json_error(503, "the telegram channel is not running")
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            return json_error(401, f"missing {SECRET_HEADER}")
        if not hmac.compare_digest(given.encode(), self._secret):
            log.warning("telegram: webhook call with a wrong secret token refused")
            return json_error(403, f"wrong {SECRET_HEADER}")
        try:
            data = json.loads(await request.read())
            json.dumps(data, ensure_ascii=False).encode()  # no lone surrogate: storable text
        except (UnicodeDecodeError, UnicodeEncodeError, json.JSONDecodeError, RecursionError):
            return json_error(400, "body is not JSON")
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return json_error(400, "not a Telegram update: no integer update_id")
        try:
            update = Update.de_json(data, live.application.bot)
        except Exception as exc:  # the edge: any malformed update is the sender's problem
            log.info("telegram: update %s is malformed: %s", update_id, exc)
            return json_error(400, "not a Telegram update")
        await live.application.process_update(update)
        if live.handlers.take_retry(update_id):
            return json_error(503, "not processed now; please redeliver")
        return web.json_response({"ok": True})


def _while_live(
    channel: TelegramChannel, sender: TelegramSender, outbound: ChannelOutbound
) -> Sender:
    """The outbound sender: Telegram while the channel runs, the outbox once it has stopped."""

    async def send(recipient_id: str, replies: Sequence[Reply]) -> None:
        if channel.live:
            await sender.send_replies(recipient_id, replies)
        else:
            await outbound.outbox.push(f"{Channel.TELEGRAM.value}:{recipient_id}", replies)

    return send
