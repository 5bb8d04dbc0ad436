"""The aiohttp application: health, JSON errors, and fail-fast backends (real Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot import app as app_module
from bot.app import CRM, build_app
from bot.config import Settings
from bot.config_loader import load_settings
from bot.resources import BackendUnavailable, open_crm
from crm_store.errors import SchemaOutOfDate
from tests.conftest import ROOT

MODEL = {"dir": ""}


@pytest.fixture(autouse=True)
def _trained_model(nlu_model: str) -> None:
    MODEL["dir"] = nlu_model


def settings_for(tmp_path: Path, **env: str) -> Settings:
    environ = {
        "FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
        "FRONTDESK_NLU_MODEL_DIR": MODEL["dir"],
        **env,
    }
    return load_settings(ROOT / "config.yml", environ)


@pytest.fixture
async def migrated(tmp_path: Path) -> Path:
    async with open_crm(settings_for(tmp_path), migrate=True):
        pass
    return tmp_path


async def client_for(settings: Settings) -> TestClient:
    client = TestClient(TestServer(build_app(settings)))
    try:
        await client.start_server()
    except BaseException:
        await client.close()
        raise
    return client


@pytest.fixture
async def client(migrated: Path) -> AsyncIterator[TestClient]:
    client = await client_for(settings_for(migrated))
    yield client
    await client.close()


async def test_healthz_reports_each_backend(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "off (in-process memory)",
    }


async def test_healthz_answers_in_time_when_the_database_hangs_and_so_does_cancelling(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hung PostgreSQL holds a cancelled query too (asyncpg waits on the server to cancel):
    the probe answers at its timeout all the same, and the hung ping is cancelled behind it."""
    monkeypatch.setattr(app_module, "HEALTH_TIMEOUT", 0.2)
    ended = asyncio.Event()

    async def hung_ping() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.shield(asyncio.sleep(1.0))  # cancelling takes its own while
            ended.set()

    database = client.server.app[CRM].database
    monkeypatch.setattr(database, "ping", hung_ping)
    started = time.monotonic()
    response = await client.get("/healthz")
    seconds = time.monotonic() - started
    assert response.status == 503
    assert await response.json() == {
        "error": "unhealthy",
        "database": "unavailable",
        "redis": "off (in-process memory)",
    }
    assert 0.2 <= seconds < 0.8
    await asyncio.wait_for(ended.wait(), 5)  # the hung ping was cancelled, not left running


async def test_the_catalog_follows_config_yml_at_every_start(migrated: Path) -> None:
    """A clinic that never ran `demo seed` still books: the services and practitioners/rooms of
    config.yml are in the record once the server is up."""
    settings = settings_for(migrated)
    client = await client_for(settings)
    try:
        store = client.server.app[CRM]
        assert [s.key for s in await store.catalog.services()] == [s.key for s in settings.services]
        assert [r.key for r in await store.catalog.resources()] == [
            r.key for r in settings.resources
        ]
    finally:
        await client.close()


async def test_unknown_paths_and_methods_get_json_errors(client: TestClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status == 404
    assert await response.json() == {"error": "Not Found"}
    response = await client.post("/healthz", data=b"x")
    assert response.status == 405
    assert "Traceback" not in await response.text()


async def test_index_names_the_business_and_links_the_pages(client: TestClient) -> None:
    response = await client.get("/")
    page = await response.text()
    assert "Lindenhof Clinic" in page
    for link in ("/demo", "/desk", "/healthz"):
        assert f'href="{link}"' in page


async def test_unmigrated_database_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(SchemaOutOfDate):
        await client_for(settings_for(tmp_path))


async def test_configured_but_unreachable_redis_stops_start_up(migrated: Path) -> None:
    settings = settings_for(migrated, FRONTDESK_REDIS_URL="redis://127.0.0.1:1/0")
    with pytest.raises(BackendUnavailable, match="unreachable"):
        await client_for(settings)


@pytest.mark.redis
async def test_real_redis_is_used_when_configured(migrated: Path, redis_url: str) -> None:
    client = await client_for(settings_for(migrated, FRONTDESK_REDIS_URL=redis_url))
    try:
        response = await client.get("/healthz")
        assert (await response.json())["redis"] == "ok"
    finally:
        await client.close()


async def test_the_rest_channel_reaches_the_bot_through_the_real_app(client: TestClient) -> None:
    response = await client.post(
        "/webhooks/rest/webhook", json={"sender": "visitor-9", "message": "hello there"}
    )
    assert response.status == 200
    (reply,) = await response.json()
    assert reply["recipient_id"] == "visitor-9"
    assert "Lindenhof Clinic" in reply["text"]
    parsed = await client.post("/model/parse", json={"text": "I need to cancel my appointment"})
    assert (await parsed.json())["intent"]["name"] == "cancel_appointment"


async def test_a_missing_model_stops_start_up(migrated: Path) -> None:
    from nlu.errors import NluError

    with pytest.raises(NluError, match="nlu train"):
        await client_for(settings_for(migrated, FRONTDESK_NLU_MODEL_DIR=str(migrated / "none")))
