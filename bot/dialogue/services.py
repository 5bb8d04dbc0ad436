"""Everything the flows use, gathered once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.dialogue.ports import Interpreter
from bot.dialogue.templates import Templates
from crm_store.clock import Clock
from crm_store.store import CrmStore


@dataclass(frozen=True)
class DialogueServices:
    settings: Settings
    store: CrmStore
    interpreter: Interpreter
    templates: Templates
    clock: Clock
    slots: Any = None  # bot.dialogue.availability.SlotFinder once wired
    knowledge: Any = None  # bot.dialogue.knowledge.KnowledgeBase once wired
    routing: Any = None  # routing's service facade once wired
