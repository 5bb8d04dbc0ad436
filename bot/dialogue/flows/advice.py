"""Advice from the knowledge base: the best passage and its article, or an honest "not sure".

The bot never composes medical advice of its own: it quotes a passage of an article or offers a
person. Every question is logged with how sure the answer was, and "Was this helpful?" answers
are kept with it, for the knowledge-base gaps report.
"""

from __future__ import annotations

from bot.dialogue.messages import Button, Reply
from bot.dialogue.turn import Turn

HELPFUL = "helpful"


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = dict(zip(DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))


def opening_hours(turn: Turn) -> str:
    """The practice's hours from its booking calendar, days with equal hours grouped."""
    settings = turn.services.settings
    calendar = settings.calendars.get(settings.booking.calendar or "")
    if calendar is None:
        return ""
    lines: list[tuple[list[str], str]] = []
    for day in DAYS:
        intervals = calendar.week.get(day, ())  # type: ignore[call-overload]
        hours = ", ".join(f"{i.start:%H:%M}-{i.end:%H:%M}" for i in intervals) or "closed"
        if lines and lines[-1][1] == hours:
            lines[-1][0].append(day)
        else:
            lines.append(([day], hours))
    return "\n".join(
        f"{DAY_NAMES[days[0]]}{'-' + DAY_NAMES[days[-1]] if len(days) > 1 else ''}: {hours}"
        for days, hours in lines
    )


class AdviceFlow:
    name = "advice"
    intents = frozenset({"ask_advice", "opening_hours", "location", "prices", "insurance", HELPFUL})

    async def start(self, turn: Turn) -> None:
        if turn.intent == HELPFUL:
            await self._feedback(turn)
            return
        hours = opening_hours(turn)
        if turn.intent == "opening_hours" and hours:
            turn.say("opening_hours", hours=hours)
            return
        knowledge = turn.services.knowledge
        answer = knowledge.answer(turn.message.text)
        log = turn.services.store.knowledge_log
        entry = await log.record_question(
            turn.customer.id,
            turn.message.text,
            answer.passage.article_slug if answer.passage else None,
            answer.confidence,
            answer.sure,
            channel=turn.message.channel,
            message_id=turn.message.message_id,
        )
        human = Button(turn.text("button_human"), "/request_human")
        if answer.passage is None:
            turn.say("advice_unknown", buttons=(human,))
            return
        passage = answer.passage
        quoted = turn.text("advice_quote", text=passage.text, title=passage.article_title)
        if answer.sure:
            turn.replies.append(Reply(quoted))
            turn.say(
                "advice_helpful",
                buttons=(
                    Button(
                        turn.text("button_yes"), f'/{HELPFUL}{{"entry": {entry}, "helpful": true}}'
                    ),
                    Button(
                        turn.text("button_no"), f'/{HELPFUL}{{"entry": {entry}, "helpful": false}}'
                    ),
                ),
            )
            return
        turn.say("advice_unsure")
        turn.replies.append(Reply(quoted, buttons=(human,)))

    async def resume(self, turn: Turn) -> bool:
        return False

    async def _feedback(self, turn: Turn) -> None:
        entry, helpful = turn.entity("entry"), turn.entity("helpful")
        if not isinstance(entry, int) or not isinstance(helpful, bool):
            turn.say("thanks")
            return
        await turn.services.store.knowledge_log.record_helpful(entry, turn.customer.id, helpful)
        if helpful:
            turn.say("advice_glad")
        else:
            turn.say("advice_sorry", buttons=(Button(turn.text("button_human"), "/request_human"),))
