"""Every Redis key the phone line uses, with its TTL and owner.

- `fd:voice:call:{CallSid}` (string, TTL CALL_TTL_SECONDS = 6 h, renewed on every change): the
  call's state as JSON (calls_redis.py), owned by RedisCallStore and changed only inside
  WATCH/MULTI. Lost = the call goes on as a fresh one (the caller may hear a question again);
  the contact history is in the database.
- `fd:voice:answer:{idempotency key}` (string, same TTL): the TwiML already answered to one
  webhook, replayed to the provider's retry of it. Lost = a retry runs again, and the dialogue's
  own dedupe (message id = the same key) keeps the turn from running twice.
"""

from __future__ import annotations

PREFIX = "fd:voice:"


def call(call_sid: str) -> str:
    return f"{PREFIX}call:{call_sid}"


def answer(key: str) -> str:
    return f"{PREFIX}answer:{key}"
