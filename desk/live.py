"""Live updates for the console and the dashboard: server-sent events fed by routing's desk bus.

`GET /desk/api/events` streams `event: ticket` messages (the DeskEvent as JSON) for what the
caller may see: an agent the queues they serve and the tickets offered or assigned to them,
supervisors everything. A comment line every `live_heartbeat` keeps proxies from closing the
stream and re-checks the session: once it has ended the stream says `event: signed_out` and
closes. Events are best effort: a page that reconnects reloads its lists (EventSource retries).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from desk.access import ANYONE
from desk.errors import NotSignedIn
from desk.guard import Call, Guard, Route, signed_in
from routing.desk_bus import DeskEvent, Interest
from routing.errors import DispatchUnavailable

log = logging.getLogger(__name__)
RETRY_MS = 3000


def interest_of(call: Call) -> Interest:
    if call.who.oversees:
        return Interest(everything=True)
    return Interest(queues=call.who.queues, agent_id=call.who.id)


def event_message(event: DeskEvent) -> bytes:
    return f"event: ticket\nid: {event.ticket_id}-{event.seq}\ndata: {event.to_json()}\n\n".encode()


class LiveEvents:
    def __init__(self, guard: Guard) -> None:
        self._guard = guard
        self._stopping: asyncio.Event | None = None

    def routes(self) -> list[web.RouteDef]:
        events: Route = self._guard(self.events, ANYONE)
        return [web.get("/desk/api/events", events)]

    def start(self) -> None:
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """Close every open stream (the server is shutting down)."""
        if self._stopping is not None:
            self._stopping.set()

    async def events(self, call: Call) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
            }
        )
        await response.prepare(call.request)
        try:
            await response.write(f"retry: {RETRY_MS}\nevent: hello\ndata: {{}}\n\n".encode())
            async with call.parts.bus.subscribe(interest_of(call)) as stream:
                await self._pump(call, response, stream)
        except (ConnectionResetError, DispatchUnavailable) as exc:
            log.debug("live stream of agent %s ended: %s", call.who.id, exc)
        return response

    async def _pump(
        self, call: Call, response: web.StreamResponse, stream: AsyncIterator[DeskEvent]
    ) -> None:
        stopping = self._stopping or asyncio.Event()
        beat = call.parts.config.live_heartbeat.total_seconds()
        stop = asyncio.ensure_future(stopping.wait())
        pending = asyncio.ensure_future(anext(stream))
        try:
            while True:
                done, _ = await asyncio.wait(
                    {pending, stop}, timeout=beat, return_when="FIRST_COMPLETED"
                )
                if stop in done:
                    return
                if pending not in done:
                    if not await self._still_signed_in(call, response):
                        return
                    continue
                event = pending.result()
                pending = asyncio.ensure_future(anext(stream))
                if call.who.oversees:
                    call.parts.numbers.forget()
                await response.write(event_message(event))
        finally:
            for task in (pending, stop):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                    await task

    async def _still_signed_in(self, call: Call, response: web.StreamResponse) -> bool:
        try:
            await signed_in(call.request, call.parts)
        except NotSignedIn:
            await response.write(b"event: signed_out\ndata: {}\n\n")
            return False
        await response.write(b": ping\n\n")
        return True
