"""Channel-neutral messages: what a channel hands the dialogue, and what the dialogue answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_store.enums import Channel


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a customer, already authenticated as far as its channel can.

    `sender_id` is the channel identity (Telegram user id, E.164 caller number, web user id,
    REST sender). `verified` is True only when the channel proved who the sender is (a signed
    web identity, a Telegram contact shared by its owner); `verified_phone` carries the phone
    number such a proof established, so the dialogue can link it to an existing customer.
    `metadata["session"]` names a session whose end also ends any proof given in it (a call).
    """

    channel: Channel
    sender_id: str
    text: str
    received_at: datetime
    message_id: str | None = None
    verified: bool = False
    verified_phone: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def conversation_id(self) -> str:
        return f"{self.channel.value}:{self.sender_id}"


@dataclass(frozen=True, slots=True)
class Button:
    """A choice the customer can tap; `payload` is sent back as their message (Rasa style)."""

    title: str
    payload: str


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One bot message; channels render what they can and fall back to plain text."""

    text: str
    buttons: tuple[Button, ...] = ()
    quick_replies: tuple[Button, ...] = ()
    links: tuple[Link, ...] = ()
    custom: Mapping[str, Any] | None = None

    def plain_text(self) -> str:
        """The reply as text alone, for channels without buttons (e.g. voice, SMS)."""
        parts = [self.text]
        choices = self.buttons or self.quick_replies
        if choices:
            parts.append(" / ".join(f"{i}. {b.title}" for i, b in enumerate(choices, start=1)))
        parts.extend(f"{link.title}: {link.url}" for link in self.links)
        return "\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.quick_replies:
            data["quick_replies"] = [
                {"title": b.title, "payload": b.payload} for b in self.quick_replies
            ]
        if self.links:
            data["links"] = [{"title": link.title, "url": link.url} for link in self.links]
        if self.custom is not None:
            data["custom"] = dict(self.custom)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Reply:
        return cls(
            text=str(data["text"]),
            buttons=tuple(Button(b["title"], b["payload"]) for b in data.get("buttons", ())),
            quick_replies=tuple(
                Button(b["title"], b["payload"]) for b in data.get("quick_replies", ())
            ),
            links=tuple(Link(link["title"], link["url"]) for link in data.get("links", ())),
            custom=data.get("custom"),
        )
