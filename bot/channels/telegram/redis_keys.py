"""Every Redis key the Telegram channel uses, with its TTL and owner.

`<bot>` is the bot's id (the part of its token before the colon, which is public): update ids
and button keys are per bot, so two bots sharing one Redis never meet.

- `fd:tg:<bot>:update:<update_id>` (string, TTL UPDATE_TTL_SECONDS = 1 day, as long as Telegram
  keeps an update it could not deliver): the update was taken by one process (the value is that
  process's claim token; RedisUpdateClaims, live_state.py). A redelivery to any process is
  dropped; the taker deletes its own claim (compare-and-delete in Lua) when the update must be
  redelivered. Lost = a redelivered update is taken again, and the dialogue's dedupe
  (`fd:seen:telegram:tg:<update_id>`) keeps the turn from running twice.
- `fd:tg:<bot>:button:<digest>` (string, TTL BUTTON_TTL_SECONDS = 30 days, renewed whenever the
  same payload is sent again): a button payload over Telegram's 64 bytes of callback data, sent
  as "#<digest>" (RedisCallbacks). Lost = a tap on that button is answered "this button has
  expired" and the customer types or asks again.
- `fd:tg:<bot>:pace` (string, TTL 60 s): the next free send slot of the bot, in microseconds on
  Redis's clock (RedisSendSlots): the global rate is shared by every process. Lost = one burst
  of at most one slot per process, then the schedule is rebuilt.
- `fd:tg:<bot>:pace:<chat_id>` (string, TTL a minute past the slot): the chat's next free send
  slot (per_chat_interval after the last one, or the end of a 429's "retry after"), so that two
  processes sending to one chat, say an agent's message and a turn's reply, keep its interval.
  Lost = the next two sends to that chat may come closer together; a 429 holds them again.
"""

from __future__ import annotations

PREFIX = "fd:tg:"
UPDATE_TTL_SECONDS = 24 * 3600
BUTTON_TTL_SECONDS = 30 * 24 * 3600


def update(bot_id: str, update_id: int) -> str:
    return f"{PREFIX}{bot_id}:update:{update_id}"


def button(bot_id: str, digest: str) -> str:
    return f"{PREFIX}{bot_id}:button:{digest}"


def pace(bot_id: str) -> str:
    return f"{PREFIX}{bot_id}:pace"


def chat_pace(bot_id: str, chat_id: int) -> str:
    return f"{PREFIX}{bot_id}:pace:{chat_id}"
