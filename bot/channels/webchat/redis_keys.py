"""Every Redis key and channel the web chat uses, with its lifetime and owner.

- `fd:webchat:rate:{conversation_id}` (hash `tokens`, `at`; TTL rate_limit_period, renewed on
  every message): the conversation's token bucket (RedisRateLimiter, limiter.py), changed only
  by one Lua script. Once a whole period has passed without a message the bucket is full again,
  so the key may go. Lost = the visitor gets a full bucket.
- `fd:webchat:new` (pub/sub channel, no storage): new-message announcements (fanout.py).
"""

from __future__ import annotations

PREFIX = "fd:webchat:"


def rate(conversation_id: str) -> str:
    return f"{PREFIX}rate:{conversation_id}"
