"""Browser tests: the real app on a real port, a real headless Chromium (Debian's), real pages.

Frontdesk runs from bot.app.build_app with the demo config, the trained NLU model and a SQLite
file seeded with the demo clinic; it can be stopped and started again on the same port and the
same file. A second tiny site on two more ports plays a customer's website: one origin is on the
allow-list (it signs its visitors), the other is not. The tests share one Chromium and so run in
the session's event loop (`pytestmark` in the test module).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright
from pydantic import SecretStr

from bot.app import CRM, build_app
from bot.channels.identity import sign
from bot.config import Settings
from bot.demo_seed import DemoSeeder
from bot.resources import open_crm
from crm_store.store import CrmStore
from tests.dialogue_support import demo_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET = "e2e-identity-secret-at-least-32-bytes"
SHUTDOWN_TIMEOUT = 0.5  # open chat sockets are cut after this when a server stops
VIEWPORT = {"width": 1000, "height": 700}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def origin(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clinic seeded once (Anna Weber, web user "anna", and a few more customers)."""
    path = tmp_path_factory.mktemp("e2e-seed") / "clinic.db"
    settings = demo_settings(f"sqlite+aiosqlite:///{path}")

    async def seed() -> None:
        async with open_crm(settings, migrate=True) as store:
            await DemoSeeder(settings, store).run(8)

    asyncio.run(seed())
    return path


@dataclass
class Frontdesk:
    """The real app on a fixed port: stop() and start() again keep the port and the database."""

    settings: Settings
    port: int
    runner: web.AppRunner | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return origin(self.port)

    @property
    def store(self) -> CrmStore:
        assert self.runner is not None
        return self.runner.app[CRM]

    async def start(self) -> None:
        runner = web.AppRunner(build_app(self.settings), shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.runner, self.starts = runner, self.starts + 1

    async def stop(self) -> None:
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()


@dataclass
class CustomerSite:
    """A customer's website that embeds the widget: / (anonymous) and /signed (Anna, signed)."""

    frontdesk_url: str
    ports: list[int] = field(default_factory=list)
    runner: web.AppRunner | None = None

    def page(self, request: web.Request) -> web.Response:
        setup = ""
        if request.path == "/signed":
            identity = json.dumps({"user_id": "anna", "hash": sign("anna", SECRET)})
            setup = f"<script>window.FrontdeskWebchat = {{identity: {identity}}};</script>"
        body = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Partner site</title>"
            f"<h1>A customer's website</h1>{setup}"
            f'<script src="{self.frontdesk_url}/webchat/widget.js" async></script>'
        )
        return web.Response(text=body, content_type="text/html")

    async def start(self, *ports: int) -> None:
        async def handler(request: web.Request) -> web.Response:
            return self.page(request)

        app = web.Application()
        app.router.add_get("/", handler)
        app.router.add_get("/signed", handler)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        for port in ports:
            await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.ports = list(ports)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@dataclass(frozen=True)
class Sites:
    frontdesk: Frontdesk
    partner: str  # an allowed origin
    foreign: str  # not on the allow-list


def e2e_settings(db: Path, nlu_model: str, allowed: tuple[str, ...]) -> Settings:
    settings = demo_settings(f"sqlite+aiosqlite:///{db}", nlu_model)
    webchat = settings.channels.webchat.model_copy(
        update={"allowed_origins": allowed, "identity_secret": SecretStr(SECRET)}
    )
    channels = settings.channels.model_copy(update={"webchat": webchat})
    return settings.model_copy(update={"channels": channels})


@pytest_asyncio.fixture(loop_scope="session")
async def sites(seeded_db: Path, nlu_model: str, tmp_path: Path) -> AsyncIterator[Sites]:
    db = tmp_path / "clinic.db"
    shutil.copy(seeded_db, db)
    port, partner, foreign = free_port(), free_port(), free_port()
    settings = e2e_settings(db, nlu_model, (origin(port), origin(partner)))
    frontdesk = Frontdesk(settings, port)
    site = CustomerSite(frontdesk.url)
    await frontdesk.start()
    await site.start(partner, foreign)
    try:
        yield Sites(frontdesk, origin(partner), origin(foreign))
    finally:
        await site.stop()
        await frontdesk.stop()


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: scripts/test.sh installs it (apt-get install chromium)"
        )
    return CHROMIUM


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """One Chromium for the session; every test gets its own context (fresh storage)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


@pytest.fixture
def dialogs(page: Page) -> Iterator[list[str]]:
    """Every alert/confirm a page opens (an XSS payload running would open one)."""
    seen: list[str] = []

    async def dismiss(dialog: object) -> None:
        seen.append(dialog.message)  # type: ignore[attr-defined]
        await dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", dismiss)
    yield seen
