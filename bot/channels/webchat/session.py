"""One open WebSocket: the hello, then the visitor's messages, one at a time, each exactly once.

A customer message is stored under its idempotency key, shown on every socket of the
conversation, answered by the dialogue (message id = the key, so a re-sent message is handled
once there too), and the answers are stored under keys derived from it; only then is it
acknowledged, so a message in flight when the server stops is re-sent by the widget and picked
up where it was left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from bot.channels.host import ChannelHost
from bot.channels.webchat import protocol as p
from bot.channels.webchat.hub import Delivery, Hub, SocketPeer
from bot.channels.webchat.limiter import RateLimiter
from bot.channels.webchat.visitor import Visitor, identify
from bot.config import WebchatChannel as WebchatSettings
from bot.dialogue.admission import Busy, worth_logging
from bot.dialogue.messages import InboundMessage
from bot.dialogue.templates import Templates
from crm_store.enums import Channel
from crm_store.errors import InvalidInput, StoreUnavailable
from crm_store.webchat import TranscriptEntry

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0  # seconds a socket may stay open without saying hello
MAX_QUEUED = 20  # messages waiting for their turn on one socket


class Workers:
    """The sockets' message workers. One that is answering when its socket closes finishes that
    message (a turn is never cut in half); the channel waits for them when it stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def finish(self, within: float) -> None:
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=within)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


@dataclass(frozen=True)
class SessionContext:
    """What every socket of the running channel shares."""

    settings: WebchatSettings
    templates: Templates
    host: ChannelHost
    hub: Hub
    delivery: Delivery
    limiter: RateLimiter
    workers: Workers

    def text(self, key: str, **fields: Any) -> str:
        return self.templates.render("en", key, **fields)

    def now(self) -> datetime:
        return self.host.clock()


class ChatSession:
    def __init__(self, context: SessionContext, ws: web.WebSocketResponse) -> None:
        self._c = context
        self._ws = ws
        self._peer = SocketPeer(ws)
        self._visitor: Visitor | None = None
        self._queue: asyncio.Queue[p.Send | None] = asyncio.Queue(MAX_QUEUED + 1)

    async def serve(self) -> None:
        """Read frames until the socket closes; messages are worked off in order meanwhile."""
        self._c.workers.spawn(self._work())
        watchdog = asyncio.create_task(self._drop_if_silent())
        try:
            async for msg in self._ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_text(msg.data)
                else:
                    await self._error(p.ErrorCode.BAD_FRAME, "a frame must be JSON text")
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            while not self._queue.empty():  # not started: the widget sends them again
                self._queue.get_nowait()
            self._queue.put_nowait(None)  # the worker stops after the message it is on
            if self._visitor is not None:
                self._c.hub.leave(self._visitor.conversation_id, self._peer)

    async def _drop_if_silent(self) -> None:
        await asyncio.sleep(HELLO_TIMEOUT)
        if self._visitor is None:
            await self._ws.close(code=4408, message=b"no hello in time")

    async def _on_text(self, raw: str) -> None:
        try:
            frame = p.parse(raw)
        except p.BadFrame as exc:
            await self._error(p.ErrorCode.BAD_FRAME, f"{self._c.text('webchat_bad_frame')} ({exc})")
            return
        if isinstance(frame, p.Hello):
            await self._hello(frame)
        elif self._visitor is None:
            await self._error(p.ErrorCode.HELLO_FIRST, "say hello first")
        elif isinstance(frame, p.Ping):
            await self._ping(self._visitor, frame)
        else:
            await self._accept(self._visitor, frame)

    async def _error(self, code: p.ErrorCode, message: str, **extra: Any) -> None:
        await self._peer.send(p.error_frame(code, message, **extra))

    # -- hello and catching up ---------------------------------------------------------------------

    async def _hello(self, hello: p.Hello) -> None:
        if self._visitor is not None:
            await self._error(p.ErrorCode.BAD_FRAME, "hello was already said on this connection")
            return
        settings = self._c.settings
        visitor, rejected = identify(
            hello, settings.identity_secret, self._c.now(), settings.max_token_age
        )
        self._visitor = visitor
        cid = visitor.conversation_id
        self._c.hub.join(cid, self._peer)  # before reading: nothing stored meanwhile is missed
        history, reset = await self._history(cid, hello.last_seq)
        interval = settings.heartbeat.total_seconds()
        welcome = p.welcome_frame(visitor.session, visitor.verified, reset, history, interval)
        has = (history[0].seq - 1 if history else 0) if reset else hello.last_seq
        await self._peer.welcome(welcome, has)
        await self._peer.open(self._c.delivery.reader(cid))
        if rejected is not None:
            await self._error(
                p.ErrorCode.IDENTITY_REJECTED, self._c.text("webchat_identity_rejected")
            )
        log.info("web chat %s connected (%s)", cid, "verified" if visitor.verified else "anonymous")

    async def _history(self, cid: str, last_seq: int) -> tuple[list[TranscriptEntry], bool]:
        """What the widget lacks after `last_seq`, or (reset) the latest messages."""
        transcript, limit = self._c.host.store.webchat, self._c.settings.history_messages
        if last_seq > 0:
            newer = await transcript.after(cid, last_seq, limit + 1)
            if len(newer) <= limit and (newer or await transcript.last_seq(cid) >= last_seq):
                return newer, False
        return await transcript.latest(cid, limit), True

    async def _ping(self, visitor: Visitor, ping: p.Ping) -> None:
        if ping.last_seq is not None:  # what an announcement missed (fanout.py) arrives here
            transcript = self._c.host.store.webchat
            limit = self._c.settings.history_messages
            for entry in await transcript.after(visitor.conversation_id, ping.last_seq, limit):
                await self._peer.send(p.message_frame(entry))
        await self._peer.send(p.PONG)

    # -- customer messages -------------------------------------------------------------------------

    async def _accept(self, visitor: Visitor, send: p.Send) -> None:
        limit = self._c.settings.max_message_chars
        if not send.text.strip():
            await self._error(p.ErrorCode.BAD_FRAME, "the message is empty", key=send.key)
        elif len(send.text) > limit:
            message = self._c.text("webchat_too_long", limit=limit)
            await self._error(p.ErrorCode.TOO_LONG, message, key=send.key)
        elif (
            not await self._c.limiter.allow(visitor.conversation_id)
            or self._queue.qsize() >= MAX_QUEUED
        ):
            log.info("web chat %s: message refused by the rate limit", visitor.conversation_id)
            message = self._c.text("webchat_rate_limited")
            await self._error(p.ErrorCode.RATE_LIMITED, message, key=send.key)
        else:
            self._queue.put_nowait(send)

    async def _work(self) -> None:
        while (send := await self._queue.get()) is not None:
            visitor = self._visitor
            assert visitor is not None
            try:
                await self._deliver(visitor, send)
            except (StoreUnavailable, Busy) as exc:
                if worth_logging(exc):
                    log.warning("web chat %s: busy; the widget re-sends", visitor.conversation_id)
                await self._error(
                    p.ErrorCode.BUSY, self._c.text("webchat_busy"), key=send.key, retry=True
                )
            except InvalidInput as exc:
                await self._error(
                    p.ErrorCode.FAILED,
                    f"{self._c.text('webchat_failed')} ({exc.reason})",
                    key=send.key,
                )
            except Exception:  # the channel's edge: a polite answer and a log line
                log.exception("web chat %s: message failed", visitor.conversation_id)
                await self._error(p.ErrorCode.FAILED, self._c.text("webchat_failed"), key=send.key)

    async def _deliver(self, visitor: Visitor, send: p.Send) -> None:
        cid, transcript, hub = visitor.conversation_id, self._c.host.store.webchat, self._c.hub
        body: dict[str, str] = {"text": send.text}
        if send.title:
            body["title"] = send.title
        stored = await transcript.append_customer(cid, send.key, body)
        if stored.new:
            await self._c.delivery.push(cid, [stored.entry])
        else:  # a re-send: this socket may have missed it; answered already?
            await self._peer.send(p.message_frame(stored.entry), again=True)
            if await transcript.by_key(cid, f"{send.key}/1") is not None:
                await self._peer.send(p.ack_frame(send.key, stored.entry.seq))
                return
        await hub.push(cid, [p.typing_frame(True)])
        try:
            replies = await self._c.host.handle(self._inbound(visitor, send))
        finally:
            await hub.push(cid, [p.typing_frame(False)])
        await self._c.delivery.replies(cid, replies, answering=send.key)
        await self._peer.send(p.ack_frame(send.key, stored.entry.seq))

    def _inbound(self, visitor: Visitor, send: p.Send) -> InboundMessage:
        return InboundMessage(
            channel=Channel.WEB,
            sender_id=visitor.sender_id,
            text=send.text,
            received_at=self._c.now(),
            message_id=send.key,
            verified=visitor.verified,
            metadata=_metadata(send),
        )


def _metadata(send: p.Send) -> Mapping[str, Any]:
    return {"title": send.title} if send.title else {}
