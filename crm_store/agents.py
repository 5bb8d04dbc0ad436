"""Agents who work the desk: accounts with argon2 password hashes, roles, skills and capacity."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable

import phonenumbers
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from crm_store import mapping
from crm_store import models as m
from crm_store.clock import Clock
from crm_store.database import Database
from crm_store.enums import AgentRole
from crm_store.errors import InvalidInput, NotFound
from crm_store.records import AgentRecord
from crm_store.validation import clean_name

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
PHONE_ADDRESS_MAX = 200
# sip:user@host[:port][;param=value...] (what Twilio's <Sip> noun dials); no spaces or quotes.
_SIP = re.compile(
    r"^sips?:[A-Za-z0-9._~%!$&'()*+,=-]+@[A-Za-z0-9.-]+(?::\d{1,5})?(?:;[A-Za-z0-9._~%=-]+)*$",
    re.IGNORECASE,
)


def clean_phone_address(raw: str | None) -> str | None:
    """Where an agent takes calls: an international number (returned as E.164) or a sip: URI.

    A blank value means "no phone"; a number must carry its country code ("+44 20 7946 0321"),
    since agents may sit anywhere.
    """
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if len(value) > PHONE_ADDRESS_MAX:
        raise InvalidInput("phone_address", f"is longer than {PHONE_ADDRESS_MAX} characters")
    if value[:4].lower() == "sip:" or value[:5].lower() == "sips:":
        if not _SIP.match(value):
            raise InvalidInput(
                "phone_address", f"{value!r} is not a SIP address like sip:ann@pbx.example.com"
            )
        scheme, _, rest = value.partition(":")
        return f"{scheme.lower()}:{rest}"
    if not value.startswith("+"):
        raise InvalidInput(
            "phone_address",
            f"{value!r}: write the number with its country code (+44...) or sip:...",
        )
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidInput("phone_address", f"{value!r} is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidInput("phone_address", f"{value!r} is not a possible phone number")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


class AgentDirectory:
    def __init__(
        self, database: Database, clock: Clock, hasher: PasswordHasher | None = None
    ) -> None:
        self._db = database
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    async def create(
        self,
        username: str,
        password: str,
        *,
        display_name: str | None = None,
        roles: Iterable[AgentRole] = (AgentRole.AGENT,),
        skills: Iterable[str] = (),
        capacity: int = 3,
        phone_address: str | None = None,
    ) -> AgentRecord:
        username = username.strip().lower()
        if not _USERNAME.match(username):
            raise InvalidInput("username", "use 2-64 lower-case letters, digits, '.', '_' or '-'")
        if len(password) < MIN_PASSWORD:
            raise InvalidInput("password", f"must be at least {MIN_PASSWORD} characters")
        if not 1 <= capacity <= 50:
            raise InvalidInput("capacity", "must be between 1 and 50")
        role_list = sorted({AgentRole(r) for r in roles})
        if not role_list:
            raise InvalidInput("roles", "at least one role is required")
        phone = clean_phone_address(phone_address)
        # Hashing is CPU work: keep it off the event loop.
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        async with self._db.transaction() as session:
            if await session.scalar(select(m.Agent.id).where(m.Agent.username == username)):
                raise InvalidInput("username", f"{username!r} is taken")
            row = m.Agent(
                username=username,
                display_name=clean_name(display_name or username, "display_name"),
                password_hash=password_hash,
                roles=[r.value for r in role_list],
                skills=sorted(set(skills)),
                capacity=capacity,
                active=True,
                phone_address=phone,
                created_at=self._clock(),
            )
            session.add(row)
            await session.flush()
            return mapping.agent(row)

    async def set_phone_address(self, agent_id: int, phone_address: str | None) -> AgentRecord:
        """Set (or, with None or a blank, clear) where the agent takes phone calls."""
        phone = clean_phone_address(phone_address)
        async with self._db.transaction() as session:
            row = await session.get(m.Agent, agent_id)
            if row is None:
                raise NotFound("agent", agent_id)
            row.phone_address = phone
            await session.flush()
            return mapping.agent(row)

    async def authenticate(self, username: str, password: str) -> AgentRecord | None:
        """The agent if the password matches; None otherwise (same work either way)."""
        async with self._db.transaction() as session:
            row = await session.scalar(
                select(m.Agent).where(m.Agent.username == username.strip().lower(), m.Agent.active)
            )
        if row is None and self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(
                self._hasher.hash, "an unknown user's attempt"
            )
        stored = row.password_hash if row is not None else self._dummy_hash
        assert stored is not None
        try:
            await asyncio.to_thread(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return None if row is None else mapping.agent(row)

    async def get(self, agent_id: int) -> AgentRecord | None:
        async with self._db.transaction() as session:
            row = await session.get(m.Agent, agent_id)
            return None if row is None else mapping.agent(row)

    async def all(self) -> list[AgentRecord]:
        async with self._db.transaction() as session:
            return [
                mapping.agent(r)
                for r in await session.scalars(select(m.Agent).order_by(m.Agent.id))
            ]
