"""Helpers for dialogue tests: a real engine on a real store, with a small rule interpreter.

The rule interpreter understands Rasa's `/intent{"entity": "value"}` payloads (what buttons
send) and a few keywords; conversation tests that need real language understanding use the
trained NLU engine instead.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.config_loader import load_settings
from nlu.types import Entity, IntentScore, ParseResult

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = [
    (r"\b(hi|hello|hey)\b", "greet"),
    (r"\b(bye|goodbye)\b", "goodbye"),
    (r"\bthank", "thank"),
    (r"\bgums\b", "ask_advice"),
    (r"\b(bot|robot|human\?)\b", "bot_challenge"),
    (r"\bhelp\b", "help"),
]
PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_]+)(?P<json>\{.*\})?$")


class RuleInterpreter:
    async def parse(
        self, text: str, reference_time: datetime | None = None, timezone: str | None = None
    ) -> ParseResult:
        match = PAYLOAD.match(text.strip())
        if match:
            values = json.loads(match["json"]) if match["json"] else {}
            entities = tuple(
                Entity(name, value, 0, len(text), "payload") for name, value in values.items()
            )
            score = IntentScore(match["intent"], 1.0)
            return ParseResult(text, score, entities, (score,))
        for pattern, intent in KEYWORDS:
            if re.search(pattern, text, re.IGNORECASE):
                score = IntentScore(intent, 0.95)
                return ParseResult(text, score, (), (score, IntentScore("book_appointment", 0.03)))
        ranking = (IntentScore("book_appointment", 0.2), IntentScore("ask_advice", 0.15))
        return ParseResult(text, IntentScore("nlu_fallback", 0.4), (), ranking)


def demo_settings(database_url: str, model_dir: str | None = None) -> Settings:
    environ = {"FRONTDESK_DATABASE_URL": database_url}
    if model_dir is not None:
        environ["FRONTDESK_NLU_MODEL_DIR"] = model_dir
    return load_settings(ROOT / "config.yml", environ)
