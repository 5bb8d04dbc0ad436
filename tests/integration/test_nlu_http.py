"""POST /model/parse over HTTP (local model), and the remote backend against a fake Rasa server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.http_errors import error_middleware
from nlu.config import PipelineConfig, RuntimeConfig
from nlu.engine import Interpreter, LocalInterpreter, RemoteRasaInterpreter
from nlu.errors import BadParseRequest, NluUnavailable
from nlu.http import parse_route
from nlu.model import NluModel
from nlu.training import train_model
from nlu.training_data import parse_yaml
from nlu.types import FALLBACK_INTENT
from tests.unit.test_nlu_data import CLINIC_YAML

RUNTIME = RuntimeConfig(fallback_threshold=0.2, max_text_chars=300, timezone="Europe/London")


@pytest.fixture(scope="module")
def model() -> NluModel:
    return train_model(parse_yaml(CLINIC_YAML), PipelineConfig(seed=5))


async def serve(app: web.Application) -> TestClient:
    client = TestClient(TestServer(app))
    try:
        await client.start_server()
    except BaseException:
        await client.close()
        raise
    return client


def parse_app(interpreter: Interpreter, max_body: int = 65536) -> web.Application:
    app = web.Application(client_max_size=max_body, middlewares=[error_middleware])
    app.router.add_routes([parse_route(lambda _request: interpreter)])
    return app


@pytest.fixture
async def client(model: NluModel) -> AsyncIterator[TestClient]:
    async with LocalInterpreter(model, RUNTIME) as interpreter:
        client = await serve(parse_app(interpreter, max_body=1_000_000))
        yield client
        await client.close()


async def test_parse_answers_rasa_json(client: TestClient) -> None:
    response = await client.post(
        "/model/parse", json={"text": "how much is a cleaning", "message_id": "m1"}
    )
    assert response.status == 200
    body = await response.json()
    assert set(body) == {"text", "intent", "entities", "intent_ranking"}
    assert body["text"] == "how much is a cleaning"
    assert body["intent"]["name"] == "ask_price"
    assert 0.2 <= body["intent"]["confidence"] <= 1.0
    assert body["intent_ranking"][0] == body["intent"]
    assert len(body["intent_ranking"]) == 6
    for entity in body["entities"]:
        assert {"entity", "value", "start", "end", "extractor"} <= set(entity)


async def test_reference_time_and_timezone_are_accepted(client: TestClient) -> None:
    payload = {"text": "cancel my appointment", "reference_time": "2026-11-23T09:00:00Z"}
    response = await client.post("/model/parse", json={**payload, "timezone": "Asia/Tokyo"})
    assert response.status == 200
    assert (await response.json())["intent"]["name"] == "cancel_appointment"


async def test_shortcut_over_http(client: TestClient) -> None:
    response = await client.post(
        "/model/parse", json={"text": '/book_appointment{"service": "cleaning"}'}
    )
    body = await response.json()
    assert body["intent"] == {"name": "book_appointment", "confidence": 1.0}
    assert [(e["entity"], e["value"]) for e in body["entities"]] == [("service", "cleaning")]


async def test_empty_text_gets_rasas_null_intent(client: TestClient) -> None:
    response = await client.post("/model/parse", json={"text": ""})
    assert response.status == 200
    assert await response.json() == {
        "text": "",
        "intent": {"name": None, "confidence": 0.0},
        "entities": [],
        "intent_ranking": [],
    }


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"message": "hi"}', '"text" must be a string'),
        (b'{"text": 5}', '"text" must be a string'),
        (b'{"text": "hi", "message_id": 7}', '"message_id" must be a string'),
        (b'{"text": "hi", "timezone": "Mars/Olympus"}', "unknown time zone"),
        (b'{"text": "hi", "timezone": 3}', '"timezone" must be'),
        (b'{"text": "hi", "reference_time": "yesterday"}', "not ISO 8601"),
        (b'{"text": "hi", "reference_time": 12}', "must be an ISO 8601 string"),
        (b'{"text": NaN}', "not valid JSON"),
        (b'{"text": "hi", "timezone": "\\ud800"}', "unknown time zone"),
        (b'{"text": "hi", "timezone": "../../etc/passwd"}', "unknown time zone"),
        (b'{"text": "hi", "reference_time": "0001-01-01T00:00:00+05:00"}', "out of range"),
        (b"[" * 50_000 + b"]" * 50_000, "not valid JSON"),
    ],
)
async def test_bad_requests_get_400_with_a_reason(
    client: TestClient, body: bytes, reason: str
) -> None:
    response = await client.post(
        "/model/parse", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    answer = await response.json()
    assert reason in answer["error"]


@pytest.mark.parametrize(
    "text",
    ["x" * 100_000, "\x00\x01\x02 book", "🦷🦷 cleaning 😁", "запись 予約 cancel", "\ud800"],
)
async def test_odd_messages_never_give_a_500(client: TestClient, text: str) -> None:
    response = await client.post("/model/parse", json={"text": text})
    assert response.status == 200
    body = await response.json()
    assert len(body["text"]) <= RUNTIME.max_text_chars
    assert body["intent"]["name"]


async def test_a_body_over_the_size_limit_is_413_json(model: NluModel) -> None:
    async with LocalInterpreter(model, RUNTIME) as interpreter:
        client = await serve(parse_app(interpreter, max_body=1024))
        try:
            response = await client.post("/model/parse", json={"text": "x" * 5000})
            assert response.status == 413
            assert "error" in await response.json()
        finally:
            await client.close()


async def test_local_parses_do_not_block_each_other(model: NluModel) -> None:
    async with LocalInterpreter(model, RUNTIME) as interpreter:
        results = await asyncio.gather(*(interpreter.parse(f"hello {i}") for i in range(20)))
    assert {r.intent.name for r in results} == {"greet"}


async def test_local_parse_checks_the_time_zone(model: NluModel) -> None:
    async with LocalInterpreter(model, RUNTIME) as interpreter:
        with pytest.raises(BadParseRequest, match="unknown time zone"):
            await interpreter.parse("hi", timezone="Nowhere/Special")
        naive = datetime(2026, 11, 23, 9, 0)
        assert (await interpreter.parse("hello", reference_time=naive)).intent.name == "greet"


# -- the remote backend ----------------------------------------------------------------------------


class FakeRasa:
    """A local stand-in for a Rasa server's /model/parse."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.tokens: list[str | None] = []
        self.delay = 0.0
        self.status = 200

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/model/parse", self.parse)
        return app

    async def parse(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.tokens.append(request.query.get("token"))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.json_response({"status": "failure"}, status=self.status)
        text = body["text"]
        if not text:
            return web.json_response(
                {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
            )
        return web.json_response(
            {
                "text": text,
                "intent": {"name": "greet", "confidence": 0.91},
                "entities": [
                    {"entity": "name", "value": "Ann", "start": 6, "end": 9,
                     "confidence_entity": 0.8, "extractor": "DIETClassifier"}
                ],
                "intent_ranking": [
                    {"name": "greet", "confidence": 0.91},
                    {"name": "goodbye", "confidence": 0.09},
                ],
                "response_selector": {},
            }
        )  # fmt: skip


@pytest.fixture
async def rasa() -> AsyncIterator[tuple[FakeRasa, str]]:
    fake = FakeRasa()
    server = TestServer(fake.app())
    await server.start_server()
    try:
        yield fake, str(server.make_url("/")).rstrip("/")
    finally:
        await server.close()


async def test_remote_parse_returns_rasas_answer(rasa: tuple[FakeRasa, str]) -> None:
    fake, url = rasa
    async with RemoteRasaInterpreter(url, timeout=2, token="s3cret", runtime=RUNTIME) as remote:
        result = await remote.parse("hello Ann")
        empty = await remote.parse("")
    assert (result.intent.name, result.intent.confidence) == ("greet", 0.91)
    assert [(s.name, s.confidence) for s in result.intent_ranking] == [
        ("greet", 0.91),
        ("goodbye", 0.09),
    ]
    entity = result.entities[0]
    assert (entity.entity, entity.value, entity.start, entity.end) == ("name", "Ann", 6, 9)
    assert entity.extractor == "DIETClassifier"
    assert (empty.intent.name, empty.intent.confidence) == (FALLBACK_INTENT, 0.0)
    assert fake.requests == [{"text": "hello Ann"}, {"text": ""}]
    assert fake.tokens == ["s3cret", "s3cret"]


async def test_remote_cuts_long_text(rasa: tuple[FakeRasa, str]) -> None:
    fake, url = rasa
    async with RemoteRasaInterpreter(url, runtime=RUNTIME) as remote:
        await remote.parse("y" * 10_000)
    assert len(fake.requests[0]["text"]) == RUNTIME.max_text_chars


async def test_remote_errors_and_timeouts_are_nlu_unavailable(rasa: tuple[FakeRasa, str]) -> None:
    fake, url = rasa
    fake.status = 500
    async with RemoteRasaInterpreter(url, timeout=2) as remote:
        with pytest.raises(NluUnavailable, match="answered 500"):
            await remote.parse("hi")
    fake.status, fake.delay = 200, 1.0
    async with RemoteRasaInterpreter(url, timeout=0.2) as remote:
        started = asyncio.get_running_loop().time()
        with pytest.raises(NluUnavailable, match="unreachable or too slow"):
            await remote.parse("hi")
        assert asyncio.get_running_loop().time() - started < 0.9


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_down_server_is_a_clear_error_and_a_503() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with RemoteRasaInterpreter(url, timeout=2) as remote:
        with pytest.raises(NluUnavailable, match=r"127\.0\.0\.1.*unreachable"):
            await remote.parse("hi")
        client = await serve(parse_app(remote))
        try:
            response = await client.post("/model/parse", json={"text": "hi"})
            assert response.status == 503
            body = await response.json()
            assert body == {"error": "the language understanding service is unavailable"}
        finally:
            await client.close()


async def test_remote_needs_its_context_manager() -> None:
    remote = RemoteRasaInterpreter("http://127.0.0.1:1")
    with pytest.raises(RuntimeError, match="async with"):
        await remote.parse("hi")
    assert remote.url == "http://127.0.0.1:1/model/parse"
