"""In-process fan-out: which open sockets show which conversation, and delivering to them.

Every message goes into the transcript first (the record), then to every open socket of its
conversation in this process. A socket elsewhere, or none, catches up from the transcript: on
its next ping, or when the widget reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from bot.channels.webchat.protocol import message_frame
from bot.dialogue.messages import Reply
from crm_store.enums import Channel
from crm_store.webchat import Appended, Author, NewEntry, TranscriptEntry, WebchatTranscript

log = logging.getLogger(__name__)

SEND_TIMEOUT = 10.0  # a socket that cannot take a frame in this time is closed
GOING_AWAY = 1001


class SocketPeer:
    """One open WebSocket. Frames pushed before it is `open()` wait, so the welcome comes first."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws
        self._lock = asyncio.Lock()
        self._held: list[Mapping[str, Any]] | None = []

    async def send(self, frame: Mapping[str, Any]) -> None:
        """A frame for this socket alone (a reply to what it sent)."""
        async with self._lock:
            await self._write(frame)

    async def push(self, frame: Mapping[str, Any]) -> None:
        """A frame for every socket of the conversation: held until the welcome is out."""
        async with self._lock:
            if self._held is not None:
                self._held.append(frame)
            else:
                await self._write(frame)

    async def open(self) -> None:
        async with self._lock:
            held, self._held = self._held or [], None
            for frame in held:
                await self._write(frame)

    async def _write(self, frame: Mapping[str, Any]) -> None:
        if self._ws.closed:
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
    ) -> None:
        self._transcript = transcript
        self._hub = hub
        self._elsewhere = elsewhere

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
        if entries:
            await self._hub.push(conversation_id, [message_frame(e) for e in entries])

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
