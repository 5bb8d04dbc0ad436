"""The data set of bench/growth.py: the demo clinic's history at N customers and N tickets.

Per size N, loaded with ``INSERT ... SELECT FROM generate_series`` in chunks (ids are dense, so
a later step appends N_previous+1 .. N): N customers (bench/crm_lookup.py's rows); 2-3 past
appointments each on the demo clinic's practitioners, for services they provide, still
"booked" (nothing in Frontdesk marks an attended appointment completed) or, one in seven,
cancelled; 3 messages each in the contact history; and N tickets with their event logs.

Past appointments lie back to back on each practitioner's time line, going back from the
anchor's midnight (the no-overlap constraint holds): six practitioners cannot really have seen
2.5M appointments, so at 1M the line reaches back decades, but what the queries meet is the same
as in a big clinic: a practitioner with a long history. Messages and tickets are laid on a
time line at a fixed rate ending at the anchor (ticket 1 is the newest), so a bigger data set
is a longer history while "today" holds the same tickets and messages at every size. The newest
OPEN_TICKETS tickets are still open (queued, or assigned to one of AGENTS agents); of the rest
about one in twelve was abandoned, the others were answered, resolved and two in five rated;
one in twenty of those breached its first-response target first.

Once, at the first size: the catalog synced from config.yml, the agents, and the bookable
future: each practitioner's working hours for the next BOOKED_DAYS days about half booked (the
same at every size: the future is bounded by the horizon and the practitioners' hours).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg
from crm_lookup import LOAD_SQL, h, rows_inserted

from bot.config import Settings, Weekday

CHUNK = 100_000  # customers (and tickets) per load transaction
MESSAGES_PER_CUSTOMER = 3
OPEN_TICKETS = 30
AGENTS = 12
BOOKED_DAYS = 62
BOOKED_SHARE = 0.5
PAST_PITCH = 90  # minutes between two past slots of one practitioner: the longest service
DATA_TABLES = ("customers", "appointments", "interactions", "tickets", "ticket_events")
WEEKDAYS = tuple(Weekday)  # in date.weekday() order


@dataclass(frozen=True)
class Pace:
    """How fast the history accrues: its time line ends at `anchor`."""

    anchor: datetime
    tickets_per_day: int
    messages_per_day: int

    @property
    def ticket_gap(self) -> float:
        return 86400 / self.tickets_per_day

    @property
    def message_gap(self) -> float:
        return 86400 / self.messages_per_day


# $1 first customer, $2 last customer, $3 anchor; $4/$5/$6 resource id, service id and minutes
# of every (practitioner, service they provide) pair, sorted by practitioner; $7/$8 where each
# practitioner's pairs start (1-based) and how many there are. Customer g owns the past slots
# 3(g-1) .. 3(g-1)+2 and books 2 or 3 of them; slot a is with practitioner a % R, ending at
# most 90 minutes after it starts, 90 minutes before that practitioner's next slot.
PAST_APPOINTMENTS = f"""
    INSERT INTO appointments (customer_id, service_id, resource_id, start_at, end_at, status,
        created_at, updated_at)
    SELECT g, ($5::int[])[p], ($4::int[])[p], s, s + make_interval(mins => ($6::int[])[p]),
        CASE WHEN {h("a", 62)} % 20 < 3 THEN 'cancelled' ELSE 'booked' END,
        s - interval '9 days', s
    FROM generate_series($1::int, $2::int) AS g,
        generate_series(0, 1 + ({h("g", 61)} % 2)::int) AS k,
        LATERAL (SELECT 3 * (g - 1) + k AS a) AS n,
        LATERAL (SELECT a % cardinality($7::int[]) AS ri,
            a / cardinality($7::int[]) AS back) AS r,
        LATERAL (SELECT ($7::int[])[1 + ri] + ({h("a", 63)} % ($8::int[])[1 + ri])::int AS p,
            date_trunc('day', $3::timestamptz) - (back + 1) * interval '{PAST_PITCH} minutes'
                AS s) AS x
"""

# $1 first customer, $2 last customer, $3 anchor, $4 seconds between two messages.
MESSAGES = f"""
    INSERT INTO interactions (customer_id, channel, direction, text, intent, conversation_id,
        occurred_at)
    SELECT c, (ARRAY['telegram','web','phone','web'])[1 + c % 4],
        CASE WHEN j % 2 = 1 THEN 'inbound' ELSE 'outbound' END,
        (ARRAY['Can I book a check-up next week?', 'Here are the times I can offer.',
               'I need to move my appointment.', 'An agent will reply shortly.'])[1 + j % 4],
        CASE WHEN j % 2 = 1 THEN (ARRAY['book','reschedule','request_human'])[1 + j % 3] END,
        'conv-' || c || '-' || (j / 6),
        $3::timestamptz - make_interval(secs => j * $4::float8)
    FROM generate_series({MESSAGES_PER_CUSTOMER} * $1::int - {MESSAGES_PER_CUSTOMER - 1},
                         {MESSAGES_PER_CUSTOMER} * $2::int) AS j,
        LATERAL (SELECT 1 + ({h("j", 71)} % $2::int)::int AS c) AS x
"""

# A ticket's story, from its id alone (so that the events below agree with the ticket row).
WAIT = f"(5 + {h('{id}', 81)} % 240 + CASE WHEN {{breached}} THEN 600 ELSE 0 END)"
BREACHED = f"({{status}} = 'resolved' AND {h('{id}', 82)} % 20 = 0)"
HANDLE = f"(120 + {h('{id}', 83)} % 1500)"
RATED = f"({{status}} = 'resolved' AND {h('{id}', 84)} % 5 < 2)"


def story(expr: str, *, id: str = "id", status: str = "status") -> str:
    breached = BREACHED.format(id=id, status=status)
    parts = {"breached": breached, "rated": RATED.format(id=id, status=status)}
    parts["wait"] = WAIT.format(id=id, breached=breached)
    parts["handle"] = HANDLE.format(id=id)
    return expr.format(**parts)


# $1 first ticket, $2 last ticket (also the last customer), $3 anchor, $4 seconds between two
# tickets.
TICKETS = f"""
    INSERT INTO tickets (id, customer_id, queue, status, priority, tier, urgency, channel,
        conversation_id, reason, intent, confidence, assigned_agent_id, sla_policy, last_seq,
        created_at, updated_at, first_response_at, resolved_at, rating)
    SELECT id, customer_id, queue, status, priority, tier, urgency, channel,
        'conv-' || customer_id || '-t' || id, 'request_human while chatting', 'request_human',
        0.9, CASE WHEN status = 'assigned' THEN 1 + id % {AGENTS} END,
        CASE WHEN queue = 'nurse-advice' THEN 'urgent' ELSE 'standard' END,
        {
    story(
        "CASE status WHEN 'resolved' THEN 6 + {breached}::int + {rated}::int "
        "WHEN 'abandoned' THEN 2 WHEN 'assigned' THEN 3 ELSE 1 END"
    )
},
        created_at, created_at,
        {
    story(
        "CASE WHEN status IN ('resolved', 'assigned') "
        "THEN created_at + make_interval(secs => {wait} + 30) END"
    )
},
        {
    story(
        "CASE WHEN status = 'resolved' "
        "THEN created_at + make_interval(secs => {wait} + 150 + {handle}) END"
    )
},
        {
    story(
        f"CASE WHEN {{rated}} THEN (ARRAY[5,5,5,4,4,4,3,2,5,1])[1 + ({h('id', 88)} % 10)::int] END"
    )
}
    FROM (
        SELECT g AS id, 1 + ({h("g", 86)} % $2::int)::int AS customer_id,
            (ARRAY['appointments','appointments','appointments','appointments','billing',
                   'billing','nurse-advice','nurse-advice','nurse-advice','general'])
                [1 + ({h("g", 87)} % 10)::int] AS queue,
            CASE WHEN g <= {OPEN_TICKETS}
                 THEN CASE WHEN g % 3 = 0 AND g > 6 THEN 'assigned' ELSE 'queued' END
                 WHEN {h("g", 85)} % 12 = 0 THEN 'abandoned' ELSE 'resolved' END AS status,
            t.tier, (ARRAY[300, 200, 100, 0])[array_position(
                ARRAY['platinum','gold','iron','lead'], t.tier)] AS priority,
            CASE WHEN g % 97 = 0 THEN 'emergency' WHEN g % 25 = 0 THEN 'complaint'
                 ELSE 'normal' END AS urgency,
            (ARRAY['telegram','web','phone','web'])[1 + g % 4] AS channel,
            $3::timestamptz - make_interval(secs => g * $4::float8) AS created_at
        FROM generate_series($1::int, $2::int) AS g,
            LATERAL (SELECT (ARRAY['platinum','gold','gold','iron','iron','iron','lead','lead',
                'lead','lead'])[1 + ({h("g", 89)} % 10)::int] AS tier) AS t
    ) AS s
"""

# Each ticket's log, as routing writes it (kinds and data keys of routing.events.EventKind).
EVENT_ROWS = """
    (1, 'created', 0::float8, 'bot', json_build_object('queue', t.queue, 'tier', t.tier,
        'urgency', t.urgency, 'channel', t.channel, 'customer_id', t.customer_id,
        'reason', t.reason, 'intent', t.intent, 'confidence', t.confidence)),
    (CASE WHEN v.b = 1 THEN 2 END, 'sla_breached', 300, 'system',
        json_build_object('target', 'first_response',
                          'due_at', t.created_at + interval '5 minutes')),
    (CASE WHEN t.status IN ('resolved', 'assigned') THEN 2 + v.b END, 'assigned', v.wait,
        v.actor, json_build_object('agent_id', v.agent, 'via', 'pull')),
    (CASE WHEN t.status IN ('resolved', 'assigned') THEN 3 + v.b END, 'agent_message',
        v.wait + 30, v.actor,
        json_build_object('agent_id', v.agent, 'text', 'Hello, how can I help?')),
    (CASE WHEN t.status = 'resolved' THEN 4 + v.b END, 'customer_message', v.wait + 90,
        'customer', json_build_object('text', 'Thanks, that answers it.')),
    (CASE WHEN t.status = 'resolved' THEN 5 + v.b END, 'agent_message', v.wait + 150, v.actor,
        json_build_object('agent_id', v.agent, 'text', 'Glad to help.')),
    (CASE WHEN t.status = 'resolved' THEN 6 + v.b END, 'resolved', v.wait + 150 + v.handle,
        v.actor, json_build_object('agent_id', v.agent, 'code', 'resolved')),
    (CASE WHEN t.rating IS NOT NULL THEN 7 + v.b END, 'rated', v.wait + 180 + v.handle,
        'customer', json_build_object('score', t.rating, 'comment', NULL)),
    (CASE WHEN t.status = 'abandoned' THEN 2 END, 'abandoned', v.wait, 'customer',
        json_build_object('reason', 'customer_left'))
"""

# $1 first ticket, $2 last ticket. The story's figures are worked out once per ticket (v).
EVENTS = f"""
    INSERT INTO ticket_events (ticket_id, seq, kind, at, actor, data)
    SELECT t.id, e.seq, e.kind, t.created_at + make_interval(secs => e.secs), e.actor, e.data
    FROM tickets AS t,
        LATERAL (SELECT 1 + t.id % {AGENTS} AS agent, 'agent:' || (1 + t.id % {AGENTS}) AS actor,
            {story("{breached}::int", id="t.id", status="t.status")} AS b,
            {story("{wait}", id="t.id", status="t.status")}::float8 AS wait,
            {story("{handle}", id="t.id", status="t.status")}::float8 AS handle) AS v,
        LATERAL (VALUES {EVENT_ROWS}) AS e(seq, kind, secs, actor, data)
    WHERE t.id BETWEEN $1::int AND $2::int AND e.seq IS NOT NULL
"""

# $1 how many; skills by queue (routing's QueueSpec skills in config.yml).
AGENTS_SQL = """
    INSERT INTO agents (id, username, display_name, password_hash, roles, skills, capacity,
        active, created_at)
    SELECT a, 'agent' || a, 'Agent ' || a, 'no-login', '["agent"]',
        (ARRAY['["booking"]', '["billing", "booking"]', '["nursing", "triage"]',
               '["reception", "booking"]'])[1 + a % 4]::json, 3, true, $2::timestamptz
    FROM generate_series(1, $1::int) AS a
"""


# The data tables' indexes that no constraint owns (not primary keys, unique or exclusion
# constraints): dropped before a load step and built again after it, which is quicker than
# keeping them up to date row by row. The constraints' indexes stay: they check the rows.
PLAIN_INDEXES = """
    SELECT i.indexname, i.indexdef FROM pg_indexes AS i
    JOIN pg_class AS c ON c.relname = i.indexname AND c.relkind = 'i'
    JOIN pg_index AS x ON x.indexrelid = c.oid AND NOT x.indisunique
    WHERE i.schemaname = current_schema() AND i.tablename = ANY($1::text[])
      AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = c.oid)
    ORDER BY i.indexname
"""


async def drop_plain_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drop the data tables' plain indexes; returns the statements that build them again."""
    rows = await conn.fetch(PLAIN_INDEXES, list(DATA_TABLES))
    for row in rows:
        await conn.execute(f'DROP INDEX "{row["indexname"]}"')
    return [row["indexdef"] for row in rows]


async def build_indexes(conn: asyncpg.Connection, statements: list[str]) -> None:
    await conn.execute("SET maintenance_work_mem = '256MB'")
    for statement in statements:
        await conn.execute(statement)


@dataclass(frozen=True)
class Pairs:
    """Every (practitioner, service they provide) as parallel arrays for the load SQL, sorted by
    practitioner; `first` and `count` say where each practitioner's pairs are."""

    resources: list[int]
    services: list[int]
    minutes: list[int]
    first: list[int]
    count: list[int]

    def arrays(self) -> tuple[list[int], ...]:
        return self.resources, self.services, self.minutes, self.first, self.count


async def catalog_pairs(conn: asyncpg.Connection) -> Pairs:
    rows = await conn.fetch(
        "SELECT r.id AS resource, s.id AS service, s.duration_minutes AS minutes "
        "FROM resources r JOIN services s ON r.skills::jsonb ? s.skill ORDER BY r.id, s.id"
    )
    if max(row["minutes"] for row in rows) > PAST_PITCH:
        raise ValueError(f"a service longer than {PAST_PITCH} minutes: past slots would overlap")
    resources = [row["resource"] for row in rows]
    owners = list(dict.fromkeys(resources))
    return Pairs(
        resources,
        [row["service"] for row in rows],
        [row["minutes"] for row in rows],
        [resources.index(owner) + 1 for owner in owners],
        [resources.count(owner) for owner in owners],
    )


async def load_chunk(
    conn: asyncpg.Connection, first: int, last: int, pace: Pace, pairs: Pairs
) -> dict[str, int]:
    """Customers, their appointments and messages, and tickets first..last, in one transaction."""
    anchor, rows = pace.anchor, {}
    statements = {
        "customers": (LOAD_SQL["customers"], (first, last, anchor)),
        "appointments": (
            PAST_APPOINTMENTS,
            (first, last, anchor, *pairs.arrays()),
        ),
        "interactions": (MESSAGES, (first, last, anchor, pace.message_gap)),
        "tickets": (TICKETS, (first, last, anchor, pace.ticket_gap)),
        "ticket_events": (EVENTS, (first, last)),
    }
    for table, (sql, args) in statements.items():
        rows[table] = rows_inserted(await conn.execute(sql, *args))
    return rows


def booked_future(
    settings: Settings, resource_ids: dict[str, int], service_ids: dict[str, int], start: date
) -> list[tuple[int, int, datetime, datetime]]:
    """(resource, service, start, end): about BOOKED_SHARE of every practitioner's hours booked
    over the next BOOKED_DAYS days (not on the booking calendar's holidays), none overlapping."""
    rng = random.Random(8)
    calendar = settings.calendars.get(settings.booking.calendar or "")
    holidays = set(calendar.holidays) if calendar else set()
    found = []
    for resource in settings.resources:
        services = [s for s in settings.services if s.skill in resource.skills]
        for offset in range(BOOKED_DAYS):
            day = start + timedelta(days=offset)
            if day in holidays:
                continue
            for interval in resource.schedule.get(WEEKDAYS[day.weekday()], ()):
                at = datetime.combine(day, interval.start, resource.tz)
                closes = datetime.combine(day, interval.end, resource.tz)
                while at < closes:
                    service = rng.choice(services)
                    end = at + timedelta(minutes=service.duration_minutes)
                    if end <= closes and rng.random() < BOOKED_SHARE:
                        ids = resource_ids[resource.key], service_ids[service.key]
                        found.append((*ids, at, end))
                        at = end
                    else:
                        at += settings.booking.slot_step
    return found
