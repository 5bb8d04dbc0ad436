"""`frontdesk demo seed`: the demo clinic's catalog and about 200 customers across every tier.

Deterministic (a fixed random seed) and idempotent: the catalog is upserted from config.yml and
the customers are added only when the documented persona (Anna Weber) is not there yet.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.config import ResourceSettings, ServiceSettings, Settings, Weekday
from crm_store.customers import NewCustomer
from crm_store.enums import AppointmentStatus, Channel, Direction
from crm_store.errors import SlotTaken
from crm_store.store import CrmStore
from crm_store.tiers import Tier

FIRST = [
    "Oliver",
    "Amelia",
    "Noah",
    "Isla",
    "Leo",
    "Freya",
    "Arjun",
    "Priya",
    "Lukas",
    "Lena",
    "Mateo",
    "Sofia",
    "Kwame",
    "Ama",
    "Tomasz",
    "Zofia",
    "Dara",
    "Niamh",
    "Yusuf",
    "Layla",
    "Chen",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Omar",
    "Fatima",
    "Elias",
    "Ingrid",
    "Rafael",
    "Chloé",
]
LAST = [
    "Smith",
    "Patel",
    "Müller",
    "Kowalski",
    "Okafor",
    "O'Brien",
    "Nguyen",
    "García",
    "Jones",
    "Schmidt",
    "Khan",
    "Rossi",
    "Haddad",
    "Lindqvist",
    "Mensah",
    "Novák",
    "Evans",
    "Taylor",
]
EXTRA_NAMES = ["مریم رضایی", "Zoë Clarke 🌻", "Jürgen Weiß", "Siobhán Ní Bhriain"]
HEARD = [
    "a friend",
    "Google search",
    "NHS referral",
    "Instagram",
    "walked past",
    "our website",
    None,
]
SAYS = [
    "Hi, can I book a check-up?",
    "What time do you open on Saturday?",
    "I need to move my appointment",
    "How much is whitening?",
    "Is Dr Novak in on Friday?",
    "I have a question about my bill",
    "Can I get a flu jab?",
    "Thanks, see you then",
]
REPLIES = [
    "Of course - which day suits you?",
    "We open 09:00-13:00 on Saturdays.",
    "Done, you're all set.",
    "A nurse will call you back today.",
]
# (tier wanted, share of customers, purchases, typical amount)
MIX = [
    (Tier.PLATINUM, 0.12, (5, 8), 320),
    (Tier.GOLD, 0.25, (2, 4), 260),
    (Tier.IRON, 0.33, (1, 2), 110),
    (Tier.LEAD, 0.30, (0, 1), 40),
]

ANNA_WEB_ID = "anna"


@dataclass(frozen=True)
class SeedReport:
    created: int
    already_seeded: bool
    tiers: Counter[Tier]
    services: int
    resources: int


def _slot_times(
    resource: ResourceSettings,
    service: ServiceSettings,
    start: date,
    days: int,
    holidays: set[date],
    rng: random.Random,
) -> Iterator[datetime]:
    """Candidate start times inside the resource's weekly schedule, in its own time zone."""
    tz = ZoneInfo(resource.timezone or "UTC")
    day_offsets = list(range(days))
    rng.shuffle(day_offsets)
    for offset in day_offsets:
        day = start + timedelta(days=offset)
        if day in holidays:
            continue
        for interval in resource.schedule.get(Weekday.of(day), ()):
            begin = datetime.combine(day, interval.start, tz)
            end = datetime.combine(day, interval.end, tz) - timedelta(
                minutes=service.duration_minutes
            )
            steps = int((end - begin).total_seconds() // 900)
            for step in rng.sample(range(steps + 1), k=min(steps + 1, 4)):
                yield begin + timedelta(minutes=15 * step)


class DemoSeeder:
    def __init__(self, settings: Settings, store: CrmStore, *, seed: int = 7) -> None:
        self.settings = settings
        self.store = store
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not security
        self.holidays = {d for cal in settings.calendars.values() for d in cal.holidays}

    async def run(
        self, customers: int = 200, progress: Callable[[int], object] | None = None
    ) -> SeedReport:
        s = self.settings
        services, resources = await self.store.catalog.sync(
            s.services, s.resources, s.business.timezone
        )
        if await self.store.customers.find_by_identity(Channel.WEB, ANNA_WEB_ID) is not None:
            return SeedReport(0, True, Counter(), services, resources)
        await self._anna()
        created = 1
        for index in range(customers - 1):
            await self._customer(index)
            created += 1
            if progress:
                progress(1)
        tiers = await self.store.tiers.assign_all()
        return SeedReport(created, False, tiers, services, resources)

    async def _anna(self) -> None:
        now = self.store.clock()
        anna = await self.store.customers.create(
            NewCustomer(
                full_name="Anna Weber",
                birth_date=date(1985, 3, 12),
                language="en",
                heard_about_us="a friend",
                consent_marketing=True,
                notes="Prefers morning appointments.",
            ),
            [
                (Channel.WEB, ANNA_WEB_ID),
                (Channel.PHONE, "+447700900001"),
                (Channel.EMAIL, "anna@example.com"),
            ],
            verified=True,
        )
        for days_ago, amount, item in [
            (300, "80.00", "Dental cleaning"),
            (160, "150.00", "Filling"),
            (40, "350.00", "Whitening"),
        ]:
            await self.store.customers.record_transaction(
                anna.id,
                Decimal(amount),
                self.settings.business.currency,
                item,
                occurred_at=now - timedelta(days=days_ago),
            )
        await self.store.customers.record_interaction(
            anna.id,
            Channel.WEB,
            Direction.INBOUND,
            "Can I book my next cleaning?",
            intent="book_appointment",
            occurred_at=now - timedelta(days=3),
        )
        await self._book(anna.id, "cleaning", now.date() + timedelta(days=1), days=6)

    async def _customer(self, index: int) -> None:
        rng, now = self.rng, self.store.clock()
        tier, (low, high), amount = self._pick_mix(index)
        name = (
            EXTRA_NAMES[index]
            if index < len(EXTRA_NAMES)
            else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        )
        slug = f"{name.split()[0].lower()}.{index}"
        identities = [(Channel.PHONE, f"+4477009{index + 10:05d}")]
        if rng.random() < 0.7:
            identities.append(
                (
                    Channel.EMAIL,
                    f"{slug.encode('ascii', 'ignore').decode() or 'patient'}{index}@example.org",
                )
            )
        if rng.random() < 0.4:
            identities.append((Channel.TELEGRAM, str(100_000_000 + index)))
        if rng.random() < 0.3:
            identities.append((Channel.WEB, f"web-{index:04d}"))
        customer = await self.store.customers.create(
            NewCustomer(
                full_name=name,
                birth_date=date(rng.randint(1940, 2008), rng.randint(1, 12), rng.randint(1, 28)),
                language=rng.choice(self.settings.business.languages),
                heard_about_us=rng.choice(HEARD),
                consent_marketing=rng.random() < 0.5,
            ),
            identities,
            verified=rng.random() < 0.6,
        )
        for _ in range(rng.randint(low, high)):
            days_ago = rng.randint(1, 170 if tier is Tier.PLATINUM else 360)
            await self.store.customers.record_transaction(
                customer.id,
                Decimal(amount) * Decimal(str(round(rng.uniform(0.8, 1.3), 2))),
                self.settings.business.currency,
                rng.choice(self.settings.services).name,
                occurred_at=now - timedelta(days=days_ago),
            )
        contacts = rng.randint(0, 4) if tier is not Tier.LEAD else rng.randint(2, 10)
        for _ in range(contacts):
            channel = rng.choice([ch for ch, _ in identities])
            when = now - timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 600))
            await self.store.customers.record_interaction(
                customer.id, channel, Direction.INBOUND, rng.choice(SAYS), occurred_at=when
            )
            await self.store.customers.record_interaction(
                customer.id,
                channel,
                Direction.OUTBOUND,
                rng.choice(REPLIES),
                occurred_at=when + timedelta(seconds=20),
            )
        if tier is not Tier.LEAD and rng.random() < 0.5:
            service = rng.choice(self.settings.services).key
            await self._book(customer.id, service, now.date() + timedelta(days=1), days=21)
        if rng.random() < 0.3:
            past = await self._book(
                customer.id,
                rng.choice(self.settings.services).key,
                now.date() - timedelta(days=60),
                days=55,
            )
            if past is not None:
                await self.store.appointments.set_status(past, AppointmentStatus.COMPLETED)

    def _pick_mix(self, index: int) -> tuple[Tier, tuple[int, int], int]:
        point = (index * 0.618_033_988_75) % 1.0  # spreads tiers evenly through the list
        for tier, share, purchases, amount in MIX:
            if point < share:
                return tier, purchases, amount
            point -= share
        return MIX[-1][0], MIX[-1][2], MIX[-1][3]

    async def _book(self, customer_id: int, service_key: str, start: date, days: int) -> int | None:
        service = next(s for s in self.settings.services if s.key == service_key)
        for resource in self.settings.resources:
            if service.skill not in resource.skills:
                continue
            for when in _slot_times(resource, service, start, days, self.holidays, self.rng):
                try:
                    booked = await self.store.appointments.book(
                        customer_id, service.key, resource.key, when
                    )
                except SlotTaken:
                    continue
                return booked.id
        return None
