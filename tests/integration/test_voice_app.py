"""The phone line switched on in config.yml, through the real application (build_app)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import build_app
from bot.config_loader import load_settings
from bot.resources import open_crm
from crm_store.enums import Channel
from tests.fakes.twilio_peer import TwilioPeer
from tests.integration.cli_support import run
from tests.integration.servers import phone_line_config

TOKEN = "app-test-auth-token"
PUBLIC = "https://clinic.example.test/frontdesk"  # behind a proxy, under a path prefix too


async def test_the_phone_line_answers_through_the_real_app(tmp_path: Path, nlu_model: str) -> None:
    settings = load_settings(
        phone_line_config(tmp_path),
        {
            "FRONTDESK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'app.db'}",
            "FRONTDESK_NLU_MODEL_DIR": nlu_model,
            "FRONTDESK_PUBLIC_URL": PUBLIC,
            "TWILIO_AUTH_TOKEN": TOKEN,
        },
    )
    assert settings.channels.voice.enabled
    async with open_crm(settings, migrate=True):
        pass
    client = TestClient(TestServer(build_app(settings)))
    await client.start_server()
    try:
        peer = TwilioPeer(client, public_url=PUBLIC, auth_token=TOKEN)
        call = peer.call("+447700900042")
        heard = await call.start()
        assert "Hello, this is Lindenhof Clinic" in heard.text
        assert heard.gather is not None
        assert heard.gather.action.startswith(f"{PUBLIC}/voice/gather?step=")
        heard = await call.say("Hello.")
        assert "Hello" in heard.text
        unsigned = await peer.post(f"{PUBLIC}/voice/incoming", call.params(), sign=False)
        assert unsigned.status == 403
        answer = await call.status("completed", sequence=4, duration=12)
        assert answer.status == 200
    finally:
        await client.close()
    async with open_crm(settings) as store:
        caller = await store.customers.find_by_identity(Channel.PHONE, "+447700900042")
        assert caller is not None
        view = await store.views.view(caller.id)
        assert any(i.text == "Phone call completed, 12 s" for i in view.recent_interactions)


def test_agent_create_takes_a_phone_address(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(config, "db", "upgrade") == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert (
        run(config, "agent", "create", "maria", "--phone", "+44 20 7946 0999", "--password-stdin")
        == 0
    )
    assert "agent maria created" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert (
        run(config, "agent", "create", "tom", "--phone", "020 7946 0999", "--password-stdin") == 1
    )
    assert "phone_address" in capsys.readouterr().err

    async def stored() -> list[tuple[str, str | None]]:
        settings = load_settings(config, {})
        async with open_crm(settings) as store:
            return [(a.username, a.phone_address) for a in await store.agents.all()]

    assert asyncio.run(stored()) == [("maria", "+442079460999")]
