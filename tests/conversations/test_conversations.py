"""Every conversation file in this folder, over the REST channel, on a seeded demo clinic."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.channels.rest import RestChannel
from bot.demo_seed import DemoSeeder
from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue_setup import load_knowledge, open_dialogue
from bot.nlu_backend import open_interpreter
from bot.resources import open_crm
from tests.conftest import FakeClock
from tests.conversations.runner import (
    SECRET,
    Conversation,
    Desk,
    check_store,
    conversations,
    run_turns,
)
from tests.dialogue_support import demo_settings

SEEDED_AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo clinic (40 customers) seeded once at SEEDED_AT; each test works on a copy."""
    path = tmp_path_factory.mktemp("seed") / "demo.db"
    settings = demo_settings(f"sqlite+aiosqlite:///{path}")

    async def seed() -> None:
        async with open_crm(settings, clock=FakeClock(SEEDED_AT), migrate=True) as store:
            await DemoSeeder(settings, store).run(40)

    asyncio.run(seed())
    yield path


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return load_knowledge(demo_settings("sqlite+aiosqlite://"))


@pytest.mark.parametrize("conversation", conversations(), ids=lambda c: c.path.stem)
async def test_conversation(
    conversation: Conversation,
    seeded_db: Path,
    tmp_path: Path,
    knowledge: KnowledgeBase,
    nlu_model: str,
) -> None:
    db = tmp_path / "clinic.db"
    shutil.copy(seeded_db, db)
    settings = demo_settings(f"sqlite+aiosqlite:///{db}", nlu_model)
    clock = FakeClock(conversation.now)
    async with (
        open_interpreter(settings) as interpreter,
        open_dialogue(settings, interpreter, clock=clock, knowledge=knowledge) as bot,
    ):
        app = web.Application()
        app.add_routes(RestChannel(bot.engine.handle, SecretStr(SECRET), clock).routes())
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            await run_turns(client, clock, conversation, Desk(bot))
        finally:
            await client.close()
        await check_store(bot.store, conversation)
