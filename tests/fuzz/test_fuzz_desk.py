"""Hostile input at the desk API: a signed-in agent and supervisor (with their CSRF tokens) send
hostile bodies to every POST endpoint and hostile query strings to the GET ones. Never a 5xx or a
trace; answers are JSON (or CSV exports); a refusal changes no ticket, event or contact history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from hypothesis import example, given
from hypothesis import strategies as st

from bot.app import DIALOGUE
from crm_store.customers import NewCustomer
from crm_store.enums import Channel
from crm_store.tiers import Tier
from tests.e2e.desk_support import DeskUser, add_staff
from tests.fuzz.conftest import FuzzApp, diff
from tests.fuzz.strategies import (
    FUZZ,
    assert_clean,
    dumps,
    hostile_text,
    json_values,
    malformed_json,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
AUDIT = "desk_audit_events"  # refusals are audited on purpose
POSTS = (
    "/desk/api/presence", "/desk/api/next", "/desk/api/offers/{t}/accept",
    "/desk/api/offers/{t}/decline", "/desk/api/tickets/{t}/reply", "/desk/api/tickets/{t}/note",
    "/desk/api/tickets/{t}/waiting", "/desk/api/tickets/{t}/resume",
    "/desk/api/tickets/{t}/resolve", "/desk/api/tickets/{t}/transfer",
    "/desk/api/tickets/{t}/priority", "/desk/api/tickets/{t}/appointments",
    "/desk/api/tickets/{t}/appointments/{t}/cancel", "/desk/api/logout-not-here",
)  # fmt: skip
GETS = (
    "/desk/api/dashboard/intervals?date=", "/desk/api/kb-gaps?days=", "/desk/api/audit?limit=",
    "/desk/api/export/intervals.csv?date=", "/desk/api/export/tickets.csv?date=",
    "/desk/api/tickets/",
)  # fmt: skip
ticket_ids = st.one_of(
    st.just("{ticket}"), st.sampled_from(("0", "-1", "99999999999", "1e3", "%00", "abc"))
)


class Staff:
    def __init__(self, ann: DeskUser, sue: DeskUser, ticket: int) -> None:
        self.ann, self.sue, self.ticket = ann, sue, ticket


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def staff(fuzz_app: FuzzApp) -> AsyncIterator[Staff]:
    store = fuzz_app.store
    await add_staff(store)
    customer = await store.customers.create(NewCustomer("Fuzz Customer"), [(Channel.REST, "fz")])
    await store.customers.record_transaction(customer.id, Decimal("10.00"), "GBP", "Cleaning")
    routing = fuzz_app.client.server.app[DIALOGUE].routing
    ticket = await routing.open_ticket(
        customer_id=customer.id, queue="billing", tier=Tier.LEAD, channel=Channel.REST,
        conversation_id="rest:fz", reason="fuzz",
    )  # fmt: skip
    base = str(fuzz_app.client.make_url("")).rstrip("/")
    users = []
    for name in ("ann", "sue"):
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        user = DeskUser(base, http)
        assert (await user.login(name)).status == 200
        users.append(user)
    try:
        yield Staff(users[0], users[1], ticket.id)
    finally:
        for user in users:
            await user.http.close()


def assert_desk_answer(status: int, body: str, content_type: str) -> None:
    assert_clean(status, body, allowed_5xx=(503,))
    assert status in (200, 201, 400, 403, 404, 405, 409, 413, 503), (status, body[:300])
    if content_type == "application/json":
        import json

        json.loads(body)


@FUZZ
@given(
    path=st.sampled_from(POSTS),
    ticket=ticket_ids,
    raw=st.one_of(malformed_json, json_values.map(dumps)),
    who=st.sampled_from(("ann", "sue")),
)
@example(path="/desk/api/presence", ticket="{ticket}", raw=b"[" * 60_000, who="ann")
@example(
    path="/desk/api/tickets/{t}/priority", ticket="{ticket}", raw=b'{"priority": 1e400}', who="sue"
)
async def test_hostile_bodies_to_every_post(
    fuzz_app: FuzzApp, staff: Staff, path: str, ticket: str, raw: bytes, who: str
) -> None:
    user = staff.ann if who == "ann" else staff.sue
    url = user.base + path.replace("{t}", ticket.replace("{ticket}", str(staff.ticket)))
    before = await fuzz_app.counts(AUDIT)
    response = await user.http.post(
        url, data=raw, headers={"X-CSRF-Token": user.csrf, "Content-Type": "application/json"}
    )
    body = await response.text()
    assert_desk_answer(response.status, body, response.content_type)
    if response.status >= 400:
        assert diff(before, await fuzz_app.counts(AUDIT)) == {}


@FUZZ
@given(path=st.sampled_from(POSTS[4:6]), body=st.fixed_dictionaries({"text": hostile_text}))
async def test_hostile_text_without_csrf_is_refused(
    fuzz_app: FuzzApp, staff: Staff, path: str, body: dict[str, Any]
) -> None:
    url = staff.ann.base + path.replace("{t}", str(staff.ticket))
    before = await fuzz_app.counts(AUDIT)
    response = await staff.ann.http.post(url, data=dumps(body), headers={"X-CSRF-Token": "x"})
    assert response.status == 403
    assert_desk_answer(response.status, await response.text(), response.content_type)
    assert diff(before, await fuzz_app.counts(AUDIT)) == {}


@FUZZ
@given(
    path=st.sampled_from(GETS),
    value=st.one_of(hostile_text, st.sampled_from(("9" * 30, "-1", "2026-02-30", "0"))),
)
async def test_hostile_query_strings(
    fuzz_app: FuzzApp, staff: Staff, path: str, value: str
) -> None:
    from urllib.parse import quote

    user = staff.sue  # /desk/api/audit needs an admin: a 403 for her, also checked
    before = await fuzz_app.counts(AUDIT)
    response = await user.http.get(user.base + path + quote(value, safe=""))
    body = await response.text()
    assert_desk_answer(response.status, body, response.content_type)
    if response.status >= 400:
        assert diff(before, await fuzz_app.counts(AUDIT)) == {}


async def test_a_body_over_the_limit_is_413(fuzz_app: FuzzApp, staff: Staff) -> None:
    url = staff.ann.base + f"/desk/api/tickets/{staff.ticket}/note"
    before = await fuzz_app.counts(AUDIT)
    raw = dumps({"text": "a" * (fuzz_app.max_body + 1)})
    response = await staff.ann.http.post(url, data=raw, headers={"X-CSRF-Token": staff.ann.csrf})
    assert response.status == 413
    assert_clean(response.status, await response.text())
    assert diff(before, await fuzz_app.counts(AUDIT)) == {}
