"""`GET /metrics` in Prometheus' text format (version 0.0.4), written by hand.

Queue, SLA, agent and message figures come from the dashboard's board (the database: the same
in every process). NLU latency is a histogram of this process's parses (`TimedInterpreter`).
With `desk.metrics_token` set, a scrape must send `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import bisect
import hmac
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from desk.errors import DeskError
from desk.guard import error_response, json_error
from desk.numbers import Board
from desk.parts import Runtime, TurnLoad

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NLU_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Labels = Mapping[str, str]


class Histogram:
    """Cumulative buckets, a sum and a count, as Prometheus histograms have."""

    def __init__(self, buckets: Sequence[float] = NLU_BUCKETS) -> None:
        self.bounds = tuple(sorted(buckets))
        self._counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self._counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        running, found = 0, []
        for bound, n in zip([*self.bounds, math.inf], self._counts, strict=True):
            running += n
            found.append(("+Inf" if bound == math.inf else _number(bound), running))
        return found


class TimedInterpreter:
    """Wraps the NLU interpreter (anything with `async parse(text, reference_time, timezone)`)
    and records each parse's duration."""

    def __init__(self, inner: Any, histogram: Histogram) -> None:
        self._inner = inner
        self._histogram = histogram

    async def parse(
        self, text: str, reference_time: datetime | None = None, timezone: str | None = None
    ) -> Any:
        start = time.perf_counter()
        try:
            return await self._inner.parse(text, reference_time, timezone)
        finally:
            self._histogram.observe(time.perf_counter() - start)


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


class Exposition:
    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[Labels, float | None]]
    ) -> None:
        self._lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            if value is not None:
                self._lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def histogram(self, name: str, help_text: str, histogram: Histogram) -> None:
        self._lines += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for bound, n in histogram.cumulative():
            self._lines.append(f'{name}_bucket{{le="{bound}"}} {n}')
        self._lines.append(f"{name}_sum {_number(histogram.sum)}")
        self._lines.append(f"{name}_count {histogram.count}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def render(
    board: Board, queues: Sequence[str], nlu: Histogram, turns: TurnLoad | None = None
) -> str:
    out = Exposition()
    live, today = board.realtime, board.today

    def per_queue(value: Any) -> list[tuple[Labels, float | None]]:
        return [({"queue": q}, value(q)) for q in queues]

    out.family(
        "frontdesk_queue_waiting",
        "gauge",
        "Tickets waiting for an agent (queued or offered).",
        per_queue(lambda q: live[q].waiting if q in live else 0),
    )
    out.family(
        "frontdesk_queue_longest_wait_seconds",
        "gauge",
        "How long the ticket waiting longest has waited (0 when none waits).",
        per_queue(lambda q: (live[q].longest_wait or 0) if q in live else 0),
    )
    out.family(
        "frontdesk_queue_open_tickets",
        "gauge",
        "Open tickets (the backlog).",
        per_queue(lambda q: sum(t.queue == q for t in board.open_tickets)),
    )
    windows = {"interval": board.interval, "hour": board.last_hour, "today": today}
    out.family(
        "frontdesk_queue_service_level_ratio",
        "gauge",
        "Share answered within the threshold (0-1) in the current interval, the last hour, today.",
        [
            ({"queue": q, "window": w}, found[q].service_level if q in found else None)
            for q in queues
            for w, found in windows.items()
        ],
    )
    out.family(
        "frontdesk_queue_average_speed_of_answer_seconds",
        "gauge",
        "Mean wait of the tickets answered today.",
        per_queue(lambda q: today[q].average_speed_of_answer if q in today else None),
    )
    for what in ("offered", "answered", "abandoned"):
        out.family(
            f"frontdesk_queue_{what}_today",
            "gauge",
            f"Queue visits {what} today.",
            per_queue(lambda q, w=what: getattr(today[q], w) if q in today else 0),
        )
    out.family(
        "frontdesk_sla_breaches_today",
        "gauge",
        "SLA targets breached today, by queue and target.",
        [({"queue": q, "target": t}, n) for (q, t), n in sorted(board.breaches_by_target.items())],
    )
    levels = Counter(
        (v.state.value, next((t.queue for t in board.open_tickets if t.id == v.ticket_id), ""))
        for v in board.alerts
    )
    out.family(
        "frontdesk_sla_alerts_active",
        "gauge",
        "Running SLA targets now in warning or breached, by queue.",
        [({"queue": q, "state": s}, n) for (s, q), n in sorted(levels.items())],
    )
    presence = Counter(row.state.presence.value for row in board.agents)
    out.family(
        "frontdesk_agents",
        "gauge",
        "Agents known to the live layer, by presence.",
        [({"presence": p}, presence.get(p, 0)) for p in ("available", "away", "offline")],
    )
    out.family(
        "frontdesk_messages_today",
        "gauge",
        "Messages in the contact history today.",
        [({"channel": c, "direction": d}, n) for (c, d), n in sorted(board.messages_today.items())],
    )
    out.histogram(
        "frontdesk_nlu_parse_seconds", "Time to understand one message (this process).", nlu
    )
    if turns is not None:
        _turns(out, turns)
    return out.text()


def _turns(out: Exposition, turns: TurnLoad) -> None:
    out.family(
        "frontdesk_turns_in_progress",
        "gauge",
        "Customer messages this process is working on now.",
        [({}, turns.in_progress)],
    )
    out.family(
        "frontdesk_turns_waiting",
        "gauge",
        "Messages waiting for one of those places now (at most server.turn_wait each).",
        [({}, turns.waiting)],
    )
    out.family(
        "frontdesk_turns_limit",
        "gauge",
        "How many it works on at once at most (server.max_turns).",
        [({}, turns.limit)],
    )
    out.family(
        "frontdesk_turns_refused_total",
        "counter",
        "Messages answered 'busy, try again' because every place stayed taken (this process).",
        [({}, turns.refused)],
    )


class MetricsEndpoint:
    def __init__(self, runtime: Runtime, nlu: Histogram) -> None:
        self._runtime = runtime
        self._nlu = nlu

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/metrics", self.metrics)]

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        try:
            parts = self._runtime.parts
        except DeskError as exc:
            return error_response(exc)
        token = parts.config.metrics_token
        if token is not None:
            sent = request.headers.get("Authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                return json_error(401, "a bearer token is required")
        board = await parts.numbers.board(parts.clock())
        body = render(board, parts.queues.keys, self._nlu, parts.turns)
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})
