"""Single-customer-view lookup time as the CRM grows: 10k, 100k and 1M customers on PostgreSQL.

What it measures, at each size, with customers drawn at random (a fresh sample per operation,
after a warm-up on yet another sample), one call at a time, the three operations taking turns call
by call so that noise from other work on the machine lands on all of them alike:

  view (store API)           ``store.views.view(id)``: profile, identities, the last 20
                             interactions, the transaction summary and upcoming appointments,
                             through the real store (SQLAlchemy session, pool, one transaction).
  identity lookup + view     ``store.customers.find_by_identity(Channel.PHONE, phone)`` (phone
                             normalisation included) followed by the view of the customer found.
  bare PK select (asyncpg)   ``SELECT * FROM customers WHERE id = $1`` on one raw asyncpg
                             connection: the floor any ORM call sits above, measured in the same
                             run as the peer.

It reports p50 / p95 / p99 latency in ms and sequential ops/s, the time each load step took, the
plan PostgreSQL chose for every statement the view issues at the largest size (checked
programmatically: a sequential scan on a data table is flagged), and the flatness of the view: its
p50 at the largest size divided by its p50 at the smallest.

The data set lives in a throwaway database (``frontdesk_bench_<random>``) created on the server
named by ``--database-url``, migrated with ``CrmStore.open(..., migrate=True)`` and dropped at the
end, also on error, Ctrl-C or SIGTERM. It grows in steps (10k, then up to 100k, then up to 1M)
with ``INSERT ... SELECT FROM generate_series`` (skipping the per-row foreign-key triggers when the
role is allowed to: the generated rows are consistent by construction) and is vacuumed and
analysed after each step. Per customer: a unique phone (E.164, +4477xxxxxxxx), an e-mail for
~70% and a Telegram id for ~30%, 1-9 interactions (~5), 0-4 transactions (~2) and one appointment
(one in ten booked in the future, spread over 50 resources so the no-overlap constraint holds; the
rest past: completed, cancelled or no-show).

Run it (PostgreSQL on the default local port, trust auth):

    .venv/bin/python bench/crm_lookup.py
    .venv/bin/python bench/crm_lookup.py --sizes 10000,100000 --lookups 500 --json
    .venv/bin/python bench/crm_lookup.py --database-url postgresql+asyncpg://postgres@db:5432/test

It is a benchmark, not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

from bot.config_loader import load_settings
from bot.resources import segmentation_policy
from crm_store.enums import Channel
from crm_store.store import CrmStore

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
MAX_CUSTOMERS = 99_999_999  # the phone numbering plan below has 8 free digits
CHUNK = 100_000  # customers per load statement batch
RESOURCES = 50
SERVICES = 5
DATA_TABLES = ("customers", "identities", "interactions", "transactions", "appointments")

VIEW = "view (store API)"
IDENTITY_VIEW = "identity lookup + view"
BARE_PK = "bare PK select (asyncpg)"

ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the throwaway database ------------------------------------------------------------------------


def asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def admin(server: URL, sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(server), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# -- bulk load -------------------------------------------------------------------------------------


def h(expr: str, salt: int) -> str:
    """SQL for a deterministic, non-negative pseudo-random int derived from `expr`."""
    return f"(hashint8(({expr})::bigint * 1000003 + {salt}) & 2147483647)"


# $1 first customer id, $2 last customer id, $3 the anchor time ("now" of the data set).
LOAD_SQL: dict[str, str] = {
    "customers": f"""
        INSERT INTO customers (id, full_name, birth_date, language, timezone, heard_about_us,
            consent_marketing, consent_data_processing, tier, lifetime_value, notes,
            created_at, updated_at, erased_at)
        SELECT g,
            (ARRAY['Ava','Noah','Sara','Reza','Lena','Omar','Mia','Leo'])[1 + g % 8] || ' '
                || (ARRAY['Smith','Jones','Karimi','Müller','Dubois','Rossi'])[1 + (g / 8) % 6]
                || ' ' || g,
            CASE WHEN g % 3 <> 0 THEN DATE '1950-01-01' + ({h("g", 1)} % 20000)::int END,
            (ARRAY['en','en','en','de','fr','fa'])[1 + g % 6],
            (ARRAY['Europe/London','Europe/Berlin','Asia/Tehran'])[1 + g % 3],
            CASE WHEN g % 4 = 0
                THEN (ARRAY['friend','search','instagram','walk-in'])[1 + (g / 4) % 4] END,
            g % 2 = 0, true,
            (ARRAY['platinum','gold','gold','iron','iron','iron','lead','lead','lead','lead'])
                [1 + ({h("g", 2)} % 10)::int],
            ({h("g", 3)} % 500000) / 100.0,
            CASE WHEN g % 10 = 0 THEN 'Prefers morning appointments.' END,
            $3::timestamptz - make_interval(days => ({h("g", 4)} % 1500)::int),
            $3::timestamptz,
            NULL
        FROM generate_series($1::int, $2::int) AS g
    """,
    "identities": f"""
        INSERT INTO identities (customer_id, channel, external_id, verified, verified_at,
            unreachable, created_at)
        SELECT g, 'phone', '+4477' || lpad(g::text, 8, '0'), g % 3 <> 0,
            CASE WHEN g % 3 <> 0 THEN $3::timestamptz END, g % 97 = 0, $3::timestamptz
        FROM generate_series($1::int, $2::int) AS g
        UNION ALL
        SELECT g, 'email', 'customer' || g || '@example.com', g % 2 = 0,
            CASE WHEN g % 2 = 0 THEN $3::timestamptz END, false, $3::timestamptz
        FROM generate_series($1::int, $2::int) AS g WHERE {h("g", 11)} % 10 < 7
        UNION ALL
        SELECT g, 'telegram', (100000000 + g)::text, true, $3::timestamptz, false,
            $3::timestamptz
        FROM generate_series($1::int, $2::int) AS g WHERE {h("g", 12)} % 10 < 3
    """,
    "interactions": f"""
        INSERT INTO interactions (customer_id, channel, direction, text, intent,
            conversation_id, occurred_at)
        SELECT g,
            (ARRAY['telegram','phone','email','web'])[1 + (g + k) % 4],
            CASE WHEN k % 2 = 1 THEN 'inbound' ELSE 'outbound' END,
            (ARRAY['Hi, can I book a massage for Friday afternoon?',
                   'Your appointment is confirmed, see you then!',
                   'What are your opening hours on Sunday?',
                   'I need to cancel my appointment, sorry.',
                   'Thanks for your message, an agent will reply shortly.'])[1 + k % 5],
            CASE WHEN k % 2 = 1
                THEN (ARRAY['book','hours','cancel','price'])[1 + (g + k) % 4] END,
            'conv-' || lpad(g::text, 8, '0') || '-' || (k / 3),
            $3::timestamptz - make_interval(mins => ({h("g * 16 + k", 21)} % 1051200)::int)
        FROM generate_series($1::int, $2::int) AS g,
            generate_series(1, 1 + ({h("g", 22)} % 9)::int) AS k
    """,
    "transactions": f"""
        INSERT INTO transactions (customer_id, amount, currency, item, occurred_at)
        SELECT g, 5 + ({h("g * 8 + k", 31)} % 30000) / 100.0, 'GBP',
            (ARRAY['Massage 60 min','Facial','Gift card','Manicure','Sauna pass'])
                [1 + (g + k) % 5],
            $3::timestamptz - make_interval(days => ({h("g * 8 + k", 32)} % 730)::int)
        FROM generate_series($1::int, $2::int) AS g,
            generate_series(1, ({h("g", 33)} % 5)::int) AS k
    """,
    # Booked (future) appointments: customer g (a multiple of 10) takes slot (g / 10) / 50 of
    # resource 1 + (g / 10) % 50; slots are 45 minutes apart and last 30, so none overlap.
    "appointments": f"""
        INSERT INTO appointments (customer_id, service_id, resource_id, start_at, end_at,
            status, created_at, updated_at)
        SELECT g, 1 + g % {SERVICES}, resource, start_at, start_at + interval '30 minutes',
            status, $3::timestamptz, $3::timestamptz
        FROM (
            SELECT g,
                CASE WHEN g % 10 = 0 THEN 1 + (g / 10) % {RESOURCES}
                     ELSE 1 + ({h("g", 41)} % {RESOURCES})::int END AS resource,
                CASE WHEN g % 10 = 0
                     THEN $3::timestamptz + interval '1 day'
                          + (g / 10 / {RESOURCES}) * interval '45 minutes'
                     ELSE $3::timestamptz
                          - make_interval(days => 1 + ({h("g", 42)} % 700)::int) END AS start_at,
                CASE WHEN g % 10 = 0 THEN 'booked'
                     ELSE (ARRAY['completed','completed','cancelled','no_show'])[1 + g % 4]
                END AS status
            FROM generate_series($1::int, $2::int) AS g
        ) AS s
    """,
}

CATALOG_SQL = (
    f"""
    INSERT INTO services (id, key, name, duration_minutes, price, skill)
    SELECT s, 'service-' || s, 'Service ' || s, 30, 40 + 10 * s, 'skill-' || s
    FROM generate_series(1, {SERVICES}) AS s
    """,
    f"""
    INSERT INTO resources (id, key, name, kind, timezone, skills, weekly_schedule)
    SELECT r, 'resource-' || r, 'Practitioner ' || r, 'practitioner', 'Europe/London',
        '["skill-1", "skill-2", "skill-3", "skill-4", "skill-5"]',
        '{{"mon": [["08:00", "18:00"]], "tue": [["08:00", "18:00"]]}}'
    FROM generate_series(1, {RESOURCES}) AS r
    """,
    "SELECT setval('services_id_seq', (SELECT max(id) FROM services))",
    "SELECT setval('resources_id_seq', (SELECT max(id) FROM resources))",
)


@dataclass
class LoadStep:
    customers: int
    added: int
    fk_triggers: bool
    insert_seconds: float
    analyze_seconds: float
    rows: dict[str, int] = field(default_factory=dict)


def rows_inserted(status: str) -> int:
    """The row count from an 'INSERT 0 <n>' command tag."""
    return int(status.rsplit(" ", 1)[-1])


async def can_skip_fk_triggers(conn: asyncpg.Connection) -> bool:
    """Whether this role may load with session_replication_role = replica (superusers may).

    That setting skips the per-row foreign-key triggers, which cost more than half the load
    time; the generated rows reference only customers, services and resources inserted before
    them, so nothing is lost. Check and exclusion constraints are indexes and stay enforced.
    """
    try:
        await conn.execute("SET session_replication_role = replica")
    except asyncpg.InsufficientPrivilegeError:
        log("not allowed to skip foreign-key triggers: loading with them (about 2.5x slower)")
        return False
    await conn.execute("RESET session_replication_role")
    return True


async def load_chunk(
    conn: asyncpg.Connection,
    first: int,
    last: int,
    anchor: datetime,
    rows: dict[str, int],
    *,
    skip_fk: bool,
) -> None:
    async with conn.transaction():
        if skip_fk:
            await conn.execute("SET LOCAL session_replication_role = replica")
        for table, sql in LOAD_SQL.items():
            status = await conn.execute(sql, first, last, anchor)
            rows[table] = rows.get(table, 0) + rows_inserted(status)


async def grow(
    conn: asyncpg.Connection, current: int, target: int, anchor: datetime, *, skip_fk: bool
) -> LoadStep:
    """Add customers current+1 .. target with their history, then VACUUM ANALYZE."""
    step = LoadStep(
        customers=target,
        added=target - current,
        fk_triggers=not skip_fk,
        insert_seconds=0,
        analyze_seconds=0,
    )
    started = time.perf_counter()
    for first in range(current + 1, target + 1, CHUNK):
        last = min(first + CHUNK - 1, target)
        await load_chunk(conn, first, last, anchor, step.rows, skip_fk=skip_fk)
        elapsed = time.perf_counter() - started
        log(f"  loaded customers up to {last:,} / {target:,} ({elapsed:.1f} s)")
    await conn.execute("SELECT setval('customers_id_seq', $1::bigint)", target)
    step.insert_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await conn.execute(f"VACUUM (ANALYZE) {', '.join(DATA_TABLES)}")
    step.analyze_seconds = time.perf_counter() - started
    log(f"  VACUUM ANALYZE took {step.analyze_seconds:.1f} s")
    return step


# -- timing ----------------------------------------------------------------------------------------

Operation = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class Result:
    customers: int
    operation: str
    calls: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    ops_per_s: float
    load_average: float  # the machine's 1-minute load average right after the run


async def timed(
    operations: Mapping[str, Operation], samples: Mapping[str, Sequence[int]]
) -> dict[str, list[float]]:
    """Per-call latencies in ms; the operations take turns, call by call, each on its own sample.

    Interleaving puts every operation, the peer included, in the same time window, so noise
    from other work on the machine lands on all of them alike.
    """
    latencies: dict[str, list[float]] = {name: [] for name in operations}
    for index in range(min(len(ids) for ids in samples.values())):
        for name, operation in operations.items():
            t0 = time.perf_counter_ns()
            await operation(samples[name][index])
            latencies[name].append((time.perf_counter_ns() - t0) / 1e6)
    return latencies


def summarise(customers: int, name: str, latencies: list[float]) -> Result:
    """Percentiles, and sequential throughput: calls per second of time spent in the calls."""
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(
        customers=customers,
        operation=name,
        calls=len(latencies),
        p50_ms=cuts[49],
        p95_ms=cuts[94],
        p99_ms=cuts[98],
        ops_per_s=len(latencies) / (sum(latencies) / 1000),
        load_average=os.getloadavg()[0],
    )


def sample_ids(rng: random.Random, customers: int, count: int) -> list[int]:
    population = range(1, customers + 1)
    if count <= customers:
        return rng.sample(population, count)
    return rng.choices(population, k=count)


async def phones_of(conn: asyncpg.Connection, ids: Sequence[int]) -> dict[int, str]:
    rows = await conn.fetch(
        "SELECT customer_id, external_id FROM identities "
        "WHERE channel = 'phone' AND customer_id = ANY($1::int[])",
        sorted(set(ids)),
    )
    return {row["customer_id"]: row["external_id"] for row in rows}


def operations(
    store: CrmStore, conn: asyncpg.Connection, phones: dict[int, str]
) -> dict[str, Operation]:
    async def view(customer_id: int) -> None:
        await store.views.view(customer_id)

    async def identity_view(customer_id: int) -> None:
        found = await store.customers.find_by_identity(Channel.PHONE, phones[customer_id])
        if found is None or found.id != customer_id:
            raise RuntimeError(f"phone of customer {customer_id} resolved to {found}")
        await store.views.view(found.id)

    async def bare_pk(customer_id: int) -> None:
        if await conn.fetchrow("SELECT * FROM customers WHERE id = $1", customer_id) is None:
            raise RuntimeError(f"customer {customer_id} is missing")

    return {VIEW: view, IDENTITY_VIEW: identity_view, BARE_PK: bare_pk}


async def measure(
    store: CrmStore, conn: asyncpg.Connection, customers: int, lookups: int, rng: random.Random
) -> list[Result]:
    """Warm up on one random sample, then time each operation on a fresh sample of its own."""
    names = (VIEW, IDENTITY_VIEW, BARE_PK)
    warmup = {name: sample_ids(rng, customers, max(50, min(500, lookups // 4))) for name in names}
    samples = {name: sample_ids(rng, customers, lookups) for name in names}
    phones = await phones_of(conn, [*warmup[IDENTITY_VIEW], *samples[IDENTITY_VIEW]])
    ops = operations(store, conn, phones)
    await timed(ops, warmup)
    results = [
        summarise(customers, name, latencies)
        for name, latencies in (await timed(ops, samples)).items()
    ]
    for r in results:
        log(f"  {r.operation}: p50 {r.p50_ms:.3f} ms, {r.ops_per_s:,.0f} ops/s")
    return results


# -- plans -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanCheck:
    query: str
    plan: str
    seq_scans: tuple[str, ...]


@contextmanager
def captured_sql(store: CrmStore) -> Iterator[list[tuple[str, Any]]]:
    """Every statement (with its parameters) the store sends while the block runs."""
    statements: list[tuple[str, Any]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        statements.append((statement, parameters))

    engine = store.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def describe(node: dict[str, Any]) -> str:
    text = str(node["Node Type"])
    if node.get("Scan Direction") == "Backward":
        text += " Backward"
    if "Index Name" in node:
        text += f" using {node['Index Name']}"
    if "Relation Name" in node:
        text += f" on {node['Relation Name']}"
    return text


QUERY_NAMES = {
    "customers": "customer by id",
    "identities": "identities",
    "interactions": "interaction history",
    "transactions": "transaction summary",
    "appointments": "upcoming appointments",
}


def query_name(statement: str) -> str:
    """A short name for a statement the store sent, from its FROM / JOIN tables."""
    tables = re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", statement)
    if tables[:2] == ["customers", "identities"]:
        return "identity lookup"
    return QUERY_NAMES.get(tables[0], tables[0]) if tables else statement[:40]


async def explain(conn: asyncpg.Connection, statement: str, parameters: Any) -> PlanCheck:
    raw = await conn.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", *(parameters or ()))
    nodes = list(plan_nodes(json.loads(raw)[0]["Plan"]))
    scans = [n for n in nodes if "Relation Name" in n]
    seq = tuple(n["Relation Name"] for n in scans if n["Node Type"] == "Seq Scan")
    seq = tuple(t for t in seq if t in DATA_TABLES)
    shown = [describe(n) for n in nodes if "Relation Name" in n or "Sort" in n["Node Type"]]
    return PlanCheck(query=query_name(statement), plan="; ".join(shown), seq_scans=seq)


async def check_plans(
    store: CrmStore, conn: asyncpg.Connection, customer_id: int
) -> list[PlanCheck]:
    """EXPLAIN ANALYZE every statement that the view and the identity lookup send."""
    phone = (await phones_of(conn, [customer_id]))[customer_id]
    with captured_sql(store) as statements:
        await store.customers.find_by_identity(Channel.PHONE, phone)
        await store.views.view(customer_id)
    checks = [await explain(conn, sql, params) for sql, params in statements]
    for check in checks:
        flag = f"  SEQ SCAN on {', '.join(check.seq_scans)}!" if check.seq_scans else ""
        log(f"  plan {check.query}: {check.plan}{flag}")
    return checks


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class Report:
    lookups: int
    loads: list[LoadStep] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    plans: dict[int, list[PlanCheck]] = field(default_factory=dict)

    def p50(self, customers: int, operation: str) -> float:
        return next(
            r.p50_ms for r in self.results if r.customers == customers and r.operation == operation
        )

    def flatness(self) -> float:
        sizes = [step.customers for step in self.loads]
        return self.p50(sizes[-1], VIEW) / self.p50(sizes[0], VIEW)


async def seed_catalog(conn: asyncpg.Connection) -> None:
    for sql in CATALOG_SQL:
        await conn.execute(sql)


async def run(url: URL, sizes: Sequence[int], lookups: int, seed: int) -> Report:
    report = Report(lookups=lookups)
    rng = random.Random(seed)
    anchor = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    policy = segmentation_policy(load_settings(ROOT / "config.yml", {}))  # values unused by reads
    async with CrmStore.open(
        url.render_as_string(hide_password=False),
        policy,
        default_region="GB",
        default_timezone="Europe/London",
        migrate=True,
    ) as store:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            await conn.execute("SET synchronous_commit = off")
            await seed_catalog(conn)
            skip_fk = await can_skip_fk_triggers(conn)
            current = 0
            for size in sizes:
                log(f"growing to {size:,} customers")
                report.loads.append(await grow(conn, current, size, anchor, skip_fk=skip_fk))
                current = size
                log(f"measuring at {size:,} customers")
                report.results += await measure(store, conn, size, lookups, rng)
                report.plans[size] = await check_plans(store, conn, rng.randint(1, size))
        finally:
            await conn.close()
    return report


# -- output ----------------------------------------------------------------------------------------


COLUMNS = "{:<12}{:<29}{:>8}{:>8}{:>8}{:>8}"


def table(report: Report) -> str:
    lines = [COLUMNS.format("customers", "operation", "p50 ms", "p95 ms", "p99 ms", "ops/s")]
    for r in report.results:
        lines.append(
            COLUMNS.format(
                f"{r.customers:,}",
                r.operation,
                f"{r.p50_ms:.3f}",
                f"{r.p95_ms:.3f}",
                f"{r.p99_ms:.3f}",
                f"{r.ops_per_s:,.0f}",
            )
        )
    return "\n".join(lines)


def text_report(report: Report) -> str:
    largest, smallest = report.loads[-1].customers, report.loads[0].customers
    loads = [
        f"load to {s.customers:,}: +{s.added:,} customers, "
        + ", ".join(f"{n:,} {t}" for t, n in s.rows.items())
        + f" in {s.insert_seconds:.1f} s (+ VACUUM ANALYZE {s.analyze_seconds:.1f} s)"
        + ("" if s.fk_triggers else ", foreign-key triggers skipped")
        for s in report.loads
    ]
    plans = [
        f"plan at {largest:,}: {p.query}: {p.plan}"
        + (f"  <-- SEQ SCAN on {', '.join(p.seq_scans)}" if p.seq_scans else "")
        for p in report.plans[largest]
    ]
    closing = (
        f"flatness: {VIEW} p50 at {largest:,} customers is {report.flatness():.2f}x its p50 at "
        f"{smallest:,} ({report.p50(largest, VIEW):.3f} ms vs {report.p50(smallest, VIEW):.3f} ms)"
    )
    calls = (
        f"{report.lookups:,} sequential calls per operation and size, after a warm-up; "
        "1-min load average while measuring: "
        + ", ".join(f"{r.load_average:.1f}" for r in report.results)
        + f" on {os.cpu_count()} CPUs"
    )
    return "\n".join([*loads, "", table(report), "", calls, *plans, closing])


def json_report(report: Report) -> str:
    largest, smallest = report.loads[-1].customers, report.loads[0].customers
    return json.dumps(
        {
            "lookups": report.lookups,
            "loads": [asdict(step) for step in report.loads],
            "results": [asdict(result) for result in report.results],
            "plans": {str(n): [asdict(p) for p in checks] for n, checks in report.plans.items()},
            "flatness": {
                "operation": VIEW,
                "smallest": smallest,
                "largest": largest,
                "p50_ratio": report.flatness(),
            },
        },
        indent=2,
    )


# -- command line ----------------------------------------------------------------------------------


def parse_sizes(value: str) -> tuple[int, ...]:
    sizes = tuple(int(part.replace("_", "")) for part in value.split(",") if part.strip())
    if not sizes or list(sizes) != sorted(set(sizes)) or sizes[0] < 1 or sizes[-1] > MAX_CUSTOMERS:
        raise argparse.ArgumentTypeError(
            f"sizes must be increasing, distinct and within 1..{MAX_CUSTOMERS:,}"
        )
    return sizes


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
    parser.add_argument("--lookups", type=int, default=2000, help="timed calls per operation")
    parser.add_argument("--seed", type=int, default=20261123, help="seed for the customer samples")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if not args.database_url.startswith("postgresql+asyncpg://"):
        parser.error("--database-url must be a postgresql+asyncpg:// URL")
    if args.lookups < 2:
        parser.error("--lookups must be at least 2")
    return args


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def benchmark(server: URL, args: argparse.Namespace) -> Report:
    """Run in a throwaway database on `server`, dropped afterwards whatever happens."""
    name = f"frontdesk_bench_{uuid.uuid4().hex[:10]}"
    log(f"creating database {name} on {server.render_as_string(hide_password=True)}")
    asyncio.run(admin(server, f'CREATE DATABASE "{name}"'))
    try:
        return asyncio.run(run(server.set(database=name), args.sizes, args.lookups, args.seed))
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
    print(json_report(report) if args.json else text_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
