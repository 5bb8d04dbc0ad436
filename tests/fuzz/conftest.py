"""The real application (bot.app.build_app) for the fuzz tests: the demo config on a migrated
SQLite file, the trained model, Telegram (against the local fake Bot API) and the phone line
switched on with test secrets. One app per test module; hypothesis runs its examples on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import CRM, build_app
from bot.config import Settings
from bot.resources import open_crm
from crm_store.models import Base
from crm_store.store import CrmStore
from tests.dialogue_support import demo_settings
from tests.fakes.telegram_api import FakeBotApi
from tests.fakes.twilio_peer import TwilioPeer

TELEGRAM_TOKEN = "123456:FUZZ-token-that-must-never-be-logged"
TELEGRAM_SECRET = "fuzz-webhook-secret_0123456789"
TWILIO_TOKEN = "fuzz-twilio-auth-token"
PUBLIC = "https://clinic.example.test"
ORIGIN = "http://localhost:8080"  # the demo config's allowed web chat origin


def fuzz_settings(database_url: str, model_dir: str, bot_api: str) -> Settings:
    settings = demo_settings(database_url, model_dir)
    channels = settings.channels
    telegram = channels.telegram.model_copy(
        update={
            "enabled": True,
            "token": SecretStr(TELEGRAM_TOKEN),
            "webhook_secret": SecretStr(TELEGRAM_SECRET),
            "base_url": bot_api,
            "per_chat_interval": 0.0,
            "global_rate": 1000.0,
            "max_retries": 0,
        }
    )
    voice = channels.voice.model_copy(
        update={"enabled": True, "auth_token": SecretStr(TWILIO_TOKEN)}
    )
    webchat = channels.webchat.model_copy(update={"rate_limit_messages": 10_000})
    return settings.model_copy(
        update={
            "channels": channels.model_copy(
                update={"telegram": telegram, "voice": voice, "webchat": webchat}
            ),
            "server": settings.server.model_copy(update={"public_url": PUBLIC}),
            "desk": settings.desk.model_copy(update={"cookie_secure": False}),
        }
    )


class FuzzApp:
    def __init__(self, client: TestClient, bot_api: FakeBotApi, settings: Settings) -> None:
        self.client, self.bot_api, self.settings = client, bot_api, settings

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return "FuzzApp()"

    @property
    def store(self) -> CrmStore:
        return self.client.server.app[CRM]

    @property
    def max_body(self) -> int:
        return self.settings.server.max_body_bytes

    def twilio(self) -> TwilioPeer:
        return TwilioPeer(self.client, public_url=PUBLIC, auth_token=TWILIO_TOKEN)

    async def counts(self, *skip: str) -> dict[str, int]:
        """Rows in every table (but `skip`): what a refused request must leave unchanged."""
        found: dict[str, int] = {}
        async with self.store.database.transaction() as session:
            for table in Base.metadata.sorted_tables:
                if table.name not in skip:
                    found[table.name] = int(
                        await session.scalar(select(func.count()).select_from(table)) or 0
                    )
        return found


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fuzz_app(
    nlu_model: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FuzzApp]:
    folder = tmp_path_factory.mktemp("fuzz")
    async with FakeBotApi(TELEGRAM_TOKEN) as bot_api:
        settings = fuzz_settings(f"sqlite+aiosqlite:///{folder / 'crm.db'}", nlu_model, bot_api.url)
        async with open_crm(settings, migrate=True):
            pass
        client = TestClient(TestServer(build_app(settings)))
        await client.start_server()
        try:
            yield FuzzApp(client, bot_api, settings)
        finally:
            await client.close()


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, Any]:
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}
