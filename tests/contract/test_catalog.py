"""The catalog (services, practitioners and rooms) as config.yml describes it, on every backend."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from crm_store.store import CrmStore
from tests.contract.catalog_fixture import RESOURCES, SERVICES


async def test_instances_starting_together_sync_the_same_catalog_once(store: CrmStore) -> None:
    """Every `frontdesk run` syncs config.yml's catalog at start; several starting at once race
    to insert the same keys, and each one's sync must still succeed."""
    counts = await asyncio.gather(
        *(store.catalog.sync(SERVICES, RESOURCES, "Europe/London") for _ in range(4))
    )
    assert counts == [(2, 2)] * 4
    assert [s.key for s in await store.catalog.services()] == ["cleaning", "checkup"]
    assert [r.key for r in await store.catalog.resources()] == ["dr-novak", "sam-hill"]


async def test_a_changed_catalog_updates_by_key_and_keeps_what_was_taken_out(
    store: CrmStore,
) -> None:
    await store.catalog.sync(SERVICES, RESOURCES, "Europe/London")
    renamed = replace(SERVICES[0], name="Hygiene visit", duration_minutes=40)
    await store.catalog.sync([renamed], RESOURCES[:1], "Europe/London")
    cleaning = await store.catalog.service("cleaning")
    assert (cleaning.name, cleaning.duration_minutes) == ("Hygiene visit", 40)
    assert len(await store.catalog.services()) == 2  # the check-up stays for its appointments
    assert len(await store.catalog.resources()) == 2
