"""What bench/growth.py times and explains: slot search, the dashboard, and the peer."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import asyncpg
from crm_lookup import captured_sql, describe, plan_nodes
from growth_data import DATA_TABLES
from sqlalchemy import text

from bot.config import Settings
from bot.dialogue.availability import SlotFinder
from crm_store.store import CrmStore
from desk.dashboard import board_json, interval_rows
from desk.numbers import day_bounds
from desk.parts import DeskParts

Operation = Callable[[int], Awaitable[object]]


@dataclass(frozen=True)
class Result:
    size: int
    operation: str
    calls: int
    p50_ms: float
    p99_ms: float
    load_average: float  # the machine's 1-minute load average right after the run


def summarise(size: int, name: str, latencies: list[float]) -> Result:
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(size, name, len(latencies), cuts[49], cuts[98], os.getloadavg()[0])


async def timed(operations: Mapping[str, Operation], calls: int) -> dict[str, list[float]]:
    """Per-call latencies in ms; the operations take turns, call by call."""
    latencies: dict[str, list[float]] = {name: [] for name in operations}
    for index in range(calls):
        for name, operation in operations.items():
            t0 = time.perf_counter_ns()
            await operation(index)
            latencies[name].append((time.perf_counter_ns() - t0) / 1e6)
    return latencies


class Operations:
    SLOT_DAY = "slot search: one day (find checkup between)"
    SLOT_EARLIEST = "slot search: earliest (find, each service)"
    BUSY = "busy times: one practitioner, 60 days"
    BOARD = "dashboard: GET /desk/api/dashboard (board + JSON)"
    INTERVALS = "dashboard: GET /desk/api/dashboard/intervals (yesterday)"
    ACTIVE = "dashboard query: tickets active today"
    LOGS = "dashboard query: their event logs"
    OPEN = "dashboard query: open tickets"
    MESSAGES = "dashboard query: messages today"
    PEER = "peer: SELECT 1 (store session)"

    def __init__(self, settings: Settings, store: CrmStore, parts: DeskParts, now: datetime):
        self.settings, self.store, self.parts, self.now = settings, store, parts, now
        self.finder = SlotFinder.from_settings(settings, store.appointments, lambda: now)
        zone = settings.business.tz
        self.today = now.astimezone(zone).date()
        self.day_start = day_bounds(parts.config, self.today)[0]
        self.active: list[int] = []

    async def prepare(self) -> None:
        """The ids the event-log query reads: today's active tickets at this size."""
        self.active = await self.parts.history.active_since(self.day_start)

    def table(self) -> dict[str, Operation]:
        return {
            self.SLOT_DAY: self.slot_day,
            self.SLOT_EARLIEST: self.slot_earliest,
            self.BUSY: self.busy,
            self.BOARD: self.board,
            self.INTERVALS: self.intervals,
            self.ACTIVE: lambda _: self.parts.history.active_since(self.day_start),
            self.LOGS: lambda _: self.parts.history.events_of(self.active),
            self.OPEN: lambda _: self.parts.history.open_tickets(),
            self.MESSAGES: lambda _: self.parts.history.messages_since(self.day_start),
            self.PEER: self.peer,
        }

    async def slot_day(self, index: int) -> object:
        """A day 1-55 days ahead (a different one each call; Sundays and holidays included)."""
        day = self.today + timedelta(days=1 + index % 55)
        zone = self.settings.business.tz
        start = datetime.combine(day, clock_time(0), zone)
        end = datetime.combine(day + timedelta(days=1), clock_time(0), zone)
        return await self.finder.find("checkup", between=(start, end))

    async def slot_earliest(self, index: int) -> object:
        services = self.settings.services
        return await self.finder.find(services[index % len(services)].key)

    async def busy(self, index: int) -> object:
        resources = self.settings.resources
        key = resources[index % len(resources)].key
        return await self.store.appointments.busy(key, self.now, self.now + timedelta(days=60))

    async def board(self, _index: int) -> object:
        numbers = self.parts.numbers
        numbers.forget()  # else a 2 s cache answers
        return await board_json(self.parts, await numbers.board(self.now))

    async def intervals(self, _index: int) -> object:
        day: date = self.today - timedelta(days=1)
        queues, totals = await self.parts.numbers.intervals(day, self.now)
        return interval_rows(queues), interval_rows(totals)

    async def peer(self, _index: int) -> object:
        async with self.store.database.transaction() as session:
            return (await session.execute(text("SELECT 1"))).scalar()


# -- plans -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    operation: str
    query: str  # the tables it reads
    plan: str
    rows_read: int  # rows the scans returned plus the rows they filtered out, over all loops
    seq_scans: tuple[str, ...]


def rows_read(nodes: list[dict[str, Any]]) -> int:
    """Rows the table scans visited (a bitmap plan's index half is not counted again)."""
    total = 0.0
    for node in nodes:
        if "Relation Name" in node:
            per_loop = node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)
            per_loop += node.get("Rows Removed by Index Recheck", 0)
            total += per_loop * node.get("Actual Loops", 1)
    return round(total)


async def explain(
    conn: asyncpg.Connection, operation: str, statement: str, parameters: Any
) -> Plan:
    raw = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", *(parameters or ()))
    nodes = list(plan_nodes(json.loads(raw)[0]["Plan"]))
    scans = [n for n in nodes if "Relation Name" in n or "Index Name" in n]
    tables = [n["Relation Name"] for n in scans if "Relation Name" in n]
    seq = tuple(n["Relation Name"] for n in scans if n["Node Type"] == "Seq Scan")
    return Plan(
        operation=operation,
        query=", ".join(dict.fromkeys(tables)) or "-",
        plan="; ".join(describe(n) for n in scans),
        rows_read=rows_read(nodes),
        seq_scans=tuple(t for t in seq if t in DATA_TABLES),
    )


async def explain_all(ops: Operations, conn: asyncpg.Connection) -> list[Plan]:
    """EXPLAIN ANALYZE every statement one call of each operation sends (the call at index 3:
    a weekday for the one-day search). One Plan per operation: rows summed, plans joined."""
    found = []
    for name, operation in ops.table().items():
        with captured_sql(ops.store) as statements:
            await operation(3)
        plans = [await explain(conn, name, sql, params) for sql, params in statements]
        plans = [p for p in plans if p.query != "-"]
        found.append(
            Plan(
                operation=name,
                query=" | ".join(dict.fromkeys(p.query for p in plans)),
                plan=" | ".join(dict.fromkeys(p.plan for p in plans)),
                rows_read=sum(p.rows_read for p in plans),
                seq_scans=tuple(dict.fromkeys(t for p in plans for t in p.seq_scans)),
            )
        )
    return found
