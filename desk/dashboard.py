"""The supervisors' dashboard API: the live board, the day's intervals, one-click actions, CSV
exports, the knowledge-base gaps report and (admins) the audit log."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from desk import exports
from desk.access import ADMIN, SUPERVISOR
from desk.audit import AuditAction
from desk.console import visible_ticket
from desk.errors import BadRequest, Conflict
from desk.guard import Call, Guard, Route, read_json, reply
from desk.numbers import AgentRow, Board
from desk.parts import DeskParts
from desk.ticket_view import ticket_json
from routing.metrics import GroupKey, QueueMetrics

MAX_GAP_DAYS = 366


def metrics_json(m: QueueMetrics | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        "offered": m.offered,
        "answered": m.answered,
        "answered_within": m.answered_within,
        "abandoned": m.abandoned,
        "short_abandoned": m.short_abandoned,
        "waiting": m.waiting,
        "service_level": m.service_level,
        "average_speed_of_answer": m.average_speed_of_answer,
        "longest_wait": m.longest_wait,
        "handle_time": m.handle_time,
        "satisfaction": m.satisfaction,
        "ratings": m.ratings,
        "backlog": m.backlog,
    }


def _level(m: QueueMetrics | None) -> float | None:
    return None if m is None else m.service_level


def queue_rows(board: Board, parts: DeskParts) -> list[dict[str, Any]]:
    rows = []
    for spec in parts.queues:
        key, live, today = spec.key, board.realtime.get(spec.key), board.today.get(spec.key)
        rows.append(
            {
                "key": key,
                "name": spec.name or key,
                "waiting": live.waiting if live else 0,
                "longest_wait": live.longest_wait if live else None,
                "agents_available": live.agents_available if live else 0,
                "agents_busy": live.agents_busy if live else 0,
                "agents_away": live.agents_away if live else 0,
                "service_level": {
                    "interval": _level(board.interval.get(key)),
                    "hour": _level(board.last_hour.get(key)),
                    "today": _level(today),
                },
                "average_speed_of_answer": today.average_speed_of_answer if today else None,
                "offered_today": today.offered if today else 0,
                "answered_today": today.answered if today else 0,
                "abandoned_today": today.abandoned if today else 0,
                "backlog": sum(1 for t in board.open_tickets if t.queue == key),
                "breaches_today": board.breaches_today.get(key, 0),
                "satisfaction_today": today.satisfaction if today else None,
            }
        )
    return rows


def agent_row(row: AgentRow, names: dict[int, str]) -> dict[str, Any]:
    s = row.state
    return {
        "id": s.agent_id,
        "display_name": names.get(s.agent_id, f"agent {s.agent_id}"),
        "presence": s.presence.value,
        "load": s.load,
        "capacity": s.capacity,
        "queues": list(s.queues),
        "handled_today": row.handled_today,
        "answered_today": row.answered_today,
        "handle_time": row.handle_time,
    }


async def board_json(parts: DeskParts, board: Board) -> dict[str, Any]:
    names = {a.id: a.display_name for a in await parts.store.agents.all()}
    customers = await parts.history.customer_names([t.customer_id for t in board.open_tickets])
    tickets = {t.id: t for t in board.open_tickets}
    alerts = []
    for view in board.alerts:
        ticket = tickets[view.ticket_id]
        alerts.append(
            {
                **view.to_json(),
                "ticket_id": ticket.id,
                "queue": ticket.queue,
                "priority": ticket.priority,
                "status": ticket.status.value,
                "customer": customers.get(ticket.customer_id),
                "agent": names.get(ticket.assigned_agent_id or 0),
            }
        )
    return {
        "now": board.now.isoformat(),
        "day_start": board.day_start.isoformat(),
        "queues": queue_rows(board, parts),
        "totals": metrics_json(board.totals),
        "agents": [agent_row(row, names) for row in board.agents],
        "alerts": alerts,
        "open_tickets": [
            {
                **ticket_json(t, parts.queues),
                "customer": customers.get(t.customer_id),
                "agent": names.get(t.assigned_agent_id or 0),
            }
            for t in sorted(board.open_tickets, key=lambda t: (-t.priority, t.created_at))
        ],
        "messages_today": [
            {"channel": channel, "direction": direction, "count": n}
            for (channel, direction), n in sorted(board.messages_today.items())
        ],
    }


def interval_rows(found: dict[GroupKey, QueueMetrics]) -> list[dict[str, Any]]:
    return [
        {
            "queue": key.queue,
            "interval": key.interval.isoformat() if key.interval else None,
            **(metrics_json(value) or {}),
        }
        for key, value in found.items()
    ]


def day_param(call: Call) -> date:
    raw = call.request.query.get("date")
    today = call.parts.clock().astimezone(call.parts.config.timezone).date()
    if not raw:
        return today
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("date: YYYY-MM-DD") from None
    if day > today:
        raise BadRequest("date: not in the future")
    return day


class Dashboard:
    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def routes(self) -> list[web.RouteDef]:
        g = self._guard
        sup: dict[str, Route] = {
            name: g(getattr(self, name), SUPERVISOR)
            for name in ("board", "intervals", "priority", "gaps", "intervals_csv", "tickets_csv")
        }
        audit: Route = g(self.audit, ADMIN)
        return [
            web.get("/desk/api/dashboard", sup["board"]),
            web.get("/desk/api/dashboard/intervals", sup["intervals"]),
            web.post("/desk/api/tickets/{ticket_id}/priority", sup["priority"]),
            web.get("/desk/api/kb-gaps", sup["gaps"]),
            web.get("/desk/api/export/intervals.csv", sup["intervals_csv"]),
            web.get("/desk/api/export/tickets.csv", sup["tickets_csv"]),
            web.get("/desk/api/audit", audit),
        ]

    async def board(self, call: Call) -> web.StreamResponse:
        board = await call.parts.numbers.board(call.parts.clock())
        return reply(await board_json(call.parts, board))

    async def intervals(self, call: Call) -> web.StreamResponse:
        day = day_param(call)
        queues, totals = await call.parts.numbers.intervals(day, call.parts.clock())
        minutes = int(call.parts.config.metrics.interval / timedelta(minutes=1))
        return reply(
            {
                "date": day.isoformat(),
                "interval_minutes": minutes,
                "queues": interval_rows(queues),
                "totals": interval_rows(totals),
            }
        )

    async def priority(self, call: Call) -> web.StreamResponse:
        """One-click "raise priority" (by the configured step), or set a given priority."""
        ticket, _, _ = await visible_ticket(call, call.request.match_info["ticket_id"])
        body = await read_json(call.request)
        value = body.get("priority")
        if value is None:
            value = ticket.priority + call.parts.config.priority_step
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**6:
            raise BadRequest("priority: a whole number from 0 to 1000000")
        if not ticket.is_open:
            raise Conflict(f"the ticket is {ticket.status}")
        reason = str(body.get("reason") or "raised on the dashboard")[:200]
        done = await call.parts.routing.reprioritise(
            ticket.id, value, actor=f"supervisor:{call.who.id}", reason=reason
        )
        call.parts.numbers.forget()
        await call.audit(AuditAction.PRIORITY, target=f"ticket:{ticket.id}", priority=value)
        return reply({"ticket": ticket_json(done, call.parts.queues)})

    async def gaps(self, call: Call) -> web.StreamResponse:
        raw = call.request.query.get("days", "7")
        if not raw.isdigit() or not 0 < int(raw) <= MAX_GAP_DAYS:
            raise BadRequest(f"days: 1 to {MAX_GAP_DAYS}")
        since = call.parts.clock() - timedelta(days=int(raw))
        gaps = await call.parts.store.knowledge_log.gaps(since)
        return reply(
            [
                {
                    "question": g.question,
                    "times": g.times,
                    "last_asked": g.last_asked.isoformat(),
                    "article": g.article_slug,
                    "unhelpful": g.unhelpful,
                }
                for g in gaps
            ]
        )

    async def intervals_csv(self, call: Call) -> web.StreamResponse:
        day = day_param(call)
        queues, totals = await call.parts.numbers.intervals(day, call.parts.clock())
        body = exports.intervals_csv(queues, totals, call.parts.config)
        await call.audit(AuditAction.EXPORT, target="intervals", date=day.isoformat())
        return exports.csv_response(body, f"intervals-{day.isoformat()}.csv")

    async def tickets_csv(self, call: Call) -> web.StreamResponse:
        day = day_param(call)
        body = await exports.tickets_csv(call.parts, day)
        await call.audit(AuditAction.EXPORT, target="tickets", date=day.isoformat())
        return exports.csv_response(body, f"tickets-{day.isoformat()}.csv")

    async def audit(self, call: Call) -> web.StreamResponse:
        raw = call.request.query.get("limit", "200")
        if not raw.isdigit() or not 0 < int(raw) <= 1000:
            raise BadRequest("limit: 1 to 1000")
        entries = await call.parts.audit.recent(limit=int(raw))
        return reply(
            [
                {
                    "id": e.id,
                    "at": e.at.isoformat() if e.at else None,
                    "action": e.action.value,
                    "outcome": e.outcome.value,
                    "agent_id": e.agent_id,
                    "username": e.username,
                    "address": e.address,
                    "target": e.target,
                    "detail": dict(e.detail),
                }
                for e in entries
            ]
        )
