"""Slot search and the supervisors' dashboard as the history grows: 10k, 100k and 1M customers
and tickets on PostgreSQL.

What it times, at each size, every operation one call at a time, the operations taking turns
call by call (so that noise from other work on the machine lands on all of them alike):

  slot search: one day        ``SlotFinder.find("checkup", between=(a day))``: what the booking
                              flow calls for "a check-up on Friday" (two dentists: two busy()
                              queries; a day nobody works falls back to the nearest slots).
  slot search: earliest       ``SlotFinder.find(service)`` with no time asked, each service in turn.
  busy times (60 days)        ``AppointmentBook.busy(practitioner, now, now + 60 days)``: the one
                              query under the slot search.
  dashboard board             what ``GET /desk/api/dashboard`` computes: ``DeskNumbers.board``
                              (its 2 s cache dropped before each call) and ``board_json``.
  dashboard intervals         ``GET /desk/api/dashboard/intervals`` for yesterday.
  and the board's queries one by one: tickets active today, their event logs, open tickets,
  messages today (desk.history.DeskHistory).
  peer: SELECT 1              one round trip through the store's session and pool: the floor.

Per operation it prints a table: one row per size with p50 / p99 in ms, the p50 as a multiple
of the p50 at the smallest size, the rows PostgreSQL read for one call (EXPLAIN ANALYZE of every
statement the call sent: rows returned by scans plus rows they filtered out; it does not depend
on the machine's load) and the peer's p50 at that size.

The data set (bench/growth_data.py) lives in a throwaway database (``frontdesk_bench_<random>``)
created on the server named by ``--database-url``, migrated and dropped at the end, also on
error, Ctrl-C or SIGTERM. It grows in steps, each followed by VACUUM ANALYZE. "Now" is fixed at
ANCHOR (a Tuesday, 17:00 in the clinic's zone) so that every run, whatever the date, sees the
same day. ``--baseline`` drops the indexes of migration 0006 first: the schema as it was.

    .venv/bin/python bench/growth.py
    .venv/bin/python bench/growth.py --sizes 10000,100000 --repeat 100 --json out.json
    .venv/bin/python bench/growth.py --baseline --sizes 10000,100000

It is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
from crm_lookup import admin, asyncpg_dsn, can_skip_fk_triggers, interrupt, log, parse_sizes
from growth_data import (
    AGENTS,
    AGENTS_SQL,
    CHUNK,
    DATA_TABLES,
    Pace,
    booked_future,
    build_indexes,
    catalog_pairs,
    drop_plain_indexes,
    load_chunk,
)
from growth_ops import Operations, Plan, Result, explain_all, summarise, timed
from sqlalchemy.engine import URL, make_url

from bot.config import Settings
from bot.config_loader import load_settings
from bot.resources import open_crm
from bot.routing_setup import open_routing, queue_calendars, sla_policy
from desk.app import Desk, DeskHost
from desk.config import DeskConfig

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
ZONE = ZoneInfo("Europe/London")
ANCHOR = datetime(2026, 11, 24, 17, 0, tzinfo=ZONE)
# migration 0006: dropped by --baseline to measure the schema as it was before
NEW_INDEXES = ("ix_appointments_resource_end", "ix_interactions_occurred_at", "ix_ticket_events_at")
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LoadStep:
    size: int
    fk_triggers: bool
    insert_seconds: float = 0
    index_seconds: float = 0
    analyze_seconds: float = 0
    rows: dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    repeat: int
    baseline: bool
    anchor: str
    loads: list[LoadStep] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    plans: dict[int, list[Plan]] = field(default_factory=dict)


async def grow(conn: asyncpg.Connection, current: int, target: int, pace: Pace) -> LoadStep:
    """Add customers and tickets current+1 .. target with their history, build the plain
    indexes again, then VACUUM ANALYZE."""
    skip_fk = await can_skip_fk_triggers(conn)
    step, started = LoadStep(size=target, fk_triggers=not skip_fk), time.perf_counter()
    pairs = await catalog_pairs(conn)
    indexes = await drop_plain_indexes(conn)
    for first in range(current + 1, target + 1, CHUNK):
        last = min(first + CHUNK - 1, target)
        async with conn.transaction():
            if skip_fk:
                await conn.execute("SET LOCAL session_replication_role = replica")
            for table, n in (await load_chunk(conn, first, last, pace, pairs)).items():
                step.rows[table] = step.rows.get(table, 0) + n
        log(f"  loaded up to {last:,} / {target:,} ({time.perf_counter() - started:.1f} s)")
    for table in ("customers", "tickets"):
        await conn.execute(f"SELECT setval('{table}_id_seq', $1::bigint)", target)
    step.insert_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await build_indexes(conn, indexes)
    step.index_seconds = time.perf_counter() - started
    log(f"  {len(indexes)} indexes built again in {step.index_seconds:.1f} s")
    started = time.perf_counter()
    await conn.execute(f"VACUUM (ANALYZE) {', '.join(DATA_TABLES)}")
    step.analyze_seconds = time.perf_counter() - started
    log(f"  VACUUM ANALYZE took {step.analyze_seconds:.1f} s")
    return step


async def add_agents(conn: asyncpg.Connection) -> None:
    """Before the first step: the agents (tickets are assigned to them)."""
    await conn.execute(AGENTS_SQL, AGENTS, ANCHOR)
    await conn.execute("SELECT setval('agents_id_seq', $1::bigint)", AGENTS)


async def book_future(conn: asyncpg.Connection, settings: Settings, customers: int) -> int:
    """After the first step: the practitioners' next weeks, about half booked."""
    ids = {row["key"]: row["id"] for row in await conn.fetch("SELECT key, id FROM resources")}
    services = {row["key"]: row["id"] for row in await conn.fetch("SELECT key, id FROM services")}
    booked = booked_future(settings, ids, services, ANCHOR.date())
    records = [
        (1 + n * 7919 % customers, service, resource, start, end, "booked", ANCHOR, ANCHOR)
        for n, (resource, service, start, end) in enumerate(booked)
    ]
    columns = ["customer_id", "service_id", "resource_id", "start_at", "end_at", "status"]
    await conn.copy_records_to_table(
        "appointments", records=records, columns=[*columns, "created_at", "updated_at"]
    )
    return len(records)


def desk_of(settings: Settings) -> Desk:
    """The desk as bot.app builds it from config.yml, on the fixed clock."""
    config = DeskConfig.build(
        settings.desk,
        business_name=settings.business.name,
        timezone=settings.business.tz,
        public_url=settings.server.public_url,
        calendars=queue_calendars(settings),
        sla_policies={name: sla_policy(p) for name, p in settings.sla_policies.items()},
    )
    return Desk(config, clock=lambda: ANCHOR)


async def run(url: URL, args: argparse.Namespace) -> Report:
    report = Report(repeat=args.repeat, baseline=args.baseline, anchor=ANCHOR.isoformat())
    pace = Pace(ANCHOR, args.tickets_per_day, args.messages_per_day)
    environ = {"FRONTDESK_DATABASE_URL": url.render_as_string(hide_password=False)}
    settings = load_settings(ROOT / "config.yml", environ)
    clock = lambda: ANCHOR  # noqa: E731
    async with open_crm(settings, clock=clock, migrate=True) as store:
        await store.catalog.sync(settings.services, settings.resources, settings.business.timezone)
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute("SET synchronous_commit = off")
            for index in NEW_INDEXES if args.baseline else ():
                await conn.execute(f"DROP INDEX {index}")
            await add_agents(conn)
            async with open_routing(settings, store, clock=clock) as routing:
                desk = desk_of(settings)
                async with desk.running(DeskHost(store, routing)) as parts:
                    for agent in range(1, AGENTS + 1):
                        await routing.sign_in(agent)
                    ops = Operations(settings, store, parts, ANCHOR)
                    await grow_and_measure(conn, ops, args, pace, report)
        finally:
            await conn.close()
    return report


async def grow_and_measure(
    conn: asyncpg.Connection,
    ops: Operations,
    args: argparse.Namespace,
    pace: Pace,
    report: Report,
) -> None:
    current = 0
    for size in args.sizes:
        log(f"growing to {size:,} customers and tickets")
        step = await grow(conn, current, size, pace)
        if current == 0:
            step.rows["future appointments"] = await book_future(conn, ops.settings, size)
            await conn.execute("ANALYZE appointments")
        report.loads.append(step)
        current = size
        log(f"measuring at {size:,}")
        await ops.prepare()
        await timed(ops.table(), args.warmup)
        latencies = await timed(ops.table(), args.repeat)
        report.results += [summarise(size, name, values) for name, values in latencies.items()]
        report.plans[size] = await explain_all(ops, conn)


# -- output ----------------------------------------------------------------------------------------

ROW = "{:>12}{:>10}{:>10}{:>12}{:>12}{:>16}"


def tables(report: Report) -> str:
    sizes = [step.size for step in report.loads]
    by = {(r.operation, r.size): r for r in report.results}
    peer = Operations.PEER
    reads = {
        (plan.operation, size): plan.rows_read
        for size, plans in report.plans.items()
        for plan in plans
    }
    blocks = []
    for name in dict.fromkeys(r.operation for r in report.results):
        lines = [name, ROW.format("size", "p50 ms", "p99 ms", "x smallest", "rows read",
                                  "SELECT 1 p50 ms")]  # fmt: skip
        for size in sizes:
            r, base = by[(name, size)], by[(name, sizes[0])]
            lines.append(
                ROW.format(
                    f"{size:,}",
                    f"{r.p50_ms:.3f}",
                    f"{r.p99_ms:.3f}",
                    f"{r.p50_ms / base.p50_ms:.2f}",
                    f"{reads.get((name, size), 0):,}",
                    f"{by[(peer, size)].p50_ms:.3f}",
                )
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def text_report(report: Report) -> str:
    loads = [
        f"load to {s.size:,}: " + ", ".join(f"{n:,} {t}" for t, n in s.rows.items())
        + f" in {s.insert_seconds:.1f} s (+ indexes {s.index_seconds:.1f} s,"
        + f" VACUUM ANALYZE {s.analyze_seconds:.1f} s)"
        + ("" if s.fk_triggers else ", foreign-key triggers skipped")
        for s in report.loads
    ]  # fmt: skip
    largest = report.loads[-1].size
    plans = [
        f"plan at {largest:,}: {p.operation}: {p.query}: {p.plan} ({p.rows_read:,} rows read)"
        + (f"  <-- SEQ SCAN on {', '.join(p.seq_scans)}" if p.seq_scans else "")
        for p in report.plans[largest]
    ]
    schema = "baseline (without migration 0006's indexes)" if report.baseline else "head"
    calls = (
        f"schema: {schema}; now = {report.anchor}; {report.repeat:,} calls per operation and "
        f"size, after a warm-up; 1-min load average while measuring: "
        + ", ".join(sorted({f"{r.load_average:.1f}" for r in report.results}))
        + f" on {os.cpu_count()} CPUs"
    )
    return "\n".join([*loads, "", tables(report), "", calls, *plans])


def json_report(report: Report) -> str:
    return json.dumps(
        {
            "repeat": report.repeat,
            "baseline": report.baseline,
            "anchor": report.anchor,
            "loads": [asdict(step) for step in report.loads],
            "results": [asdict(result) for result in report.results],
            "plans": {str(n): [asdict(p) for p in plans] for n, plans in report.plans.items()},
        },
        indent=2,
    )


# -- command line ----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        help="a postgresql+asyncpg URL; a throwaway database is created on that server",
    )
    parser.add_argument(
        "--sizes", type=parse_sizes, default=DEFAULT_SIZES, help="e.g. 10000,100000,1000000"
    )
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per operation")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls first")
    parser.add_argument("--tickets-per-day", type=int, default=500)
    parser.add_argument("--messages-per-day", type=int, default=2000)
    parser.add_argument("--baseline", action="store_true", help="without 0006's indexes")
    parser.add_argument("--json", metavar="FILE", help="also write the figures there as JSON")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql+asyncpg://"):
        parser.error("--database-url must be a postgresql+asyncpg:// URL")
    if args.repeat < 2 or args.warmup < 0:
        parser.error("--repeat must be at least 2, --warmup not negative")
    if args.tickets_per_day < 1 or args.messages_per_day < 1:
        parser.error("--tickets-per-day and --messages-per-day must be positive")
    return args


def benchmark(server: URL, args: argparse.Namespace) -> Report:
    """Run in a throwaway database on `server`, dropped afterwards whatever happens."""
    name = f"frontdesk_bench_{uuid.uuid4().hex[:10]}"
    log(f"creating database {name} on {server.render_as_string(hide_password=True)}")
    asyncio.run(admin(server, f'CREATE DATABASE "{name}"'))
    try:
        return asyncio.run(run(server.set(database=name), args))
    finally:
        log(f"dropping database {name}")
        asyncio.run(admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        report = benchmark(make_url(args.database_url), args)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except (OSError, asyncpg.PostgresError) as exc:
        log(f"PostgreSQL failed: {type(exc).__name__}: {exc}")
        return 1
    if args.json:
        Path(args.json).write_text(json_report(report) + "\n", encoding="utf-8")
    print(text_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
