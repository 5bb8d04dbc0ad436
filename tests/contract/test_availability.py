"""Free slots from the demo clinic's config.yml, over real bookings on SQLite and PostgreSQL.

The clock starts on Monday 2026-11-23 09:00 UTC. London is on GMT (UTC+0) from 2026-10-25 to
2027-03-28, so in those weeks the clinic's wall-clock hours read the same in UTC. Priya Nair is
the only hygienist (cleaning, 45 minutes): Mon, Wed, Fri 08:00-12:30 and 13:30-16:00.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import ResourceSettings, Settings
from bot.config_loader import ConfigError, load_settings
from bot.dialogue.availability import (
    BusyTimes,
    NotOffered,
    Slot,
    SlotFinder,
    SlotSearch,
    UnknownPractitioner,
    UnknownService,
)
from crm_store.customers import NewCustomer
from crm_store.store import CrmStore
from tests.conftest import ROOT, FakeClock

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
DENTISTS = ("Dr Amelia Hartley", "Dr Daniel Okafor")


def utc(month: int, day: int, hour: int, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def starts(search: SlotSearch) -> list[tuple[datetime, str]]:
    return [(slot.start, slot.resource_key) for slot in search.options]


def times(search: SlotSearch) -> list[datetime]:
    return [slot.start for slot in search.options]


@dataclass
class CountingBook:
    """The real appointment book, counting busy() queries per resource."""

    inner: BusyTimes
    calls: list[str] = field(default_factory=list)

    async def busy(
        self, resource_key: str, start: datetime, end: datetime
    ) -> Sequence[tuple[datetime, datetime]]:
        self.calls.append(resource_key)
        return await self.inner.busy(resource_key, start, end)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(ROOT / "config.yml", environ={})


@pytest.fixture
async def patient(store: CrmStore, settings: Settings) -> int:
    await store.catalog.sync(settings.services, settings.resources, settings.business.timezone)
    return (await store.customers.create(NewCustomer("Patient"))).id


@pytest.fixture
def finder(store: CrmStore, settings: Settings, clock: FakeClock, patient: int) -> SlotFinder:
    return SlotFinder.from_settings(settings, store.appointments, clock)


# -- one time asked for ----------------------------------------------------------------------------


async def test_a_free_time_is_the_exact_slot(finder: SlotFinder) -> None:
    search = await finder.find("cleaning", at=utc(11, 25, 15))  # Wednesday 15:00
    slot = Slot(utc(11, 25, 15), utc(11, 25, 15, 45), "priya-nair", "Priya Nair", "cleaning")
    assert search == SlotSearch(exact=slot, options=(slot,), outside_request=False)


async def test_a_taken_time_gets_the_three_nearest_on_both_sides(
    finder: SlotFinder, store: CrmStore, patient: int
) -> None:
    await store.appointments.book(patient, "cleaning", "priya-nair", utc(11, 25, 10))
    search = await finder.find("cleaning", at=utc(11, 25, 10))
    # Booked 10:00-10:45: 09:15 and 10:45 are 45 minutes away, then 09:00 and 11:00 tie at an
    # hour and the earlier one wins.
    assert search.exact is None and not search.outside_request
    assert times(search) == [utc(11, 25, 9), utc(11, 25, 9, 15), utc(11, 25, 10, 45)]


async def test_a_booking_ending_off_the_grid(
    finder: SlotFinder, store: CrmStore, patient: int
) -> None:
    await store.appointments.book(patient, "gp-consult", "dr-fischer", utc(11, 25, 15))
    search = await finder.find("gp-consult", at=utc(11, 25, 15))
    # Booked 15:00-15:20: 14:45 would run into it, 15:20 is not on the grid; 14:30 and 15:30 are
    # half an hour away, then 14:15 and 15:45 tie and the earlier wins.
    assert times(search) == [utc(11, 25, 14, 15), utc(11, 25, 14, 30), utc(11, 25, 15, 30)]


async def test_a_day_off_gets_the_nearest_working_day(finder: SlotFinder) -> None:
    search = await finder.find("cleaning", at=utc(11, 24, 15))  # Tuesday: Priya is off
    # Wednesday 08:00 is 17 hours away; Monday's last start (15:15) is 23h45m away.
    assert times(search) == [utc(11, 25, 8), utc(11, 25, 8, 15), utc(11, 25, 8, 30)]


async def test_closing_time_limits_the_last_start(finder: SlotFinder) -> None:
    # Priya stops at 16:00: a 45-minute cleaning cannot start at 15:30; 15:15 is the last start.
    search = await finder.find("cleaning", at=utc(11, 25, 15, 30))
    assert search.exact is None
    assert times(search) == [utc(11, 25, 14, 45), utc(11, 25, 15), utc(11, 25, 15, 15)]


async def test_minimum_notice_and_the_past_are_never_offered(finder: SlotFinder) -> None:
    # Now is Monday 09:00; with two hours' notice 11:00 is the earliest start.
    search = await finder.find("cleaning", at=utc(11, 23, 9, 30))
    assert search.exact is None
    assert times(search) == [utc(11, 23, 11), utc(11, 23, 11, 15), utc(11, 23, 11, 30)]
    assert times(await finder.find("cleaning")) == times(search)
    assert not await finder.is_free("cleaning", "priya-nair", utc(11, 23, 10, 45))
    assert await finder.is_free("cleaning", "priya-nair", utc(11, 23, 11))


async def test_any_practitioner_then_the_next_one(
    finder: SlotFinder, store: CrmStore, patient: int
) -> None:
    tuesday_nine = utc(12, 1, 9)
    first = await finder.find("checkup", at=tuesday_nine)
    assert first.exact is not None and first.exact.resource_key == "dr-hartley"
    await store.appointments.book(patient, "checkup", "dr-hartley", tuesday_nine)
    second = await finder.find("checkup", at=tuesday_nine)
    assert second.exact is not None and second.exact.resource_name == "Dr Daniel Okafor"


# -- an interval asked for ------------------------------------------------------------------------


async def test_an_interval_gets_its_first_free_slots(
    finder: SlotFinder, store: CrmStore, patient: int
) -> None:
    for start in (utc(11, 25, 8), utc(11, 25, 9, 30)):
        await store.appointments.book(patient, "cleaning", "priya-nair", start)
    search = await finder.find("cleaning", between=(utc(11, 25, 8), utc(11, 25, 12)))
    assert search == SlotSearch(None, search.options, outside_request=False)
    assert times(search) == [utc(11, 25, 8, 45), utc(11, 25, 10, 15), utc(11, 25, 10, 30)]
    # Only 08:45 starts before 09:30 and ends before the 09:30 booking: one option, not three.
    early = await finder.find("cleaning", between=(utc(11, 25, 8), utc(11, 25, 9, 30)))
    assert times(early) == [utc(11, 25, 8, 45)] and not early.outside_request


async def test_the_lunch_break_is_respected(finder: SlotFinder) -> None:
    # Morning ends 12:30: 11:45 is the last morning start; the afternoon opens at 13:30.
    search = await finder.find("cleaning", between=(utc(11, 25, 11, 30), utc(11, 25, 14)))
    assert times(search) == [utc(11, 25, 11, 30), utc(11, 25, 11, 45), utc(11, 25, 13, 30)]
    assert not await finder.is_free("cleaning", "priya-nair", utc(11, 25, 12))


async def test_saturday_has_its_own_hours_and_sunday_none(finder: SlotFinder) -> None:
    saturday = await finder.find("checkup", between=(utc(11, 28, 0), utc(11, 30, 0)))
    assert starts(saturday) == [
        (utc(11, 28, 9), "dr-hartley"),
        (utc(11, 28, 9, 15), "dr-hartley"),
        (utc(11, 28, 9, 30), "dr-hartley"),
    ]
    sunday = await finder.find("checkup", between=(utc(11, 29, 0), utc(11, 30, 0)))
    # Monday 08:30 is 8h30m after the interval; Saturday's last start (12:30) is 11h30m before.
    assert sunday.outside_request
    assert times(sunday) == [utc(11, 30, 8, 30), utc(11, 30, 8, 45), utc(11, 30, 9)]


async def test_a_practitioner_asked_for_next_week(finder: SlotFinder) -> None:
    next_week = (utc(11, 30, 0), utc(12, 7, 0))
    anyone = await finder.find("checkup", between=next_week)
    okafor = await finder.find("checkup", between=next_week, practitioner_key="dr-okafor")
    assert starts(anyone)[0] == (utc(11, 30, 8, 30), "dr-hartley")
    assert starts(okafor) == [
        (utc(12, 1, 9), "dr-okafor"),
        (utc(12, 1, 9, 15), "dr-okafor"),
        (utc(12, 1, 9, 30), "dr-okafor"),
    ]


async def test_holidays_close_the_practice(
    finder: SlotFinder, store: CrmStore, settings: Settings, clock: FakeClock
) -> None:
    christmas = await finder.find("cleaning", at=utc(12, 25, 10))  # a Friday
    assert christmas.exact is None
    assert times(christmas) == [utc(12, 23, 14, 45), utc(12, 23, 15), utc(12, 23, 15, 15)]
    # Thursday to Monday: Friday 25th and Monday 28th (Boxing Day) are bank holidays.
    week = await finder.find("cleaning", between=(utc(12, 24, 0), utc(12, 29, 0)))
    assert week.outside_request
    assert times(week) == [utc(12, 23, 14, 45), utc(12, 23, 15), utc(12, 23, 15, 15)]
    no_holidays = SlotFinder(settings.services, settings.resources, store.appointments, clock)
    assert (await no_holidays.find("cleaning", at=utc(12, 25, 10))).exact is not None


async def test_nothing_within_the_horizon_is_an_empty_answer(
    store: CrmStore, settings: Settings, clock: FakeClock, patient: int
) -> None:
    clock.now = utc(12, 26, 12)  # Saturday; Sunday, then the Boxing Day holiday
    finder = SlotFinder(
        settings.services, settings.resources, store.appointments, clock,
        holidays=settings.calendars["clinic_hours"].holidays, horizon=timedelta(days=2),
    )  # fmt: skip
    empty = SlotSearch(None, (), outside_request=False)
    assert await finder.find("cleaning") == empty
    assert await finder.find("cleaning", at=utc(12, 28, 10)) == empty
    assert await finder.find("cleaning", between=(utc(12, 28, 8), utc(12, 28, 12))) == empty
    assert (await finder.find("checkup")).options == ()  # Sunday and the holiday
    assert (await finder.find("cleaning", at=utc(12, 30, 8))).options == ()  # beyond


# -- time zones -----------------------------------------------------------------------------------


async def test_the_customers_time_zone_does_not_move_the_clinics_hours(
    finder: SlotFinder,
) -> None:
    ten_in_new_york = datetime(2026, 11, 25, 10, 0, tzinfo=NEW_YORK)  # 15:00 in London
    search = await finder.find("cleaning", at=ten_in_new_york)
    assert search.exact is not None
    assert search.exact.start == utc(11, 25, 15)
    assert search.exact.label(NEW_YORK) == "Wed 25 Nov 10:00"
    assert search.exact.label(LONDON) == "Wed 25 Nov 15:00"
    morning = (
        datetime(2026, 11, 25, 8, tzinfo=NEW_YORK),
        datetime(2026, 11, 25, 12, tzinfo=NEW_YORK),
    )
    # New York's morning is London's 13:00-17:00: Priya's afternoon, after lunch.
    assert times(await finder.find("cleaning", between=morning)) == [
        utc(11, 25, 13, 30), utc(11, 25, 13, 45), utc(11, 25, 14),
    ]  # fmt: skip


async def test_summer_time_ends_between_saturday_and_monday(
    finder: SlotFinder, clock: FakeClock
) -> None:
    clock.now = utc(10, 20, 9)
    # Saturday 24 October is BST: Dr Hartley's 09:00 is 08:00 UTC. Monday 26th is GMT.
    assert await finder.is_free("checkup", "dr-hartley", utc(10, 24, 8))
    assert not await finder.is_free("checkup", "dr-hartley", utc(10, 24, 7, 45))
    assert await finder.is_free("checkup", "dr-hartley", utc(10, 26, 8, 30))
    assert not await finder.is_free("checkup", "dr-hartley", utc(10, 26, 7, 30))
    weekend = await finder.find("checkup", between=(utc(10, 24, 11), utc(10, 27, 0)))
    assert times(weekend) == [utc(10, 24, 11), utc(10, 24, 11, 15), utc(10, 24, 11, 30)]


def extra(key: str, days: dict[str, list[str]]) -> ResourceSettings:
    return ResourceSettings.model_validate(
        {"key": key, "name": key.replace("-", " ").title(), "timezone": "Europe/London",
         "skills": ["dentistry"], "schedule": days}
    )  # fmt: skip


EXTRA_DENTISTS = (
    extra("dr-night", {"sun": ["00:00-01:30", "02:00-03:00"]}),  # ends inside the odd hour
    extra("dr-late", {"sun": ["01:30-03:00"]}),  # starts inside it
    extra("dr-visiting", {"thu": ["09:00-10:00"]}),  # three check-ups a week
)


@pytest.fixture
async def extra_finder(
    store: CrmStore, settings: Settings, clock: FakeClock, patient: int
) -> SlotFinder:
    resources = (*settings.resources, *EXTRA_DENTISTS)
    await store.catalog.sync(settings.services, resources, settings.business.timezone)
    return SlotFinder(settings.services, resources, store.appointments, clock)


async def night_shift(finder: SlotFinder, who: str, day: datetime) -> list[datetime]:
    between = (day - timedelta(hours=2), day + timedelta(hours=5))
    search = await finder.find("checkup", between=between, practitioner_key=who, count=20)
    assert all(slot.end - slot.start == timedelta(minutes=30) for slot in search.options)
    return times(search)


def every_quarter(first: datetime, last: datetime) -> list[datetime]:
    return [
        first + timedelta(minutes=15 * i)
        for i in range((last - first) // timedelta(minutes=15) + 1)
    ]


async def test_clocks_going_back_lengthen_a_night_shift(
    extra_finder: SlotFinder, clock: FakeClock
) -> None:
    clock.now = utc(10, 20, 9)
    # 00:00 BST is 23:00 UTC; 01:30 happens twice (00:30 and 01:30 UTC): work opens at the
    # first and closes at the second. 02:00 and 03:00 are GMT (UTC).
    until_half_past_one = every_quarter(utc(10, 24, 23), utc(10, 25, 1))
    from_two = every_quarter(utc(10, 25, 2), utc(10, 25, 2, 30))
    assert await night_shift(extra_finder, "dr-night", utc(10, 25, 0)) == [
        *until_half_past_one,
        *from_two,
    ]
    assert await night_shift(extra_finder, "dr-late", utc(10, 25, 0)) == every_quarter(
        utc(10, 25, 0, 30), utc(10, 25, 2, 30)
    )


async def test_clocks_going_forward_skip_the_missing_hour(
    extra_finder: SlotFinder, clock: FakeClock
) -> None:
    clock.now = utc(3, 20, 9, year=2027)
    # 01:30 never happens: at 01:00 UTC the clocks jump from 01:00 GMT to 02:00 BST, so a shift
    # "until 01:30" ends then and one "from 01:30" starts then; 03:00 BST is 02:00 UTC.
    sunday = utc(3, 28, 0, year=2027)
    hour = timedelta(hours=1)
    assert await night_shift(extra_finder, "dr-night", sunday) == [
        *every_quarter(sunday, sunday + hour / 2),  # a check-up cannot run past 01:00 UTC
        *every_quarter(sunday + hour, sunday + hour * 1.5),
    ]
    assert await night_shift(extra_finder, "dr-late", sunday) == every_quarter(
        sunday + timedelta(hours=1), sunday + timedelta(hours=1, minutes=30)
    )


async def test_a_thin_first_week_widens_the_search(extra_finder: SlotFinder) -> None:
    search = await extra_finder.find("checkup", practitioner_key="dr-visiting", count=4)
    assert times(search) == [utc(11, 26, 9), utc(11, 26, 9, 15), utc(11, 26, 9, 30), utc(12, 3, 9)]


# -- errors, checks and cost ----------------------------------------------------------------------


async def test_unknown_names_are_clear_errors(finder: SlotFinder) -> None:
    with pytest.raises(UnknownService) as service:
        await finder.find("massage")
    assert "Dental cleaning" in service.value.known and "massage" in str(service.value)
    with pytest.raises(UnknownPractitioner) as nobody:
        await finder.find("checkup", practitioner_key="dr-who")
    assert nobody.value.known == DENTISTS
    assert str(nobody.value) == (
        "nobody called 'dr-who' works here; "
        "Dental check-up is with Dr Amelia Hartley and Dr Daniel Okafor"
    )
    with pytest.raises(NotOffered) as wrong:
        await finder.is_free("checkup", "dr-fischer", utc(11, 30, 9))
    assert wrong.value.known == DENTISTS and "Dr Katharina Fischer" in str(wrong.value)
    with pytest.raises(ValueError, match="naive"):
        await finder.find("checkup", at=datetime(2026, 11, 30, 9))


async def test_is_free_checks_grid_schedule_and_bookings(
    finder: SlotFinder, store: CrmStore, patient: int
) -> None:
    wednesday = utc(11, 25, 15)
    assert await finder.is_free("cleaning", "priya-nair", wednesday)
    assert not await finder.is_free("cleaning", "priya-nair", wednesday + timedelta(minutes=5))
    assert not await finder.is_free("cleaning", "priya-nair", utc(11, 24, 10))  # a Tuesday
    await store.appointments.book(patient, "checkup", "dr-hartley", utc(11, 25, 9))
    await store.appointments.book(patient, "cleaning", "priya-nair", utc(11, 25, 15, 30))
    assert not await finder.is_free("cleaning", "priya-nair", wednesday)
    assert await finder.is_free("cleaning", "priya-nair", utc(11, 25, 14, 45))


async def test_one_busy_query_per_practitioner_per_window(
    store: CrmStore, settings: Settings, clock: FakeClock, patient: int
) -> None:
    book = CountingBook(store.appointments)
    finder = SlotFinder.from_settings(settings, book, clock)
    await finder.find("checkup")
    assert book.calls == ["dr-hartley", "dr-okafor"]
    book.calls.clear()
    await finder.find("checkup", at=utc(1, 30, 9, year=2027))  # beyond the horizon
    assert book.calls == ["dr-hartley", "dr-okafor"]  # its last week is enough
    book.calls.clear()
    await finder.find("cleaning", between=(utc(12, 25, 0), utc(12, 26, 0)))  # a holiday
    assert book.calls == ["priya-nair", "priya-nair"]  # the day, then a week either side


@dataclass
class OverlappingBook:
    """A busy() source that may return overlapping intervals (the Protocol does not forbid it)."""

    async def busy(
        self, resource_key: str, start: datetime, end: datetime
    ) -> Sequence[tuple[datetime, datetime]]:
        return [(utc(11, 25, 7), utc(11, 25, 10)), (utc(11, 25, 7, 30), utc(11, 25, 7, 45))]


async def test_overlapping_busy_intervals_are_merged(settings: Settings, clock: FakeClock) -> None:
    finder = SlotFinder(settings.services, settings.resources, OverlappingBook(), clock)
    search = await finder.find("cleaning", between=(utc(11, 25, 8), utc(11, 25, 12)))
    assert times(search) == [utc(11, 25, 10), utc(11, 25, 10, 15), utc(11, 25, 10, 30)]


def test_booking_settings_come_from_config_and_name_a_real_calendar(
    settings: Settings, tmp_path: Path
) -> None:
    booking = settings.booking
    assert booking.calendar == "clinic_hours" and booking.horizon_days == 60
    assert (booking.slot_step, booking.min_notice, booking.reminder_before) == (
        timedelta(minutes=15), timedelta(hours=2), timedelta(hours=24),
    )  # fmt: skip
    text = (
        (ROOT / "config.yml")
        .read_text()
        .replace("calendar: clinic_hours\n  slot", "calendar: x\n  slot")
    )
    (tmp_path / "config.yml").write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path / "config.yml", environ={})
    assert error.value.path == "booking.calendar"
    assert error.value.reason == "no calendar named 'x' is defined"
