"""Every Redis key the dialogue uses, with its TTL and owner (routing keeps its own).

- `fd:conv:{conversation_id}` (string, TTL state_ttl, default 7 days): conversation state, owned
  by the ConversationStore; a turn reads and saves it through the gate (live_redis.py) together
  with the lock. Lost = the conversation starts afresh; the contact history stays in
  the database.
- `fd:lock:{conversation_id}` (string, TTL lock_ttl, renewed while held): the conversation lock,
  owned by its holder's token.
- `fd:lockq:`, `fd:lockserve:`, `fd:lockturn:`, `fd:lockgone:{conversation_id}` (TTL 1 day,
  refreshed on use): the fair lock's last number taken, last number served, when the current
  turn began, and the numbers whose waiters gave up.
- `fd:away:{channel}:{message_id}` (string, TTL 5 minutes): when a message the admission bound
  turned away "busy" first arrived, owned by RedisTurnedAway; its retry keeps its place in line
  on whichever instance it reaches. Lost = the retry waits as a new message would.
- `fd:outbox:{conversation_id}` (list, TTL outbox_ttl, default 1 day): messages for a channel that
  cannot push (REST), owned by the Outbox; delivered before the next turn's replies.
"""

from __future__ import annotations

PREFIX = "fd:"


def conversation(conversation_id: str) -> str:
    return f"{PREFIX}conv:{conversation_id}"


def lock(conversation_id: str) -> str:
    return f"{PREFIX}lock:{conversation_id}"


def lock_queue(conversation_id: str) -> str:
    return f"{PREFIX}lockq:{conversation_id}"


def lock_serving(conversation_id: str) -> str:
    return f"{PREFIX}lockserve:{conversation_id}"


def lock_turn(conversation_id: str) -> str:
    return f"{PREFIX}lockturn:{conversation_id}"


def lock_gone(conversation_id: str) -> str:
    return f"{PREFIX}lockgone:{conversation_id}"


def outbox(conversation_id: str) -> str:
    return f"{PREFIX}outbox:{conversation_id}"


def turned_away(message: str) -> str:
    return f"{PREFIX}away:{message}"
