"""Greetings, thanks, goodbyes, "are you a bot", the help menu and the two-stage fallback."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.dialogue.identity import NEW_CONTACT
from bot.dialogue.messages import Button
from bot.dialogue.turn import Turn
from nlu.types import FALLBACK_INTENT, OUT_OF_SCOPE_INTENT

MENU_INTENTS = (
    "book_appointment",
    "list_appointments",
    "reschedule_appointment",
    "cancel_appointment",
    "ask_advice",
    "request_human",
)
NOT_OFFERED = frozenset({FALLBACK_INTENT, OUT_OF_SCOPE_INTENT, "greet", "affirm", "deny"})


def intent_button(turn: Turn, intent: str) -> Button:
    key = f"intent_label_{intent}"
    title = turn.text(key) if turn.services.templates.has(key) else intent.replace("_", " ")
    return Button(title, f"/{intent}")


def menu(turn: Turn) -> tuple[Button, ...]:
    return tuple(intent_button(turn, intent) for intent in MENU_INTENTS)


def first_name(turn: Turn) -> str:
    return turn.customer.full_name.split()[0]


class BasicsFlow:
    name = "basics"
    intents = frozenset({"greet", "goodbye", "thank", "bot_challenge", "help", OUT_OF_SCOPE_INTENT})

    async def start(self, turn: Turn) -> None:
        business = turn.services.settings.business.name
        if turn.intent == "greet":
            await self._greet(turn, business)
        elif turn.intent == "goodbye":
            turn.say("goodbye", business=business)
        elif turn.intent == "thank":
            turn.say("thanks")
        elif turn.intent == "bot_challenge":
            turn.say("bot_challenge", business=business)
        else:
            turn.say("help", buttons=menu(turn))

    async def resume(self, turn: Turn) -> bool:
        return False

    async def _greet(self, turn: Turn, business: str) -> None:
        if turn.customer.full_name == NEW_CONTACT:
            turn.say("greet_new", business=business, buttons=menu(turn))
            return
        upcoming = await turn.services.store.appointments.upcoming(turn.customer.id, limit=1)
        if upcoming and turn.state.verified:
            zone = ZoneInfo(turn.customer.timezone)
            when = upcoming[0].start_at.astimezone(zone).strftime("%A %d %B at %H:%M")
            turn.say(
                "greet_known_upcoming",
                first_name=first_name(turn),
                service=upcoming[0].service_name.lower(),
                when=when,
            )
        else:
            turn.say("greet_known", first_name=first_name(turn), business=business)


async def fallback(turn: Turn) -> bool:
    """First miss: offer the two likeliest intents. Returns True on the second miss in a row."""
    turn.state.fallbacks += 1
    if turn.state.fallbacks >= 2:
        return True
    labelled = [
        s.name
        for s in turn.parse.intent_ranking
        if s.name not in NOT_OFFERED and turn.services.templates.has(f"intent_label_{s.name}")
    ]
    likely = [*dict.fromkeys([*labelled, *MENU_INTENTS])][:2]
    buttons = tuple(intent_button(turn, intent) for intent in likely)
    turn.say("fallback_first", buttons=(*buttons, intent_button(turn, "request_human")))
    return False
