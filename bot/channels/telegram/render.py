"""A Reply as Telegram messages: HTML-escaped text under the length limit, and its keyboard.

Buttons become an inline keyboard whose callback data is the button's payload (Telegram allows
64 bytes: longer payloads travel as a short key, "#<digest>", and `long_payloads` says which; the
sender keeps them in a CallbackStore, live_state.py, before the message goes out).
`Reply.custom {"request_contact": title}` becomes a one-time reply keyboard with a "share my
phone number" button; links become URL buttons.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode

from bot.dialogue.messages import Button, Link, Reply

PARSE_MODE = ParseMode.HTML
MAX_CHARS = 4096  # Telegram's limit for one message, counted after entity parsing (UTF-16)
SPLIT_AT = 4000  # a margin under the limit
MAX_CALLBACK_BYTES = 64
KEY_MARK = "#"  # callback data starting with this is a key into CallbackData
SHORT_TITLE = 8  # buttons with titles this short share one row

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One sendMessage: text already escaped for PARSE_MODE, and an optional keyboard."""

    text: str
    markup: Markup | None = None


def callback_data(payload: str) -> str:
    """The button's callback data: the payload itself, or a key for it when it is too long
    (or could be mistaken for a key). The same payload always gets the same key."""
    if len(payload.encode()) <= MAX_CALLBACK_BYTES and not payload.startswith(KEY_MARK):
        return payload
    return KEY_MARK + hashlib.sha256(payload.encode()).hexdigest()[:40]


def long_payloads(replies: Sequence[Reply]) -> dict[str, str]:
    """The payloads these replies' buttons send as a key: {callback data: payload}."""
    found: dict[str, str] = {}
    for reply in replies:
        for button in reply.buttons or reply.quick_replies:
            data = callback_data(button.payload)
            if data != button.payload:
                found[data] = button.payload
    return found


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = SPLIT_AT) -> list[str]:
    """Pieces of at most `limit` UTF-16 units, cut at a paragraph, line or word if possible."""
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        head = _prefix(rest, limit)
        for boundary in ("\n\n", "\n", " "):
            cut = head.rfind(boundary)
            if cut >= len(head) // 2:
                break
        else:  # no boundary in the second half: cut inside the word
            cut = len(head)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _prefix(text: str, limit: int) -> str:
    """The longest prefix of `text` within `limit` UTF-16 units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def _inline_keyboard(
    choices: Sequence[Button], links: Sequence[Link]
) -> InlineKeyboardMarkup | None:
    buttons = [
        InlineKeyboardButton(b.title, callback_data=callback_data(b.payload)) for b in choices
    ]
    rows: list[list[InlineKeyboardButton]]
    if buttons and all(len(b.title) <= SHORT_TITLE for b in choices) and len(buttons) <= 8:
        rows = [buttons]
    else:
        rows = [[button] for button in buttons]
    rows.extend([InlineKeyboardButton(link.title, url=link.url)] for link in links)
    return InlineKeyboardMarkup(rows) if rows else None


def _url_links(links: Sequence[Link]) -> tuple[list[Link], list[Link]]:
    """Links Telegram accepts as URL buttons, and the rest (shown in the text)."""
    usable = [link for link in links if link.url.startswith(("https://", "http://", "tg://"))]
    return usable, [link for link in links if link not in usable]


def render(reply: Reply) -> list[Outgoing]:
    """The messages for one reply; the keyboard goes with the last piece of a long text."""
    contact_title = (reply.custom or {}).get("request_contact")
    choices = reply.buttons or reply.quick_replies
    if contact_title:
        extra = [*(f"{i}. {b.title}" for i, b in enumerate(choices, 1))]
        extra += [f"{link.title}: {link.url}" for link in reply.links]
        body = "\n".join([reply.text, *extra])
        markup: Markup | None = ReplyKeyboardMarkup(
            [[KeyboardButton(str(contact_title), request_contact=True)]],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
    else:
        buttons_links, text_links = _url_links(reply.links)
        body = "\n".join([reply.text, *(f"{link.title}: {link.url}" for link in text_links)])
        markup = _inline_keyboard(choices, buttons_links)
    if not body.strip():
        if markup is None:
            return []
        body = "…"  # Telegram refuses an empty message; the keyboard still needs one
    pieces = [escape(piece) for piece in split_text(body)]
    return [Outgoing(piece, markup if last else None) for last, piece in _mark_last(pieces)]


def _mark_last(items: list[str]) -> list[tuple[bool, str]]:
    return [(index == len(items) - 1, item) for index, item in enumerate(items)]


def render_all(replies: Sequence[Reply], *, remove_keyboard: bool = False) -> list[Outgoing]:
    """All replies' messages; `remove_keyboard` hides a contact keyboard nobody asks for now."""
    messages = [message for reply in replies for message in render(reply)]
    asks_contact = any((reply.custom or {}).get("request_contact") for reply in replies)
    if remove_keyboard and not asks_contact:
        for index, message in enumerate(messages):
            if message.markup is None:
                messages[index] = Outgoing(message.text, ReplyKeyboardRemove())
                break
    return messages
