"""Which open sockets show which conversation, and delivering to them.

Every message goes into the transcript first (the record), then to every open socket of its
conversation in this process, and the fan-out (fanout.py) tells the other processes, whose
sockets read what they lack from the transcript. Each socket remembers which numbers it was sent,
so a message reaching it twice (pushed here and announced by the fan-out, or fetched by a ping)
is written once. A socket that missed an announcement catches up on its next ping, or when the
widget reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from bot.channels.webchat.fanout import Fanout
from bot.channels.webchat.protocol import message_frame
from bot.dialogue.messages import Reply
from crm_store.enums import Channel
from crm_store.errors import StoreUnavailable
from crm_store.webchat import Appended, Author, NewEntry, TranscriptEntry, WebchatTranscript

log = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0  # a socket that cannot take a frame in this time is closed
GOING_AWAY = 1001
SHOWN_GAPS_MAX = 1000  # numbers remembered above a gap; past that the gap is given up on

Reader = Callable[[int], Awaitable[Sequence[TranscriptEntry]]]
"""The transcript of one conversation after a number (a bounded page, oldest first)."""


class Shown:
    """The message numbers one socket was sent: every one up to `upto`, and some above it."""

    def __init__(self) -> None:
        self.upto = 0
        self._above: set[int] = set()

    def start(self, upto: int) -> None:
        self.upto, self._above = upto, set()

    def add(self, seq: int) -> bool:
        """Record `seq`; False when it was sent already."""
        if seq <= self.upto or seq in self._above:
            return False
        self._above.add(seq)
        while self.upto + 1 in self._above:
            self.upto += 1
            self._above.discard(self.upto)
        if len(self._above) > SHOWN_GAPS_MAX:
            self.upto = max(self._above)
            self._above.clear()
        return True


class SocketPeer:
    """One open WebSocket. Frames pushed before it is `open()` wait, so the welcome comes first;
    a message frame whose number it was sent already is dropped."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws
        self._lock = asyncio.Lock()
        self._held: list[Mapping[str, Any]] | None = []
        self._shown = Shown()
        self._wanted = 0  # the highest number announced while held

    async def welcome(self, frame: Mapping[str, Any], upto: int) -> None:
        """The welcome: the widget has every message up to `upto`, and the frame's messages."""
        async with self._lock:
            self._shown.start(upto)
            for message in frame["messages"]:
                self._shown.add(message["seq"])
            await self._write(frame)

    async def send(self, frame: Mapping[str, Any], *, again: bool = False) -> None:
        """A frame for this socket alone (a reply to what it sent); `again`: even a message it
        was sent already (the stored version of a message the widget sends again)."""
        async with self._lock:
            await self._write(frame, again=again)

    async def push(self, frame: Mapping[str, Any]) -> None:
        """A frame for every socket of the conversation: held until the welcome is out."""
        async with self._lock:
            if self._held is not None:
                self._held.append(frame)
            else:
                await self._write(frame)

    async def open(self, read: Reader) -> None:
        async with self._lock:
            held, self._held = self._held or [], None
            for frame in held:
                await self._write(frame)
            if self._wanted > self._shown.upto:
                await self._catch_up(read)

    async def catch_up(self, upto: int | None, read: Reader) -> None:
        """The conversation has messages up to `upto` (None: maybe any): send what this socket
        lacks, read from the transcript after the last number it has without a gap."""
        async with self._lock:
            if self._held is not None:  # the welcome is being made: after it (open)
                self._wanted = max(self._wanted, self._shown.upto + 1 if upto is None else upto)
            elif upto is None or upto > self._shown.upto:
                await self._catch_up(read)

    async def _catch_up(self, read: Reader) -> None:
        for entry in await read(self._shown.upto):
            await self._write(message_frame(entry))

    async def _write(self, frame: Mapping[str, Any], *, again: bool = False) -> None:
        if self._ws.closed:
            return
        if frame.get("type") == "message" and not self._shown.add(frame["seq"]) and not again:
            return
        try:
            await asyncio.wait_for(self._ws.send_json(frame), SEND_TIMEOUT)
        except (ConnectionError, RuntimeError, TimeoutError):
            await self._ws.close()

    async def close(self, code: int = GOING_AWAY) -> None:
        await self._ws.close(code=code, message=b"server going away")


class Hub:
    def __init__(self) -> None:
        self._peers: dict[str, set[SocketPeer]] = {}

    def join(self, conversation_id: str, peer: SocketPeer) -> None:
        self._peers.setdefault(conversation_id, set()).add(peer)

    def leave(self, conversation_id: str, peer: SocketPeer) -> None:
        peers = self._peers.get(conversation_id)
        if peers is not None:
            peers.discard(peer)
            if not peers:
                del self._peers[conversation_id]

    def sockets(self, conversation_id: str) -> int:
        return len(self._peers.get(conversation_id, ()))

    def conversations(self) -> list[str]:
        return list(self._peers)

    async def catch_up(self, conversation_id: str, upto: int | None, read: Reader) -> None:
        """Every socket of the conversation reads what it lacks up to `upto` (fanout.py)."""
        peers = list(self._peers.get(conversation_id, ()))
        await asyncio.gather(*(peer.catch_up(upto, read) for peer in peers))

    async def push(self, conversation_id: str, frames: Sequence[Mapping[str, Any]]) -> None:
        """Every frame, in order, to every socket of the conversation (a slow one delays only
        itself)."""

        async def to(peer: SocketPeer) -> None:
            for frame in frames:
                await peer.push(frame)

        await asyncio.gather(*(to(peer) for peer in list(self._peers.get(conversation_id, ()))))

    async def close_all(self) -> None:
        peers = [peer for group in self._peers.values() for peer in group]
        self._peers.clear()
        await asyncio.gather(*(peer.close() for peer in peers), return_exceptions=True)


def author_of(reply: Reply) -> Author:
    custom = reply.custom or {}
    return Author.AGENT if custom.get("author") == "agent" else Author.BOT


class Delivery:
    """Bot and agent messages: into the transcript, then out to the conversation's sockets.

    A conversation that has never used the widget (no socket open, nothing in its transcript: a
    signed-in user of the REST channel shares the web identity) gets unsolicited messages
    through `elsewhere` (the dialogue's outbox, delivered with its next turn) instead: the
    widget would never show them.
    """

    def __init__(
        self,
        transcript: WebchatTranscript,
        hub: Hub,
        elsewhere: Callable[[str, Sequence[Reply]], Awaitable[None]],
        fanout: Fanout,
        page: int,
    ) -> None:
        self._transcript = transcript
        self._hub = hub
        self._elsewhere = elsewhere
        self._fanout = fanout
        self._page = page  # the most messages one catch-up reads

    async def replies(
        self, conversation_id: str, replies: Sequence[Reply], answering: str | None = None
    ) -> list[Appended]:
        """Store and push `replies`; answering a customer's key makes a repeat store nothing."""
        entries = [
            NewEntry(
                author_of(reply),
                reply.to_json(),
                None if answering is None else f"{answering}/{number}",
            )
            for number, reply in enumerate(replies, start=1)
        ]
        stored = await self._transcript.append(conversation_id, entries)
        await self.push(conversation_id, [a.entry for a in stored if a.new])
        return stored

    async def push(self, conversation_id: str, entries: Sequence[TranscriptEntry]) -> None:
        """Just stored: to this process's sockets, then announced to the other processes."""
        if entries:
            await self._hub.push(conversation_id, [message_frame(e) for e in entries])
            await self._fanout.publish(conversation_id, max(e.seq for e in entries))

    def reader(self, conversation_id: str) -> Reader:
        async def read(after: int) -> list[TranscriptEntry]:
            return await self._transcript.after(conversation_id, after, self._page)

        return read

    async def catch_up(self, conversation_id: str, upto: int | None) -> None:
        """Announced by the fan-out: the conversation's sockets here read what they lack."""
        try:
            await self._hub.catch_up(conversation_id, upto, self.reader(conversation_id))
        except StoreUnavailable as exc:  # the sockets' next ping fetches it
            log.warning("web chat %s: catching up failed: %s", conversation_id, exc)

    async def send(self, recipient_id: str, replies: Sequence[Reply]) -> None:
        """The outbound sender for Channel.WEB: agent replies, queue updates, reminders."""
        conversation_id = f"{Channel.WEB.value}:{recipient_id}"
        if not self._hub.sockets(conversation_id) and not await self._transcript.last_seq(
            conversation_id
        ):
            await self._elsewhere(conversation_id, replies)
            log.info("web chat %s: never used the widget; kept for its next turn", conversation_id)
            return
        stored = await self.replies(conversation_id, replies)
        log.info(
            "web chat %s: %d message(s) pushed to %d socket(s)",
            conversation_id,
            len(stored),
            self._hub.sockets(conversation_id),
        )
