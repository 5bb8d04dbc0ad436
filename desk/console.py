"""The agents' console API: presence, next ticket, offers, the ticket and everything done to it.

Every ticket endpoint first checks the agent may see the ticket (their queues, or assigned or
offered to them; supervisors see all); a refusal is audited. What an agent may do to a ticket
they can see is routing's rule: only the holder replies, waits, resumes or resolves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from desk.access import AGENT, SUPERVISOR
from desk.audit import AuditAction, Outcome
from desk.errors import BadRequest, Conflict, Forbidden
from desk.guard import Call, Guard, Route, int_param, read_json, reply
from desk.ticket_view import ticket_detail, ticket_json
from routing.events import Presence, TicketStatus
from routing.tickets import Ticket

MAX_TEXT = 4000
AGENTS_OR_SUPERVISORS = AGENT | SUPERVISOR


def text_field(body: dict[str, Any], name: str = "text") -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{name}: write something first")
    if len(value) > MAX_TEXT:
        raise BadRequest(f"{name}: at most {MAX_TEXT} characters")
    return value.strip()


async def visible_ticket(call: Call, raw_id: str) -> tuple[Ticket, int | None, datetime | None]:
    """The ticket with whom it is on offer to (and until when), if the caller may see it."""
    ticket_id = int_param(raw_id, "ticket")
    ticket = await call.parts.routing.ticket(ticket_id)
    offered_to = expires = None
    if ticket.status is TicketStatus.OFFERED:
        found = await call.parts.routing.store.open_ticket(ticket_id)
        if found is not None:
            offered_to, expires = found.offered_to, found.offer_expires_at
    if not call.who.may_see(ticket, offered_to=offered_to):
        await call.audit(
            AuditAction.TICKET_REFUSED, outcome=Outcome.REFUSED, target=f"ticket:{ticket_id}"
        )
        raise Forbidden("this ticket is not in your queues")
    return ticket, offered_to, expires


class Console:
    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def routes(self) -> list[web.RouteDef]:
        g = self._guard
        agent: dict[str, Route] = {
            name: g(getattr(self, name), AGENT)
            for name in (
                "console",
                "presence",
                "next",
                "accept",
                "decline",
                "reply",
                "waiting",
                "resume",
                "resolve",
            )
        }
        either: dict[str, Route] = {
            name: g(getattr(self, name), AGENTS_OR_SUPERVISORS)
            for name in ("ticket", "note", "transfer")
        }
        t = "/desk/api/tickets/{ticket_id}"
        return [
            web.get("/desk/api/console", agent["console"]),
            web.post("/desk/api/presence", agent["presence"]),
            web.post("/desk/api/next", agent["next"]),
            web.post("/desk/api/offers/{ticket_id}/accept", agent["accept"]),
            web.post("/desk/api/offers/{ticket_id}/decline", agent["decline"]),
            web.get(t, either["ticket"]),
            web.post(f"{t}/reply", agent["reply"]),
            web.post(f"{t}/note", either["note"]),
            web.post(f"{t}/waiting", agent["waiting"]),
            web.post(f"{t}/resume", agent["resume"]),
            web.post(f"{t}/resolve", agent["resolve"]),
            web.post(f"{t}/transfer", either["transfer"]),
        ]

    async def console(self, call: Call) -> web.StreamResponse:
        """The agent's own state: presence, tickets held, offers waiting for an answer."""
        routing, me = call.parts.routing, call.who.id
        states = {state.agent_id: state for state in await routing.agents()}
        mine = states.get(me)
        offers = [
            {
                "ticket": ticket_json(found.ticket, call.parts.queues),
                "expires_at": found.offer_expires_at.isoformat()
                if found.offer_expires_at
                else None,
            }
            for found in await routing.store.open_tickets()
            if found.offered_to == me
        ]
        lengths = await routing.queue_lengths()
        return reply(
            {
                "presence": (mine.presence if mine else Presence.OFFLINE).value,
                "load": mine.load if mine else 0,
                "capacity": call.who.agent.capacity,
                "tickets": [
                    ticket_json(t, call.parts.queues) for t in await routing.my_tickets(me)
                ],
                "offers": offers,
                "waiting": {
                    q: lengths.get(q, 0) for q in call.who.visible_queues(call.parts.queues)
                },
                "now": call.parts.clock().isoformat(),
            }
        )

    async def presence(self, call: Call) -> web.StreamResponse:
        body = await read_json(call.request)
        try:
            presence = Presence(str(body.get("presence")))
        except ValueError:
            raise BadRequest("presence: available, away or offline") from None
        routing = call.parts.routing
        if presence is Presence.OFFLINE:
            await routing.sign_out(call.who.id)
        else:
            await routing.heartbeat(call.who.id, presence)
        return reply({"presence": presence.value})

    async def next(self, call: Call) -> web.StreamResponse:
        ticket = await call.parts.routing.next_ticket(call.who.id)
        return reply({"ticket": None if ticket is None else ticket_json(ticket, call.parts.queues)})

    async def accept(self, call: Call) -> web.StreamResponse:
        ticket_id = int_param(call.request.match_info["ticket_id"], "ticket")
        ticket = await call.parts.routing.accept_offer(ticket_id, call.who.id)
        return reply({"ticket": ticket_json(ticket, call.parts.queues)})

    async def decline(self, call: Call) -> web.StreamResponse:
        ticket_id = int_param(call.request.match_info["ticket_id"], "ticket")
        await call.parts.routing.decline_offer(ticket_id, call.who.id)
        return reply({"declined": ticket_id})

    async def ticket(self, call: Call) -> web.StreamResponse:
        ticket, offered_to, expires = await visible_ticket(
            call, call.request.match_info["ticket_id"]
        )
        detail = await ticket_detail(
            call.parts, ticket, offered_to=offered_to, offer_expires=expires
        )
        return reply(detail)

    async def reply(self, call: Call) -> web.StreamResponse:
        ticket, _, _ = await visible_ticket(call, call.request.match_info["ticket_id"])
        text = text_field(await read_json(call.request))
        done = await call.parts.routing.agent_message(ticket.id, call.who.id, text)
        return reply({"ticket": ticket_json(done, call.parts.queues)})

    async def note(self, call: Call) -> web.StreamResponse:
        ticket, _, _ = await visible_ticket(call, call.request.match_info["ticket_id"])
        text = text_field(await read_json(call.request))
        actor = f"{'agent' if call.who.has_any(AGENT) else 'supervisor'}:{call.who.id}"
        done = await call.parts.routing.note(ticket.id, actor, text, agent_id=call.who.id)
        return reply({"ticket": ticket_json(done, call.parts.queues)})

    async def waiting(self, call: Call) -> web.StreamResponse:
        ticket, _, _ = await visible_ticket(call, call.request.match_info["ticket_id"])
        done = await call.parts.routing.wait_on_customer(ticket.id, call.who.id)
        return reply({"ticket": ticket_json(done, call.parts.queues)})

    async def resume(self, call: Call) -> web.StreamResponse:
        ticket, _, _ = await visible_ticket(call, call.request.match_info["ticket_id"])
        done = await call.parts.routing.resume(ticket.id, call.who.id)
        return reply({"ticket": ticket_json(done, call.parts.queues)})

    async def resolve(self, call: Call) -> web.StreamResponse:
        ticket, _, _ = await visible_ticket(call, call.request.match_info["ticket_id"])
        body = await read_json(call.request)
        code = body.get("code")
        if not isinstance(code, str) or call.parts.config.resolution_code(code) is None:
            known = ", ".join(c.key for c in call.parts.config.resolution_codes)
            raise BadRequest(f"code: one of {known}")
        done = await call.parts.routing.resolve(ticket.id, call.who.id, code)
        return reply({"ticket": ticket_json(done, call.parts.queues)})

    async def transfer(self, call: Call) -> web.StreamResponse:
        """To a queue (it waits there) and/or an agent. Agents move only tickets they hold;
        supervisors any open ticket (the dashboard's "reassign")."""
        ticket, _, _ = await visible_ticket(call, call.request.match_info["ticket_id"])
        body = await read_json(call.request)
        queue, agent_id, reason = body.get("queue"), body.get("agent_id"), body.get("reason")
        if queue is not None and (not isinstance(queue, str) or queue not in call.parts.queues):
            raise BadRequest("queue: not one of the desk's queues")
        if agent_id is not None and (isinstance(agent_id, bool) or not isinstance(agent_id, int)):
            raise BadRequest("agent_id: a whole number")
        if queue is None and agent_id is None:
            raise BadRequest("say where to: a queue, an agent or both")
        if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
            raise BadRequest("reason: a short text")
        supervising = call.who.oversees
        if not supervising and ticket.assigned_agent_id != call.who.id:
            raise Conflict("you can only transfer a ticket you are handling")
        if not ticket.is_open:
            raise Conflict(f"the ticket is {ticket.status}")
        if agent_id is not None and await call.parts.store.agents.get(agent_id) is None:
            raise BadRequest(f"no agent {agent_id}")
        role = "supervisor" if supervising and ticket.assigned_agent_id != call.who.id else "agent"
        done = await call.parts.routing.transfer(
            ticket.id,
            actor=f"{role}:{call.who.id}",
            to_queue=queue,
            to_agent=agent_id,
            reason=reason,
        )
        action = AuditAction.REASSIGN if role == "supervisor" else AuditAction.TRANSFER
        await call.audit(action, target=f"ticket:{ticket.id}", queue=queue, agent_id=agent_id)
        return reply({"ticket": ticket_json(done, call.parts.queues)})
