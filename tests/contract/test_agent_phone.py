"""An agent's phone address (where the phone line puts a call through), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from crm_store.agents import clean_phone_address
from crm_store.errors import InvalidInput, NotFound
from crm_store.store import CrmStore

PASSWORD = "a long enough password"


async def test_a_number_is_stored_in_e164_and_read_back(store: CrmStore) -> None:
    created = await store.agents.create("maria", PASSWORD, phone_address=" +44 20 7946 0321 ")
    assert created.phone_address == "+442079460321"
    again = await store.agents.get(created.id)
    assert again is not None and again.phone_address == "+442079460321"
    assert [a.phone_address for a in await store.agents.all()] == ["+442079460321"]


async def test_a_sip_address_is_kept_and_can_be_changed_and_cleared(store: CrmStore) -> None:
    agent = await store.agents.create("tom", PASSWORD)
    assert agent.phone_address is None
    changed = await store.agents.set_phone_address(
        agent.id, "SIP:tom@pbx.example.com;transport=tls"
    )
    assert changed.phone_address == "sip:tom@pbx.example.com;transport=tls"
    stored = await store.agents.get(agent.id)
    assert stored is not None and stored.phone_address == changed.phone_address
    cleared = await store.agents.set_phone_address(agent.id, "  ")
    assert cleared.phone_address is None
    stored = await store.agents.get(agent.id)
    assert stored is not None and stored.phone_address is None


async def test_a_bad_address_is_refused_and_nothing_is_written(store: CrmStore) -> None:
    agent = await store.agents.create("lena", PASSWORD, phone_address="+4915112345678")
    for bad in ["07700 900123", "+44 12", "sip:nobody", "sip:a b@host", "tel:+441234", "x" * 201]:
        with pytest.raises(InvalidInput) as caught:
            await store.agents.set_phone_address(agent.id, bad)
        assert caught.value.field == "phone_address", bad
    with pytest.raises(InvalidInput):
        await store.agents.create("ben", PASSWORD, phone_address="call me")
    assert [a.username for a in await store.agents.all()] == ["lena"]
    stored = await store.agents.get(agent.id)
    assert stored is not None and stored.phone_address == "+4915112345678"
    with pytest.raises(NotFound):
        await store.agents.set_phone_address(agent.id + 100, "+442079460321")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (None, None),
        ("", None),
        ("+1 (415) 555-0100", "+14155550100"),
        ("sips:desk-7@voice.example.org:5061", "sips:desk-7@voice.example.org:5061"),
    ],
)
def test_clean_phone_address(raw: str | None, clean: str | None) -> None:
    assert clean_phone_address(raw) == clean
