"""The durable floor of `frontdesk bench e2e`: the least a turn can do and still be a turn.

    python -m bot.bench_floor PORT DATABASE_URL REDIS_URL

A bare aiohttp handler that does, for each REST message, the input and output a Frontdesk turn
does and nothing else: one Redis script that takes the conversation's lock and reads its state,
one PostgreSQL statement that looks up the message id and the customer behind the sender, one
that stores the message, its reply and the message id, and one Redis script that saves the state
and lets the lock go. No NLU, no dialogue, no ORM: raw asyncpg with prepared statements and
redis-py (with hiredis) on the seeded bench database, the same tables and indexes as the real
servers use. The reply echoes the text.

Beside the echo ceiling (aiohttp alone), it shows what the same machine can do once every
message is written to PostgreSQL and Redis as a turn must: how much of the gap to the echo is the
stores' own work, and how much is Frontdesk's.
"""

from __future__ import annotations

import json
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from bot.bench_load import PATH, healthz

_ENTER = """
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], 86400000)
redis.call('SET', KEYS[2], ARGV[1], 'PX', 10000)
return redis.call('GET', KEYS[3])
"""
_LEAVE = """
redis.call('SET', KEYS[3], ARGV[2], 'EX', 604800)
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], 86400000)
return 1
"""
_OPEN = """
SELECT h.replies, h.state, c.id AS customer_id, c.tier
FROM (SELECT 1) AS one
LEFT JOIN handled_messages AS h ON h.channel = $1 AND h.message_id = $2
LEFT JOIN identities AS i ON i.channel = $1 AND i.external_id = $3
LEFT JOIN customers AS c ON c.id = i.customer_id AND c.erased_at IS NULL
"""
_CLOSE = """
WITH handled AS (
  INSERT INTO handled_messages (channel, message_id, replies, state, handled_at)
  VALUES ($1, $2, $3, $4, $5)
)
INSERT INTO interactions
  (customer_id, channel, direction, text, intent, conversation_id, occurred_at)
SELECT * FROM unnest($6::int[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                     $12::timestamptz[])
"""


class Floor:
    def __init__(self, database_url: str, redis_url: str) -> None:
        self._database_url = database_url.replace("postgresql+asyncpg://", "postgresql://")
        self._redis = aioredis.Redis.from_url(redis_url)
        self._enter = self._redis.register_script(_ENTER)
        self._leave = self._redis.register_script(_LEAVE)
        self._pool: asyncpg.Pool[Any] | None = None
        self._fallback = 0  # a customer for senders the clinic does not know

    async def start(self, _: web.Application) -> Any:
        self._pool = await asyncpg.create_pool(self._database_url, min_size=4, max_size=10)
        self._fallback = await self._pool.fetchval("SELECT min(id) FROM customers")
        yield
        await self._pool.close()
        await self._redis.aclose()

    async def handle(self, request: web.Request) -> web.Response:
        data = await request.json()
        sender, text = str(data["sender"]), str(data["message"])
        message_id = str((data.get("metadata") or {}).get("message_id") or secrets.token_hex(8))
        keys = [f"floor:{sender}:{part}" for part in ("next", "holder", "state", "serving")]
        token = secrets.token_hex(8)
        state = await self._enter(keys=keys, args=[token])
        assert self._pool is not None
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(_OPEN, "rest", message_id, sender)
            if row["replies"] is not None:
                await self._leave(keys=keys, args=[token, state or b"{}"])
                return web.Response(text=row["replies"], content_type="application/json")
            replies = [{"recipient_id": sender, "text": text}]
            reply = json.dumps(replies)
            now = datetime.now(UTC)
            customer = row["customer_id"] or self._fallback
            await connection.execute(
                _CLOSE, "rest", message_id, reply, "{}", now,
                [customer, customer], ["rest", "rest"], ["inbound", "outbound"], [text, text],
                ["echo", None], [sender, sender], [now, now],
            )  # fmt: skip
        await self._leave(keys=keys, args=[token, json.dumps({"turns": 1})])
        return web.Response(text=reply, content_type="application/json")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    port, database_url, redis_url = argv
    floor = Floor(database_url, redis_url)
    app = web.Application()
    app.cleanup_ctx.append(floor.start)
    app.router.add_post(PATH, floor.handle)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(port), access_log=None, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
