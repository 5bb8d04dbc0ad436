"""Desk sessions: live state behind the session cookie, in Redis or in this process's memory.

The cookie holds a random token; the store keeps the session under a digest of it with a time
to live (renewed on use). A lost session only means signing in again.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from desk.errors import NotReady
from desk.keys import DeskKeys, token_digest


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Session:
    agent_id: int
    csrf: str  # the synchronizer token every state-changing request must echo
    created_at: datetime
    address: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "agent_id": self.agent_id,
                "csrf": self.csrf,
                "created_at": self.created_at.isoformat(),
                "address": self.address,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Session:
        raw = json.loads(text)
        return cls(
            int(raw["agent_id"]),
            str(raw["csrf"]),
            datetime.fromisoformat(raw["created_at"]),
            raw.get("address"),
        )


class SessionStore(Protocol):
    async def put(self, token: str, session: Session, ttl: timedelta) -> None: ...

    async def get(self, token: str, ttl: timedelta) -> Session | None:
        """The session, its time to live renewed to `ttl`; None when unknown or expired."""
        ...

    async def delete(self, token: str) -> None: ...


class MemorySessionStore:
    """One process: sessions in a dict, expired on a monotonic clock (as Redis would)."""

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[Session, float]] = {}

    async def put(self, token: str, session: Session, ttl: timedelta) -> None:
        self._sweep()
        self._sessions[token_digest(token)] = (session, time.monotonic() + ttl.total_seconds())

    async def get(self, token: str, ttl: timedelta) -> Session | None:
        key = token_digest(token)
        found = self._sessions.get(key)
        if found is None or found[1] <= time.monotonic():
            self._sessions.pop(key, None)
            return None
        self._sessions[key] = (found[0], time.monotonic() + ttl.total_seconds())
        return found[0]

    async def delete(self, token: str) -> None:
        self._sessions.pop(token_digest(token), None)

    def _sweep(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, until) in self._sessions.items() if until <= now]:
            del self._sessions[key]


class RedisSessionStore:
    """Any number of processes: one key per session with a TTL (see desk.keys)."""

    def __init__(self, client: aioredis.Redis, keys: DeskKeys | None = None) -> None:
        self._redis = client
        self._keys = keys or DeskKeys()

    async def put(self, token: str, session: Session, ttl: timedelta) -> None:
        try:
            await self._redis.set(self._keys.session(token), session.to_json(), px=_ms(ttl))
        except (RedisError, OSError) as exc:
            raise NotReady("sessions are unavailable; try again shortly") from exc

    async def get(self, token: str, ttl: timedelta) -> Session | None:
        try:
            raw = await self._redis.getex(self._keys.session(token), px=_ms(ttl))
        except (RedisError, OSError) as exc:
            raise NotReady("sessions are unavailable; try again shortly") from exc
        return None if raw is None else Session.from_json(raw)

    async def delete(self, token: str) -> None:
        try:
            await self._redis.delete(self._keys.session(token))
        except (RedisError, OSError) as exc:
            raise NotReady("sessions are unavailable; try again shortly") from exc


def _ms(ttl: timedelta) -> int:
    return max(1, int(ttl.total_seconds() * 1000))


def renewed_ttl(session: Session, now: datetime, idle: timedelta, max_age: timedelta) -> timedelta:
    """The idle time to live, never reaching past the session's absolute end."""
    return min(idle, session.created_at + max_age - now)
