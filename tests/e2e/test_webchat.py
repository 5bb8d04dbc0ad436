"""The web chat widget in a real headless Chromium against the real app on a real port."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, WebSocket, expect

from crm_store.enums import Channel
from tests.conftest import ROOT
from tests.e2e.conftest import Sites

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the shared browser's loop (conftest)
SCREENSHOT = ROOT / "docs" / "screenshots" / "webchat.png"
STEP = 15_000  # ms: a turn with the real NLU model, or a reconnect after a restart


class Widget:
    """The widget as a visitor sees it (Playwright's CSS selectors pierce its open shadow root)."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.status = page.locator(".fd-status")
        self.notice = page.locator(".fd-notice")
        self.shown = page.locator(".fd-messages:not(.fd-outbox) > .fd-msg")
        self.outbox = page.locator(".fd-outbox > .fd-msg")

    async def open(self) -> None:
        await self.page.locator(".fd-launcher").click()
        await expect(self.status).to_have_text("Online", timeout=STEP)

    def bot(self) -> Locator:
        return self.page.locator(".fd-messages > .fd-msg[data-author=bot]")

    async def say(self, text: str) -> None:
        await self.page.locator(".fd-input").fill(text)
        await self.page.locator(".fd-input").press("Enter")

    async def tap(self, title: str) -> None:
        await self.page.locator(".fd-button:enabled", has_text=title).last.click()

    async def answered(self, text: str | re.Pattern[str]) -> None:
        await expect(self.bot().last).to_contain_text(text, timeout=STEP)

    async def transcript(self) -> list[tuple[str, str, str]]:
        """(seq, author, text) of every message shown, in order."""
        rows: list[tuple[str, str, str]] = await self.shown.evaluate_all(
            "items => items.map(i => [i.dataset.seq, i.dataset.author,"
            " i.querySelector('.fd-text').textContent])"
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]

    async def session(self) -> str | None:
        value: str | None = await self.page.evaluate(
            "() => Object.entries(localStorage).filter(([k]) => k.endsWith(':session'))"
            ".map(([, v]) => JSON.parse(v))[0] || null"
        )
        return value


async def stored(sites: Sites, conversation_id: str) -> list[tuple[str, str, str]]:
    entries = await sites.frontdesk.store.webchat.latest(conversation_id, 500)
    return [
        (str(e.seq), e.author.value, str(e.body.get("title") or e.body.get("text")))
        for e in entries
    ]


async def test_a_whole_booking_by_tapping_and_typing(
    sites: Sites, page: Page, dialogs: list[str]
) -> None:
    await page.goto(f"{sites.frontdesk.url}/demo")
    widget = Widget(page)
    await widget.open()
    await widget.say("hello")
    await widget.answered("I can book, move or cancel appointments")
    await widget.tap("Book an appointment")
    await widget.answered("Which service would you like to book?")
    await widget.tap("Dental cleaning")
    await widget.answered("These times are free for a Dental cleaning")
    slots = page.locator(".fd-msg[data-author=bot]").last.locator(".fd-button")
    await expect(slots.first).to_be_enabled()
    slot = await slots.first.text_content()
    await slots.first.click()
    await widget.answered("May I have your full name for the booking?")
    await widget.say("Ben Carter")
    await widget.answered("Shall I book a dental cleaning")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOT))
    await widget.tap("Yes")
    await widget.answered("Done! Your dental cleaning")

    shown = await widget.transcript()
    assert ("customer", slot) in [(author, text) for _, author, text in shown]
    session = await widget.session()
    assert session is not None
    assert shown == await stored(sites, f"web:anon-{session}")
    customer = await sites.frontdesk.store.customers.find_by_identity(
        Channel.WEB, f"anon-{session}"
    )
    assert customer is not None and customer.full_name == "Ben Carter"
    booked = await sites.frontdesk.store.appointments.upcoming(customer.id)
    assert [a.service_name for a in booked] == ["Dental cleaning"]
    assert dialogs == []
    assert SCREENSHOT.stat().st_size > 10_000


async def test_a_reload_keeps_the_history_and_the_session(sites: Sites, page: Page) -> None:
    await page.goto(f"{sites.frontdesk.url}/demo")
    widget = Widget(page)
    await widget.open()
    await widget.say("hello")
    await widget.answered("I can book")
    await widget.tap("Book an appointment")
    await widget.answered("Which service would you like to book?")
    before, session = await widget.transcript(), await widget.session()

    await page.reload()
    await expect(widget.status).to_have_text("Online", timeout=STEP)  # it stays open
    await expect(widget.shown).to_have_count(len(before))
    assert await widget.transcript() == before
    assert await widget.session() == session
    assert before == await stored(sites, f"web:anon-{session}")
    await widget.tap("GP consultation")  # the restored buttons still work
    await widget.answered("These times are free for a GP consultation")


async def test_a_server_restart_loses_and_doubles_nothing(sites: Sites, page: Page) -> None:
    frontdesk = sites.frontdesk
    await page.goto(f"{frontdesk.url}/demo")
    widget = Widget(page)
    await widget.open()
    await widget.say("hello")
    await widget.answered("I can book")
    session = await widget.session()

    await frontdesk.stop()
    await expect(widget.status).to_contain_text("Reconnecting", timeout=STEP)
    await widget.say("what are your opening hours?")  # typed while the server is down
    await expect(widget.outbox).to_have_count(1)
    await expect(widget.outbox).to_contain_text("sending")

    await frontdesk.start()  # same port, same database file
    await expect(widget.status).to_have_text("Online", timeout=STEP)
    await widget.answered("Our opening hours")
    await expect(widget.outbox).to_have_count(0)
    shown = await widget.transcript()
    asked = [row for row in shown if row[2] == "what are your opening hours?"]
    assert len(asked) == 1
    assert sum("Our opening hours" in text for _, _, text in shown) == 1
    assert [int(seq) for seq, _, _ in shown] == list(range(1, len(shown) + 1))
    assert shown == await stored(sites, f"web:anon-{session}")
    pending: str = await page.evaluate(
        "() => Object.entries(localStorage).filter(([k]) => k.endsWith(':pending'))[0][1]"
    )
    assert pending == "[]"

    await page.reload()  # and the history after the restart is the same
    await expect(widget.shown).to_have_count(len(shown), timeout=STEP)
    assert await widget.transcript() == shown


async def test_an_xss_payload_shows_as_text(sites: Sites, page: Page, dialogs: list[str]) -> None:
    await page.goto(f"{sites.frontdesk.url}/demo")
    widget = Widget(page)
    await widget.open()
    payloads = [
        "<img src=x onerror=\"window.__xss = 1; alert('img')\">",
        "<script>window.__xss = 2; alert('script')</script>",
    ]
    for payload in payloads:
        await widget.say(payload)
        await expect(widget.shown.filter(has_text=payload)).to_have_count(1, timeout=STEP)
    await expect(widget.bot()).to_have_count(2, timeout=STEP)
    texts = [text for _, author, text in await widget.transcript() if author == "customer"]
    assert texts == payloads
    inside = await page.evaluate(
        "() => document.getElementById('frontdesk-webchat').shadowRoot"
        ".querySelectorAll('.fd-log img, .fd-log script').length"
    )
    assert inside == 0
    assert await page.evaluate("() => window.__xss === undefined")
    assert dialogs == []


async def test_a_foreign_origin_is_refused(sites: Sites, page: Page) -> None:
    sockets: list[WebSocket] = []
    received: list[str] = []

    def opened(ws: WebSocket) -> None:
        sockets.append(ws)
        ws.on("framereceived", lambda payload: received.append(str(payload)))

    page.on("websocket", opened)
    await page.goto(f"{sites.foreign}/")
    widget = Widget(page)
    await page.locator(".fd-launcher").click()
    await expect(widget.status).to_have_text(
        "This website is not allowed to use the chat.", timeout=STEP
    )
    await expect(widget.notice).to_be_visible()
    assert sockets and sockets[0].url.startswith(sites.frontdesk.url.replace("http", "ws"))
    assert received == []  # refused before the upgrade: not one frame

    await page.goto(f"{sites.partner}/")  # the same widget on an allowed site works
    await widget.open()


async def test_a_signed_visitor_is_recognised(sites: Sites, page: Page) -> None:
    await page.goto(f"{sites.partner}/signed")
    widget = Widget(page)
    await widget.open()
    await widget.say("hello")
    await widget.answered(re.compile(r"Hello Anna"))
    assert await widget.transcript() == await stored(sites, "web:anna")
    identity = await sites.frontdesk.store.customers.identity(Channel.WEB, "anna")
    assert identity is not None and identity.verified
