"""Book an appointment: service, time, optional practitioner; offer free slots; confirm; book."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.dialogue.availability import AvailabilityError, Slot, SlotSearch
from bot.dialogue.identity import NEW_CONTACT
from bot.dialogue.messages import Button
from bot.dialogue.turn import Turn
from bot.dialogue.when import Requested, requested_time, time_entity
from crm_store.errors import InvalidInput, SlotTaken
from crm_store.records import AppointmentRecord

CHOOSE = "choose_slot"


def slot_json(slot: Slot) -> dict[str, Any]:
    return {
        "start": slot.start.isoformat(),
        "resource": slot.resource_key,
        "name": slot.resource_name,
    }


def local_label(turn: Turn, start: datetime) -> str:
    local = start.astimezone(ZoneInfo(turn.customer.timezone))
    return f"{local:%A} {local.day} {local:%B at %H:%M}"


def yes_no(turn: Turn) -> tuple[Button, Button]:
    return Button(turn.text("button_yes"), "/affirm"), Button(turn.text("button_no"), "/deny")


def match_key(value: Any, options: dict[str, str]) -> str | None:
    """A config key from an entity value: the key itself, or a name containing the value."""
    if not isinstance(value, str) or not value.strip():
        return None
    wanted = value.strip().lower()
    if wanted in options:
        return wanted
    hits = [
        key for key, name in options.items() if wanted in name.lower() or name.lower() in wanted
    ]
    return hits[0] if len(hits) == 1 else None


def repeat_options(turn: Turn) -> None:
    """ "Yes" to a list of times: ask which one, showing the same options again."""
    buttons = tuple(
        Button(local_label(turn, datetime.fromisoformat(o["start"])), f'/{CHOOSE}{{"option": {i}}}')
        for i, o in enumerate(turn.state.slots["options"], start=1)
    )
    turn.say("pick_option", buttons=buttons)


class BookingFlow:
    name = "book"
    intents = frozenset({"book_appointment", "check_availability"})

    async def start(self, turn: Turn) -> None:
        turn.state.flow, turn.state.slots = self.name, {}
        await self._advance(turn)

    async def resume(self, turn: Turn) -> bool:
        slots = turn.state.slots
        if slots.get("asking") == "name" and turn.intent not in {"deny"}:
            return await self._take_name(turn)
        if turn.intent == CHOOSE:
            return await self._choose(turn)
        if slots.get("pending") and turn.intent == "affirm":
            await self._book(turn)
            return True
        if slots.get("pending") and turn.intent == "deny":
            slots.pop("pending")
            turn.say("book_other_time")
            return True
        if slots.get("options") and not slots.get("pending") and turn.intent == "affirm":
            repeat_options(turn)
            return True
        if self._absorb(turn) or turn.intent in self.intents:
            await self._advance(turn)
            return True
        return False

    # -- steps ---------------------------------------------------------------------------------

    def _absorb(self, turn: Turn) -> bool:
        """Take service, practitioner and time from the message; True if anything changed."""
        settings, slots = turn.services.settings, turn.state.slots
        changed = False
        service = match_key(turn.entity("service"), {s.key: s.name for s in settings.services})
        if service:
            slots["service"], changed = service, True
        who = match_key(turn.entity("practitioner"), {r.key: r.name for r in settings.resources})
        if who:
            slots["practitioner"], changed = who, True
        wanted = requested_time(time_entity(turn.parse.entities))
        if wanted is not None:
            slots["requested"], changed = wanted.to_json(), True
        if changed:
            slots.pop("pending", None)
        return changed

    async def _advance(self, turn: Turn) -> None:
        self._absorb(turn)
        slots = turn.state.slots
        if "service" not in slots:
            buttons = tuple(
                Button(s.name, f'/book_appointment{{"service": "{s.key}"}}')
                for s in turn.services.settings.services
            )
            turn.say("book_which_service", buttons=buttons)
            return
        try:
            search = await self._search(turn)
        except AvailabilityError as exc:
            slots.pop("practitioner", None)
            turn.say_text(str(exc))
            return
        self._offer(turn, search)

    async def _search(self, turn: Turn) -> SlotSearch:
        slots = turn.state.slots
        wanted = Requested.from_json(slots.get("requested") or {})
        finder = turn.services.slots
        return await finder.find(
            slots["service"],
            at=wanted.at,
            between=wanted.between,
            practitioner_key=slots.get("practitioner"),
        )

    def _offer(self, turn: Turn, search: SlotSearch) -> None:
        slots = turn.state.slots
        service = self._service_name(turn)
        if search.exact is not None:
            slots["pending"] = slot_json(search.exact)
            self._ask_confirmation(turn)
            return
        if not search.options:
            turn.state.end_flow()
            turn.say(
                "book_none",
                service=service,
                buttons=(Button(turn.text("button_human"), "/request_human"),),
            )
            return
        slots["options"] = [slot_json(slot) for slot in search.options]
        buttons = tuple(
            Button(
                f"{local_label(turn, slot.start)} · {slot.resource_name}",
                f'/{CHOOSE}{{"option": {i}}}',
            )
            for i, slot in enumerate(search.options, start=1)
        )
        wanted = Requested.from_json(slots.get("requested") or {})
        if wanted.at is not None:
            turn.say(
                "book_offer_taken",
                when=local_label(turn, wanted.at),
                service=service,
                buttons=buttons,
            )
        elif search.outside_request:
            turn.say("book_offer_outside", service=service, buttons=buttons)
        else:
            turn.say("book_offer", service=service, buttons=buttons)

    async def _choose(self, turn: Turn) -> bool:
        options = turn.state.slots.get("options") or []
        index = turn.entity("option")
        if not isinstance(index, int) or not 1 <= index <= len(options):
            return False
        turn.state.slots["pending"] = options[index - 1]
        self._ask_confirmation(turn)
        return True

    def _ask_confirmation(self, turn: Turn) -> None:
        slots = turn.state.slots
        if turn.customer.full_name == NEW_CONTACT and "name" not in slots:
            slots["asking"] = "name"
            turn.say("ask_name")
            return
        pending = slots["pending"]
        turn.say(
            "book_confirm",
            service=self._service_name(turn).lower(),
            practitioner=pending["name"],
            when=local_label(turn, datetime.fromisoformat(pending["start"])),
            buttons=yes_no(turn),
        )

    async def _take_name(self, turn: Turn) -> bool:
        name = turn.entity("name") or turn.message.text
        try:
            await turn.services.store.customers.update_profile(turn.customer.id, full_name=name)
        except InvalidInput:
            turn.say("ask_name")
            return True
        slots = turn.state.slots
        slots["name"], slots["asking"] = name, None
        self._ask_confirmation(turn)
        return True

    async def _book(self, turn: Turn) -> None:
        slots = turn.state.slots
        pending = slots["pending"]
        start = datetime.fromisoformat(pending["start"])
        try:
            booked = await turn.services.store.appointments.book(
                turn.customer.id, slots["service"], pending["resource"], start
            )
        except SlotTaken:
            mine = await self._held_already(turn, start)
            if mine is None:
                slots.pop("pending")
                slots["requested"] = Requested(at=start).to_json()
                turn.say("book_slot_gone")
                self._offer(turn, await self._search(turn))
                return
            booked = mine
        turn.state.end_flow()
        turn.say(
            "book_done",
            service=booked.service_name.lower(),
            practitioner=booked.resource_name,
            when=local_label(turn, booked.start_at),
        )

    async def _held_already(self, turn: Turn, start: datetime) -> AppointmentRecord | None:
        """The customer's own booking of this service at this time, if the slot is taken by it:
        the confirmation was handled before (its turn did not commit, and this is the retry)."""
        service = self._service_name(turn)
        upcoming = await turn.services.store.appointments.upcoming(turn.customer.id)
        return next(
            (a for a in upcoming if a.start_at == start and a.service_name == service), None
        )

    @staticmethod
    def _service_name(turn: Turn) -> str:
        key = turn.state.slots["service"]
        return next(s.name for s in turn.services.settings.services if s.key == key)
