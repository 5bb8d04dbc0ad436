"""The desk's access rules over HTTP: sign-in, sessions, CSRF, throttling, roles, queue scoping,
and the audit log that records them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from crm_store.store import CrmStore
from tests.conftest import FakeClock
from tests.contract.routing_fixture import sqlite_crm_fixture  # noqa: F401
from tests.dialogue_support import demo_settings
from tests.e2e.desk_support import PASSWORD, DeskWorld, desk_world

# Every endpoint of the desk's API (method, path); ticket 1 exists in `world_with_tickets`.
API = [
    ("GET", "/desk/api/me"),
    ("POST", "/desk/api/logout"),
    ("GET", "/desk/api/console"),
    ("POST", "/desk/api/presence"),
    ("POST", "/desk/api/next"),
    ("POST", "/desk/api/offers/1/accept"),
    ("POST", "/desk/api/offers/1/decline"),
    ("GET", "/desk/api/tickets/1"),
    ("POST", "/desk/api/tickets/1/reply"),
    ("POST", "/desk/api/tickets/1/note"),
    ("POST", "/desk/api/tickets/1/waiting"),
    ("POST", "/desk/api/tickets/1/resume"),
    ("POST", "/desk/api/tickets/1/resolve"),
    ("POST", "/desk/api/tickets/1/transfer"),
    ("POST", "/desk/api/tickets/1/appointments"),
    ("POST", "/desk/api/tickets/1/appointments/1/cancel"),
    ("POST", "/desk/api/tickets/1/priority"),
    ("GET", "/desk/api/catalog"),
    ("GET", "/desk/api/agents"),
    ("GET", "/desk/api/events"),
    ("GET", "/desk/api/dashboard"),
    ("GET", "/desk/api/dashboard/intervals"),
    ("GET", "/desk/api/kb-gaps"),
    ("GET", "/desk/api/export/intervals.csv"),
    ("GET", "/desk/api/export/tickets.csv"),
    ("GET", "/desk/api/audit"),
]
SUPERVISOR_ONLY = [
    ("GET", "/desk/api/dashboard"),
    ("GET", "/desk/api/dashboard/intervals"),
    ("GET", "/desk/api/kb-gaps"),
    ("GET", "/desk/api/export/intervals.csv"),
    ("GET", "/desk/api/export/tickets.csv"),
    ("POST", "/desk/api/tickets/1/priority"),
]
AGENT_ONLY = [
    ("GET", "/desk/api/console"),
    ("POST", "/desk/api/presence"),
    ("POST", "/desk/api/next"),
    ("POST", "/desk/api/tickets/1/reply"),
    ("POST", "/desk/api/tickets/1/resolve"),
]


@pytest.fixture
async def world(sqlite_crm: CrmStore, clock: FakeClock) -> AsyncIterator[DeskWorld]:
    settings = demo_settings("sqlite+aiosqlite:///unused.db")
    async with desk_world(sqlite_crm, settings, clock) as world:
        yield world


@pytest.fixture
async def billing_ticket(world: DeskWorld) -> int:
    customer = await world.customer()
    ticket = await world.ticket(customer, "billing", conversation="rest:maria")
    assert ticket.id == 1
    return ticket.id


async def audit(world: DeskWorld) -> list[tuple[str, str, int | None, str | None]]:
    admin = await world.user("ada")
    entries = await admin.json("/desk/api/audit")
    return [(e["action"], e["outcome"], e["agent_id"], e["target"]) for e in entries]


async def test_every_endpoint_needs_a_session(world: DeskWorld, billing_ticket: int) -> None:
    anonymous = await world.user()
    for method, path in API:
        response = await anonymous.http.request(method, f"{world.base}{path}", json={})
        assert response.status == 401, (method, path, response.status)
        assert (await response.json())["error"]
    for page in ("/desk/console", "/desk/dashboard", "/desk"):
        response = await anonymous.get(page, allow_redirects=False)
        assert (response.status, response.headers["Location"]) == (302, "/desk/login")


async def test_sign_in_sets_a_strict_httponly_cookie_and_sign_out_ends_the_session(
    world: DeskWorld,
) -> None:
    user = await world.user()
    response = await user.login("ann")
    assert response.status == 200
    cookie = response.cookies["fd_desk_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]  # http://localhost in the demo config
    assert cookie["path"] == "/desk"
    me = await user.json("/desk/api/me")
    assert me["agent"]["username"] == "ann" and me["csrf"] == user.csrf
    assert [q["key"] for q in me["queues"]] == ["billing"]
    assert (await user.post("/desk/api/logout", csrf="")).status == 403  # CSRF on logout too
    assert (await user.post("/desk/api/logout")).status == 200
    assert (await user.get("/desk/api/me")).status == 401
    assert ("logout", "ok", world.staff["ann"], None) in await audit(world)


async def test_secure_cookies_behind_https(sqlite_crm: CrmStore, clock: FakeClock) -> None:
    settings = demo_settings("sqlite+aiosqlite:///unused.db")
    async with desk_world(sqlite_crm, settings, clock, cookie_secure=True) as world:
        user = await world.user()
        response = await user.get("/desk/api/login-token")
        assert response.cookies["fd_desk_login"]["secure"] is True
        token = (await response.json())["csrf"]
        response = await user.http.post(  # a browser would not send a Secure cookie over http
            f"{world.base}/desk/api/login",
            json={"username": "ann", "password": PASSWORD},
            headers={"X-CSRF-Token": token, "Cookie": f"fd_desk_login={token}"},
        )
        assert response.status == 200
        assert response.cookies["fd_desk_session"]["secure"] is True


async def test_a_new_session_on_every_sign_in(world: DeskWorld) -> None:
    user = await world.user("ann")
    old = user.http.cookie_jar.filter_cookies(world.server.make_url("/desk"))["fd_desk_session"]
    assert (await user.login("ann")).status == 200
    new = user.http.cookie_jar.filter_cookies(world.server.make_url("/desk"))["fd_desk_session"]
    assert old.value != new.value
    intruder = await world.user()
    intruder.http.cookie_jar.update_cookies({"fd_desk_session": old.value})
    assert (await intruder.get("/desk/api/me")).status == 401  # the old session is gone


async def test_sign_in_needs_the_login_token(world: DeskWorld) -> None:
    user = await world.user()
    url = f"{world.base}/desk/api/login"
    body = {"username": "ann", "password": PASSWORD}
    assert (await user.http.post(url, json=body)).status == 403
    await user.get("/desk/api/login-token")
    forged = await user.http.post(url, json=body, headers={"X-CSRF-Token": "guess"})
    assert forged.status == 403
    assert ("csrf_rejected", "refused", None, None) in await audit(world)


async def test_wrong_passwords_are_throttled_per_username(world: DeskWorld) -> None:
    user = await world.user()
    for _ in range(5):
        response = await user.login("ann", "not the password")
        assert response.status == 401
        assert (await response.json())["error"] == "wrong username or password"
    response = await user.login("ann")  # even the right password waits now
    assert response.status == 429
    assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
    assert (await world.user()).http is not None
    other = await world.user()
    assert (await other.login("bob")).status == 200  # another username is not affected
    entries = await audit(world)
    assert [e[0] for e in entries].count("login_failed") == 5
    assert ("login_throttled", "refused", None, None) in entries


async def test_bad_sign_in_bodies_are_refused_clearly(world: DeskWorld) -> None:
    user = await world.user()
    token = (await (await user.get("/desk/api/login-token")).json())["csrf"]
    for body in (b"not json", b"[1]", b'{"username": 5, "password": "x"}', b'{"username": "ann"}'):
        response = await user.http.post(
            f"{world.base}/desk/api/login", data=body, headers={"X-CSRF-Token": token}
        )
        assert response.status == 400
        assert "Traceback" not in await response.text()


async def test_state_changes_need_the_sessions_csrf_token(
    world: DeskWorld, billing_ticket: int
) -> None:
    ann = await world.user("ann")
    for token in ("", "wrong-token"):
        response = await ann.post("/desk/api/presence", {"presence": "available"}, csrf=token)
        assert response.status == 403
        assert "CSRF" in (await response.json())["error"]
    assert (await ann.post("/desk/api/presence", {"presence": "available"})).status == 200
    refused = [e for e in await audit(world) if e[0] == "csrf_rejected"]
    assert refused == [("csrf_rejected", "refused", world.staff["ann"], None)] * 2


async def test_an_agent_sees_only_their_queues_tickets(
    world: DeskWorld, billing_ticket: int
) -> None:
    bob = await world.user("bob")  # booking: the appointments queue
    response = await bob.get(f"/desk/api/tickets/{billing_ticket}")
    assert response.status == 403
    for path in ("reply", "note", "resolve", "transfer"):
        response = await bob.post(f"/desk/api/tickets/{billing_ticket}/{path}", {"text": "hi"})
        assert response.status == 403, path
    ann = await world.user("ann")  # billing
    assert (await ann.get(f"/desk/api/tickets/{billing_ticket}")).status == 200
    refused = [e for e in await audit(world) if e[0] == "ticket_refused"]
    assert refused[0] == ("ticket_refused", "refused", world.staff["bob"], "ticket:1")
    assert len(refused) == 5


async def test_an_agent_sees_a_ticket_once_it_is_theirs(
    world: DeskWorld, billing_ticket: int
) -> None:
    await world.routing.transfer(billing_ticket, actor="system", to_agent=world.staff["bob"])
    bob = await world.user("bob")
    assert (await bob.get(f"/desk/api/tickets/{billing_ticket}")).status == 200


async def test_an_agent_cannot_act_as_a_supervisor(world: DeskWorld, billing_ticket: int) -> None:
    ann = await world.user("ann")
    for method, path in [*SUPERVISOR_ONLY, ("GET", "/desk/api/audit")]:
        response = await ann.http.request(
            method, f"{world.base}{path}", json={}, headers={"X-CSRF-Token": ann.csrf}
        )
        assert response.status == 403, (method, path)
    roles = [e for e in await audit(world) if e[0] == "role_refused"]
    assert len(roles) == len(SUPERVISOR_ONLY) + 1


async def test_a_supervisor_cannot_act_as_an_agent_nor_read_the_audit_log(
    world: DeskWorld, billing_ticket: int
) -> None:
    sue = await world.user("sue")
    for method, path in [*AGENT_ONLY, ("GET", "/desk/api/audit")]:
        response = await sue.http.request(
            method, f"{world.base}{path}", json={}, headers={"X-CSRF-Token": sue.csrf}
        )
        assert response.status == 403, (method, path)
    assert (await sue.get(f"/desk/api/tickets/{billing_ticket}")).status == 200  # every queue
    assert (await sue.get("/desk/api/dashboard")).status == 200


async def test_sessions_end_after_the_maximum_age(world: DeskWorld, clock: FakeClock) -> None:
    ann = await world.user("ann")
    clock.advance(hours=11, minutes=59)
    assert (await ann.get("/desk/api/me")).status == 200
    clock.advance(minutes=1)
    assert (await ann.get("/desk/api/me")).status == 401


async def test_a_deactivated_account_is_signed_out(world: DeskWorld) -> None:
    from sqlalchemy import update

    from crm_store import models as m

    ann = await world.user("ann")
    async with world.store.database.transaction() as session:
        await session.execute(update(m.Agent).where(m.Agent.username == "ann").values(active=False))
    assert (await ann.get("/desk/api/me")).status == 401


async def test_idle_sessions_expire(sqlite_crm: CrmStore, clock: FakeClock) -> None:
    import asyncio

    settings = demo_settings("sqlite+aiosqlite:///unused.db")
    idle = timedelta(milliseconds=300)
    async with desk_world(sqlite_crm, settings, clock, session_lifetime=idle) as world:
        ann = await world.user("ann")
        assert (await ann.get("/desk/api/me")).status == 200
        await asyncio.sleep(0.4)
        assert (await ann.get("/desk/api/me")).status == 401
