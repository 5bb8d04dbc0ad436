"""CSV exports of the day's interval metrics and tickets (for spreadsheets and workforce tools).

Times are written in the business time zone with their offset. A cell that a spreadsheet would
read as a formula (starting with = + - @, a tab or a carriage return) is prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from desk.config import DeskConfig
from desk.numbers import day_bounds
from routing.metrics import GroupKey, QueueMetrics

if TYPE_CHECKING:
    from desk.parts import DeskParts

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
INTERVAL_COLUMNS = [
    "interval_start",
    "interval_end",
    "queue",
    "offered",
    "answered",
    "answered_within",
    "abandoned",
    "short_abandoned",
    "service_level",
    "average_speed_of_answer",
    "longest_wait",
    "handle_time",
    "satisfaction",
    "backlog",
]
TICKET_COLUMNS = [
    "id",
    "created_at",
    "queue",
    "channel",
    "tier",
    "urgency",
    "status",
    "priority",
    "assigned_agent",
    "intent",
    "confidence",
    "first_response_at",
    "resolved_at",
    "resolution_code",
    "rating",
]


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".")
    text = str(value)
    if text.startswith(FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(value) for value in row])
    return out.getvalue()


def csv_response(body: str, filename: str) -> web.Response:
    response = web.Response(text=body, content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _local(at: datetime | None, config: DeskConfig) -> str | None:
    return None if at is None else at.astimezone(config.timezone).isoformat()


def _start(key: GroupKey) -> datetime:
    assert key.interval is not None
    return key.interval


def intervals_csv(
    queues: Mapping[GroupKey, QueueMetrics],
    totals: Mapping[GroupKey, QueueMetrics],
    config: DeskConfig,
) -> str:
    """One row per (interval, queue) with records, then one per interval for all queues."""
    size = config.metrics.interval
    rows = []
    ordered = sorted(queues.items(), key=lambda kv: (_start(kv[0]), kv[0].queue or ""))
    everything = [*ordered, *sorted(totals.items(), key=lambda kv: _start(kv[0]))]
    for key, m in everything:
        start = key.interval
        assert start is not None
        rows.append(
            [
                _local(start, config),
                _local(start + size, config),
                key.queue or "(all)",
                m.offered,
                m.answered,
                m.answered_within,
                m.abandoned,
                m.short_abandoned,
                m.service_level,
                m.average_speed_of_answer,
                m.longest_wait,
                m.handle_time,
                m.satisfaction,
                m.backlog,
            ]
        )
    return write_csv(INTERVAL_COLUMNS, rows)


async def tickets_csv(parts: DeskParts, day: date) -> str:
    """Every ticket created that day (business time zone)."""
    config = parts.config
    start, end = day_bounds(config, day)
    tickets = await parts.history.tickets_created(start, end)
    ended = await parts.numbers.resolutions([t.id for t in tickets if t.resolved_at])
    names = {a.id: a.username for a in await parts.store.agents.all()}
    rows = []
    for t in tickets:
        code, resolver = ended.get(t.id, (None, None))
        agent = names.get(t.assigned_agent_id or resolver or 0)
        created, first, resolved = (
            _local(at, config) for at in (t.created_at, t.first_response_at, t.resolved_at)
        )
        rows.append(
            [
                *(t.id, created, t.queue, t.channel.value, t.tier.value, t.urgency.value),
                *(t.status.value, t.priority, agent, t.intent, t.confidence),
                *(first, resolved, code, t.rating),
            ]
        )
    return write_csv(TICKET_COLUMNS, rows)
