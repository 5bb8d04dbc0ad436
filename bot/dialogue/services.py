"""Everything the flows use, gathered once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.dialogue.availability import SlotFinder
from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue.ports import Interpreter
from bot.dialogue.templates import Templates
from crm_store.clock import Clock
from crm_store.store import CrmStore
from routing.service import RoutingService


@dataclass(frozen=True)
class DialogueServices:
    settings: Settings
    store: CrmStore
    interpreter: Interpreter
    templates: Templates
    clock: Clock
    slots: SlotFinder
    knowledge: KnowledgeBase
    routing: RoutingService
