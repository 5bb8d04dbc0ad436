"""The desk in a real headless Chromium against the whole app on a real port: a web chat customer
asks for a human, an agent takes the offer, replies, and the reply shows in the customer's widget;
the agent resolves, the customer rates, and the supervisor's dashboard follows. Names and messages
carrying HTML stay text. The run saves the screenshots README shows."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from bot.app import DIALOGUE
from crm_store import models as m
from crm_store.enums import AgentRole, Channel
from crm_store.store import CrmStore
from crm_store.tiers import Tier
from routing.service import RoutingService
from tests.conftest import ROOT
from tests.e2e.conftest import Sites
from tests.e2e.desk_support import PASSWORD, add_staff
from tests.e2e.test_webchat import STEP, Widget

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the shared browser's loop (conftest)
SHOTS = ROOT / "docs" / "screenshots"
DESK_VIEWPORT = {"width": 1440, "height": 960}
XSS_NAME = "<img src=x onerror=\"alert('name')\">Maria"
COUNTDOWN = re.compile(r"^\d+ s$")
XSS_MESSAGE = "<script>alert('message')</script> my invoice <b>is</b> wrong"


@pytest_asyncio.fixture(loop_scope="session")
async def desk_pages(browser: Browser) -> AsyncIterator[tuple[list[Page], list[str]]]:
    """Pages in their own browser contexts (their own cookies), and every dialog they open."""
    contexts: list[BrowserContext] = []
    pages: list[Page] = []
    dialogs: list[str] = []

    async def dismiss(dialog: object) -> None:
        dialogs.append(dialog.message)  # type: ignore[attr-defined]
        await dialog.dismiss()  # type: ignore[attr-defined]

    for _ in range(2):
        context = await browser.new_context(viewport=DESK_VIEWPORT)  # type: ignore[arg-type]
        page = await context.new_page()
        page.on("dialog", dismiss)
        contexts.append(context)
        pages.append(page)
    try:
        yield pages, dialogs
    finally:
        for context in contexts:
            await context.close()


async def some_customers(store: CrmStore, count: int) -> list[int]:
    async with store.database.transaction() as session:
        found = await session.scalars(select(m.Customer.id).order_by(m.Customer.id).limit(count))
        return list(found)


async def sign_in(page: Page, base: str, username: str, lands_on: str) -> None:
    await page.goto(f"{base}/desk/console")
    await expect(page).to_have_url(f"{base}/desk/login")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await expect(page).to_have_url(f"{base}{lands_on}", timeout=STEP)
    await expect(page.locator("body[data-ready='true']")).to_have_count(1, timeout=STEP)


async def test_a_customer_an_agent_and_a_supervisor(
    sites: Sites, page: Page, dialogs: list[str], desk_pages: tuple[list[Page], list[str]]
) -> None:
    frontdesk = sites.frontdesk
    base = frontdesk.url
    assert frontdesk.runner is not None
    routing: RoutingService = frontdesk.runner.app[DIALOGUE].routing
    staff = await add_staff(
        frontdesk.store,
        {
            "ann": ((AgentRole.AGENT,), ("reception", "booking", "billing")),
            "sue": ((AgentRole.SUPERVISOR,), ()),
        },
    )
    (agent, supervisor), desk_dialogs = desk_pages

    await sign_in(agent, base, "ann", "/desk/console")
    await expect(agent.locator("#me")).to_contain_text("Ann")
    await agent.select_option("#presence", "available")
    await sign_in(supervisor, base, "sue", "/desk/dashboard")
    general = supervisor.locator("#queues tr[data-queue='general'] td")
    await expect(general.nth(7)).to_have_text("0")  # offered today

    # the customer asks for a person in the web chat
    await page.goto(f"{base}/demo")
    widget = Widget(page)
    await widget.open()
    await widget.say("I want to speak to a human")
    await expect(widget.bot().filter(has_text="request number")).to_be_visible(timeout=STEP)
    (found,) = [t for t in await routing.store.open_tickets() if t.ticket.channel is Channel.WEB]
    ticket = found.ticket
    await frontdesk.store.customers.update_profile(ticket.customer_id, full_name=XSS_NAME)

    # the offer reaches the agent live, with its countdown; she accepts
    offer = agent.locator(f"#offers li[data-ticket='{ticket.id}']")
    await expect(offer).to_be_visible(timeout=STEP)
    await expect(offer.locator(".countdown")).to_have_text(COUNTDOWN, timeout=STEP)
    await offer.locator("button.accept").click()
    await expect(agent.locator("#ticket-title")).to_have_text(f"#{ticket.id} · {XSS_NAME}")
    await expect(widget.bot().filter(has_text="now looking after")).to_be_visible(timeout=STEP)

    await widget.say(XSS_MESSAGE)
    customer_said = agent.locator("#transcript .msg.customer .text")
    await expect(customer_said.last).to_have_text(XSS_MESSAGE, timeout=STEP)
    await expect(agent.locator("#transcript .msg.bot").first).to_be_visible()  # the bot's part
    await expect(agent.locator("#sla .clock[data-target='first_response']")).to_be_visible()

    # the agent's reply reaches the customer's widget
    await agent.fill("#reply-text", "Hello, this is Ann. I'm looking at your invoice now.")
    await agent.click("#send-reply")
    reply = page.locator(".fd-messages > .fd-msg[data-author=agent]").last
    await expect(reply).to_contain_text("I'm looking at your invoice now.", timeout=STEP)
    await expect(agent.locator("#transcript .msg.agent .text").last).to_contain_text("invoice now")

    # the supervisor sees the open ticket, its customer's name as plain text
    row = supervisor.locator(f"#open-tickets tr[data-ticket='{ticket.id}']")
    await expect(row).to_contain_text(XSS_NAME, timeout=STEP)
    await expect(supervisor.locator("#queues tr[data-queue='general'] td").nth(7)).to_have_text("1")
    for desk in (agent, supervisor):
        assert await desk.locator("main img, #ticket img, .console img").count() == 0
        assert await desk.locator("#transcript script, #open-tickets script").count() == 0
    await agent.screenshot(path=str(SHOTS / "desk-console.png"), full_page=True)

    # resolved with a code; the customer rates; the numbers follow
    await agent.select_option("#resolution-code", "information-given")
    await agent.click("#resolve")
    await expect(widget.bot().filter(has_text="How did we do?")).to_be_visible(timeout=STEP)
    await widget.tap("★★★★★")
    await widget.answered("Thank")
    assert (await routing.ticket(ticket.id)).rating == 5
    events = [e for e in await routing.events(ticket.id) if e.kind == "resolved"]
    assert events[0].data["code"] == "information-given"

    ann_row = supervisor.locator(f"#agents tr[data-agent='{staff['ann']}'] td")
    await expect(ann_row.nth(3)).to_have_text("1", timeout=STEP)  # handled today
    await expect(general.nth(8)).to_have_text("1")  # answered today
    await expect(general.nth(12)).to_have_text("5.0", timeout=STEP)  # rating
    await expect(row).to_have_count(0)  # no longer open

    # a busier moment for the screenshot: Ann steps away, three more customers wait
    await agent.select_option("#presence", "away")
    await frontdesk.store.knowledge_log.record_question(
        None, "Do you treat cats?", None, 0.2, False
    )
    for customer_id, queue in zip(
        await some_customers(frontdesk.store, 3),
        ("billing", "appointments", "nurse-advice"),
        strict=True,
    ):
        await routing.open_ticket(
            customer_id=customer_id,
            queue=queue,
            tier=Tier.GOLD,
            channel=Channel.TELEGRAM,
            reason="asked for a person",
        )
    await expect(supervisor.locator("#open-tickets tbody tr[data-ticket]")).to_have_count(3)
    await supervisor.reload()
    await expect(supervisor.locator("#gaps tbody tr")).to_contain_text("Do you treat cats?")
    await supervisor.screenshot(path=str(SHOTS / "desk-dashboard.png"), full_page=True)
    assert dialogs == [] and desk_dialogs == []

    metrics = await (await supervisor.request.get(f"{base}/metrics")).text()
    assert 'frontdesk_queue_waiting{queue="billing"} 1' in metrics
    parses = re.search(r"^frontdesk_nlu_parse_seconds_count (\d+)$", metrics, re.M)
    assert parses is not None and int(parses[1]) >= 3  # the customer's messages, timed
