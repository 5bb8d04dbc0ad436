"""Booking and cancelling a customer's appointments from the console, and the lists the console's
forms need (services and practitioners; colleagues to transfer to)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from desk.access import AGENT, SUPERVISOR
from desk.audit import AuditAction
from desk.console import visible_ticket
from desk.errors import BadRequest, Conflict, Forbidden
from desk.guard import Call, Guard, Route, int_param, read_json, reply
from desk.ticket_view import appointment_json
from routing.events import Presence
from routing.tickets import Ticket

AGENTS_OR_SUPERVISORS = AGENT | SUPERVISOR


def _key(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise BadRequest(f"{name}: choose one")
    return value


def _start(body: dict[str, Any]) -> datetime:
    value = body.get("start_at")
    try:
        start = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise BadRequest("start_at: a date and time with its offset, like 2026-12-01T10:00+00:00")
    return start


def _must_handle(call: Call, ticket: Ticket) -> None:
    if not call.who.oversees and ticket.assigned_agent_id != call.who.id:
        raise Conflict("take the ticket first: only the agent handling it can book for it")


class Bookings:
    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def routes(self) -> list[web.RouteDef]:
        g = self._guard
        catalog: Route = g(self.catalog, AGENTS_OR_SUPERVISORS)
        agents: Route = g(self.agents, AGENTS_OR_SUPERVISORS)
        book: Route = g(self.book, AGENTS_OR_SUPERVISORS)
        cancel: Route = g(self.cancel, AGENTS_OR_SUPERVISORS)
        t = "/desk/api/tickets/{ticket_id}/appointments"
        return [
            web.get("/desk/api/catalog", catalog),
            web.get("/desk/api/agents", agents),
            web.post(t, book),
            web.post(t + "/{appointment_id}/cancel", cancel),
        ]

    async def catalog(self, call: Call) -> web.StreamResponse:
        store = call.parts.store
        return reply(
            {
                "services": [
                    {
                        "key": s.key,
                        "name": s.name,
                        "duration_minutes": s.duration_minutes,
                        "price": str(s.price),
                        "skill": s.skill,
                    }
                    for s in await store.catalog.services()
                ],
                "resources": [
                    {"key": r.key, "name": r.name, "skills": list(r.skills)}
                    for r in await store.catalog.resources()
                ],
            }
        )

    async def agents(self, call: Call) -> web.StreamResponse:
        """Colleagues and whether they are there (for a transfer)."""
        live = {state.agent_id: state for state in await call.parts.routing.agents()}
        return reply(
            [
                {
                    "id": a.id,
                    "display_name": a.display_name,
                    "presence": (live[a.id].presence if a.id in live else Presence.OFFLINE).value,
                    "load": live[a.id].load if a.id in live else 0,
                    "capacity": a.capacity,
                }
                for a in await call.parts.store.agents.all()
                if a.active
            ]
        )

    async def book(self, call: Call) -> web.StreamResponse:
        ticket, _, _ = await visible_ticket(call, call.request.match_info["ticket_id"])
        _must_handle(call, ticket)
        body = await read_json(call.request)
        service, resource, start = _key(body, "service"), _key(body, "resource"), _start(body)
        booked = await call.parts.store.appointments.book(
            ticket.customer_id, service, resource, start
        )
        text = f"booked {booked.service_name} with {booked.resource_name} at {start.isoformat()}"
        await call.parts.routing.note(ticket.id, f"agent:{call.who.id}", text, agent_id=call.who.id)
        await call.audit(
            AuditAction.APPOINTMENT_BOOKED, target=f"appointment:{booked.id}", ticket=ticket.id
        )
        return reply({"appointment": appointment_json(booked)}, status=201)

    async def cancel(self, call: Call) -> web.StreamResponse:
        ticket, _, _ = await visible_ticket(call, call.request.match_info["ticket_id"])
        _must_handle(call, ticket)
        appointment_id = int_param(call.request.match_info["appointment_id"], "appointment")
        appointments = call.parts.store.appointments
        found = await appointments.get(appointment_id)
        if found.customer_id != ticket.customer_id:
            raise Forbidden("that appointment belongs to another customer")
        cancelled = await appointments.cancel(appointment_id)
        text = f"cancelled {cancelled.service_name} at {cancelled.start_at.isoformat()}"
        await call.parts.routing.note(ticket.id, f"agent:{call.who.id}", text, agent_id=call.who.id)
        await call.audit(
            AuditAction.APPOINTMENT_CANCELLED,
            target=f"appointment:{appointment_id}",
            ticket=ticket.id,
        )
        return reply({"appointment": appointment_json(cancelled)})
