"""One turn of a conversation: the message, what it means, who sent it, and the replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.dialogue.messages import Button, InboundMessage, Reply
from bot.dialogue.state import ConversationState
from crm_store.records import CustomerRecord
from nlu.types import ParseResult

if TYPE_CHECKING:
    from bot.dialogue.services import DialogueServices


@dataclass
class Turn:
    message: InboundMessage
    state: ConversationState
    customer: CustomerRecord
    parse: ParseResult
    now: datetime
    services: DialogueServices
    replies: list[Reply] = field(default_factory=list)

    @property
    def intent(self) -> str:
        return self.parse.intent.name

    @property
    def confidence(self) -> float:
        return self.parse.intent.confidence

    @property
    def language(self) -> str:
        return self.state.language

    def entity(self, name: str) -> Any | None:
        values = self.parse.entity_values(name)
        return values[0] if values else None

    def text(self, key: str, **fields: Any) -> str:
        return self.services.templates.render(self.language, key, **fields)

    def say(self, key: str, *, buttons: tuple[Button, ...] = (), **fields: Any) -> None:
        self.replies.append(Reply(self.text(key, **fields), buttons=buttons))

    def say_text(self, text: str, *, buttons: tuple[Button, ...] = ()) -> None:
        self.replies.append(Reply(text, buttons=buttons))
