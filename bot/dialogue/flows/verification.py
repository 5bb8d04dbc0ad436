"""Proof of identity before anything private is shown, in the way each channel supports.

Web chat and REST: a signed identity from the host page (nothing to ask in the chat).
Telegram: sharing one's own contact (the channel turns it into a verified phone number). The
contact arrives as the intent `share_contact`: with `verified_phone` when the channel accepted it
(the dialogue's identity step has linked the number already), or with the metadata
`contact_rejected` naming why it proves nothing (someone else's card, a forwarded one).
Phone (and REST, for testing): the birth date on file.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from bot.dialogue.messages import Button, Reply
from bot.dialogue.turn import Turn
from crm_store.enums import Channel

if TYPE_CHECKING:
    from bot.dialogue.router import Router

ASKS_BIRTH_DATE = frozenset({Channel.PHONE, Channel.REST})
MAX_TRIES = 3
SHARE_CONTACT = "share_contact"  # the intent a shared Telegram contact arrives as
CONTACT_REJECTED = "contact_rejected"  # metadata: why a shared contact proves nothing
REJECTED_NOT_OWN = "not_own"  # someone else's contact card (or one without a user id)
REJECTED_FORWARDED = "forwarded"  # a forwarded message, whoever's card it is


def birth_date_from(turn: Turn) -> date | None:
    for name in ("birth_date", "time"):
        value = turn.entity(name)
        if isinstance(value, str) and len(value) >= 10:
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None


class VerificationFlow:
    """Started by other flows through `require`; resumes the intent that needed it."""

    name = "verify"
    intents: frozenset[str] = frozenset({SHARE_CONTACT})

    def __init__(self) -> None:
        self.router: Router | None = None  # set by the Router this flow is registered with

    async def start(self, turn: Turn) -> None:
        if turn.intent == SHARE_CONTACT:
            await self._contact(turn)
            return
        await self.require(turn, turn.intent)

    async def require(self, turn: Turn, intent: str) -> bool:
        """True if the customer is verified; otherwise ask for proof and remember `intent`."""
        if turn.state.verified:
            return True
        channel = turn.message.channel
        if channel is Channel.TELEGRAM:
            turn.state.flow = self.name
            turn.state.slots = {"then": intent, "tries": 0}
            turn.replies.append(_ask_contact(turn, "verify_telegram"))
        elif channel in ASKS_BIRTH_DATE and turn.customer.birth_date is not None:
            turn.state.flow = self.name
            turn.state.slots = {"then": intent, "tries": 0}
            turn.say("verify_birth_date")
        else:
            turn.say("verify_sign_in")
        return False

    async def resume(self, turn: Turn) -> bool:
        if turn.message.channel is Channel.TELEGRAM:
            if turn.intent != SHARE_CONTACT:  # they moved on; sharing later still verifies
                turn.state.end_flow()
                return False
            await self._contact(turn)
            return True
        slots = turn.state.slots
        given = birth_date_from(turn)
        if given is None:
            if turn.intent in {"deny"}:
                turn.state.end_flow()
                turn.say("cancelled_flow")
                return True
            turn.say("verify_birth_date_again")
            return True
        if given == turn.customer.birth_date:
            turn.state.verified = True
            await turn.services.store.customers.verify_identity(
                turn.message.channel, turn.message.sender_id
            )
            then = str(slots.get("then") or "")
            turn.state.end_flow()
            turn.say("verify_thanks")
            if self.router is not None and then:
                await self.router.start_intent(turn, then)
            return True
        slots["tries"] = int(slots.get("tries", 0)) + 1
        if slots["tries"] >= MAX_TRIES:
            turn.state.end_flow()
            turn.say(
                "verify_failed", buttons=(Button(turn.text("button_human"), "/request_human"),)
            )
        else:
            turn.say("verify_wrong")
        return True

    async def _contact(self, turn: Turn) -> None:
        """A Telegram contact: thank and carry on when it verified, else say why it did not."""
        waiting = turn.state.flow == self.name
        slots = turn.state.slots if waiting else {}
        rejected = turn.message.metadata.get(CONTACT_REJECTED)
        if rejected is None and turn.state.verified:
            then = str(slots.get("then") or "")
            if waiting:
                turn.state.end_flow()
            turn.say("verify_thanks")
            if self.router is not None and then:
                await self.router.start_intent(turn, then)
            return
        if waiting:
            slots["tries"] = int(slots.get("tries", 0)) + 1
            if slots["tries"] >= MAX_TRIES:
                turn.state.end_flow()
                human = Button(turn.text("button_human"), "/request_human")
                turn.say("verify_failed", buttons=(human,))
                return
        key = f"telegram_contact_{rejected}" if rejected else "verify_telegram"
        if not turn.services.templates.has(key):
            key = f"telegram_contact_{REJECTED_NOT_OWN}"
        turn.replies.append(_ask_contact(turn, key))


def _ask_contact(turn: Turn, key: str) -> Reply:
    """`key`'s text with Telegram's "share my phone number" keyboard button."""
    return Reply(turn.text(key), custom={"request_contact": turn.text("button_share_contact")})
