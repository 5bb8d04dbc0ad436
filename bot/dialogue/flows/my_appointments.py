"""A verified customer's own appointments: list them, cancel one, or move one."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.dialogue.availability import AvailabilityError
from bot.dialogue.flows.booking import (
    CHOOSE,
    local_label,
    match_key,
    repeat_options,
    slot_json,
    yes_no,
)
from bot.dialogue.messages import Button
from bot.dialogue.turn import Turn
from bot.dialogue.when import Requested, requested_time, time_entity
from crm_store.enums import AppointmentStatus
from crm_store.errors import InvalidTransition, NotFound, SlotTaken
from crm_store.records import AppointmentRecord

if TYPE_CHECKING:
    from bot.dialogue.router import Router

PICK = "pick_appointment"


class _OwnAppointments:
    name = ""
    intents: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self.router: Router | None = None

    async def _verified(self, turn: Turn) -> bool:
        assert self.router is not None
        return await self.router.verification().require(turn, turn.intent)

    async def _upcoming(self, turn: Turn) -> list[AppointmentRecord]:
        return await turn.services.store.appointments.upcoming(turn.customer.id)

    def _describe(self, turn: Turn, appointment: AppointmentRecord) -> str:
        when = local_label(turn, appointment.start_at)
        return f"{appointment.service_name} with {appointment.resource_name}, {when}"

    @staticmethod
    def _by_service(turn: Turn, upcoming: list[AppointmentRecord]) -> AppointmentRecord | None:
        """The one upcoming appointment of the service the customer named ("my cleaning")."""
        services = {s.key: s.name for s in turn.services.settings.services}
        key = match_key(turn.entity("service"), services)
        matching = [a for a in upcoming if key and a.service_name == services[key]]
        return matching[0] if len(matching) == 1 else None

    async def _pick(self, turn: Turn, verb: str) -> AppointmentRecord | None:
        """The appointment the customer means: the only one, or the one they chose."""
        upcoming = await self._upcoming(turn)
        chosen = turn.entity("appointment")
        if isinstance(chosen, int):
            return next((a for a in upcoming if a.id == chosen), None)
        if len(upcoming) == 1:
            return upcoming[0]
        named = self._by_service(turn, upcoming)
        if named is not None:
            return named
        if not upcoming:
            turn.state.end_flow()
            turn.say("no_appointments")
            return None
        buttons = tuple(
            Button(self._describe(turn, a), f'/{PICK}{{"appointment": {a.id}}}') for a in upcoming
        )
        turn.say(f"{verb}_which", buttons=buttons)
        return None


class ListAppointmentsFlow(_OwnAppointments):
    name = "list"
    intents = frozenset({"list_appointments"})

    async def start(self, turn: Turn) -> None:
        if not await self._verified(turn):
            return
        upcoming = await self._upcoming(turn)
        if not upcoming:
            turn.say("no_appointments")
            return
        lines = "\n".join(f"• {self._describe(turn, a)}" for a in upcoming)
        turn.say("your_appointments", appointments=lines)

    async def resume(self, turn: Turn) -> bool:
        return False


class CancelFlow(_OwnAppointments):
    name = "cancel"
    intents = frozenset({"cancel_appointment"})

    async def start(self, turn: Turn) -> None:
        if not await self._verified(turn):
            return
        turn.state.flow, turn.state.slots = self.name, {}
        await self._ask(turn)

    async def resume(self, turn: Turn) -> bool:
        slots = turn.state.slots
        if turn.intent == PICK or (turn.intent in self.intents and "appointment" not in slots):
            await self._ask(turn)
            return True
        if "appointment" in slots and turn.intent in {"affirm", "deny"}:
            if turn.intent == "deny":
                turn.state.end_flow()
                turn.say("cancel_kept")
                return True
            await self._cancel(turn, int(slots["appointment"]))
            return True
        return False

    async def _ask(self, turn: Turn) -> None:
        appointment = await self._pick(turn, "cancel")
        if appointment is None:
            return
        turn.state.slots["appointment"] = appointment.id
        turn.say(
            "cancel_confirm", appointment=self._describe(turn, appointment), buttons=yes_no(turn)
        )

    async def _cancel(self, turn: Turn, appointment_id: int) -> None:
        turn.state.end_flow()
        mine = {a.id for a in await self._upcoming(turn)}
        try:
            if appointment_id not in mine:
                raise NotFound("appointment", appointment_id)
            cancelled = await turn.services.store.appointments.cancel(appointment_id)
        except (NotFound, InvalidTransition):
            done = await self._cancelled_already(turn, appointment_id)
            if done is None:
                turn.say("cancel_gone")
                return
            cancelled = done
        turn.say("cancel_done", appointment=self._describe(turn, cancelled))

    @staticmethod
    async def _cancelled_already(turn: Turn, appointment_id: int) -> AppointmentRecord | None:
        """The customer's appointment if it is cancelled already: by this very confirmation,
        whose turn did not commit (this is the retry), or by the desk in the meantime."""
        try:
            found = await turn.services.store.appointments.get(appointment_id)
        except NotFound:
            return None
        mine = found.customer_id == turn.customer.id
        return found if mine and found.status is AppointmentStatus.CANCELLED else None


class RescheduleFlow(_OwnAppointments):
    name = "reschedule"
    intents = frozenset({"reschedule_appointment"})

    async def start(self, turn: Turn) -> None:
        if not await self._verified(turn):
            return
        turn.state.flow, turn.state.slots = self.name, {}
        await self._advance(turn)

    async def resume(self, turn: Turn) -> bool:
        slots = turn.state.slots
        if turn.intent == CHOOSE:
            options = slots.get("options") or []
            index = turn.entity("option")
            if isinstance(index, int) and 1 <= index <= len(options):
                slots["pending"] = options[index - 1]
                self._confirm(turn)
                return True
            return False
        if slots.get("options") and not slots.get("pending") and turn.intent == "affirm":
            repeat_options(turn)
            return True
        if slots.get("pending") and turn.intent in {"affirm", "deny"}:
            if turn.intent == "affirm":
                await self._move(turn)
            else:
                slots.pop("pending")
                turn.say("book_other_time")
            return True
        if turn.intent == PICK or time_entity(turn.parse.entities) or turn.intent in self.intents:
            await self._advance(turn)
            return True
        return False

    async def _advance(self, turn: Turn) -> None:
        slots = turn.state.slots
        entities = turn.parse.entities
        said = requested_time(time_entity(entities, "to") or time_entity(entities))
        if said is not None:  # kept while we ask which appointment
            slots["requested"] = said.to_json()
        if "appointment" not in slots:
            appointment = await self._pick(turn, "move")
            if appointment is None:
                return
            slots["appointment"] = appointment.id
            slots["service"] = await self._service_key(turn, appointment)
            slots["practitioner"] = await self._resource_key(turn, appointment)
        if "requested" not in slots:
            turn.say("move_when")
            return
        await self._offer(turn, Requested.from_json(slots["requested"]))

    async def _offer(self, turn: Turn, wanted: Requested) -> None:
        slots = turn.state.slots
        finder = turn.services.slots
        try:
            search = await finder.find(
                slots["service"],
                at=wanted.at,
                between=wanted.between,
                practitioner_key=slots.get("practitioner"),
            )
        except AvailabilityError as exc:
            turn.say_text(str(exc))
            return
        if search.exact is not None:
            slots["pending"] = slot_json(search.exact)
            self._confirm(turn)
        elif search.options:
            slots["options"] = [slot_json(s) for s in search.options]
            buttons = tuple(
                Button(local_label(turn, s.start), f'/{CHOOSE}{{"option": {i}}}')
                for i, s in enumerate(search.options, start=1)
            )
            if wanted.at is not None:
                turn.say("move_offer_taken", when=local_label(turn, wanted.at), buttons=buttons)
            else:
                turn.say("move_options", buttons=buttons)
        else:
            turn.say("move_none")

    def _confirm(self, turn: Turn) -> None:
        pending = turn.state.slots["pending"]
        when = local_label(turn, datetime.fromisoformat(pending["start"]))
        turn.say("move_confirm", when=when, practitioner=pending["name"], buttons=yes_no(turn))

    async def _move(self, turn: Turn) -> None:
        slots = turn.state.slots
        pending = slots.pop("pending")
        start = datetime.fromisoformat(pending["start"])
        try:
            moved = await turn.services.store.appointments.reschedule(
                int(slots["appointment"]), start, resource_key=pending["resource"]
            )
        except SlotTaken:
            turn.say("book_slot_gone")
            await self._offer(turn, Requested(at=start))
            return
        except (NotFound, InvalidTransition):
            turn.state.end_flow()
            turn.say("cancel_gone")
            return
        turn.state.end_flow()
        turn.say("move_done", appointment=self._describe(turn, moved))

    @staticmethod
    async def _service_key(turn: Turn, appointment: AppointmentRecord) -> str:
        services = await turn.services.store.catalog.services()
        return next(s.key for s in services if s.id == appointment.service_id)

    @staticmethod
    async def _resource_key(turn: Turn, appointment: AppointmentRecord) -> str:
        resources = await turn.services.store.catalog.resources()
        return next(r.key for r in resources if r.id == appointment.resource_id)
