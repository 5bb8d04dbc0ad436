"""The desk's pages and formats: strict CSP on every page, no inline code, static files only
from the desk's folder, 503 before the desk runs; CSV cells and Prometheus labels escaped."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from crm_store.store import CrmStore
from desk.app import Desk
from desk.config import DeskConfig
from desk.exports import cell, write_csv
from desk.pages import STATIC
from desk.prometheus import Exposition, Histogram
from tests.conftest import FakeClock
from tests.contract.routing_fixture import sqlite_crm_fixture  # noqa: F401
from tests.dialogue_support import demo_settings
from tests.e2e.desk_support import DeskWorld, desk_world


@pytest.fixture
async def world(sqlite_crm: CrmStore, clock: FakeClock) -> AsyncIterator[DeskWorld]:
    settings = demo_settings("sqlite+aiosqlite:///unused.db")
    async with desk_world(sqlite_crm, settings, clock) as world:
        yield world


async def test_pages_carry_a_strict_content_security_policy(world: DeskWorld) -> None:
    ann = await world.user("ann")
    for path in ("/desk/login", "/desk/console", "/desk/dashboard"):
        response = await ann.get(path)
        assert response.status == 200, path
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = await response.text()
        assert not re.search(r"<script>(?!</script>)|<script(?![^>]*\bsrc=)", body), path
        assert not re.search(r"\son[a-z]+=", body), path  # no inline event handlers
    home = await ann.get("/desk", allow_redirects=False)
    assert home.headers["Location"] == "/desk/console"
    sue = await world.user("sue")
    home = await sue.get("/desk", allow_redirects=False)
    assert home.headers["Location"] == "/desk/dashboard"


async def test_the_login_page_hands_out_its_token_in_a_cookie_and_the_page(
    world: DeskWorld,
) -> None:
    response = await (await world.user()).get("/desk/login")
    token = response.cookies["fd_desk_login"].value
    assert f'<meta name="csrf" content="{token}">' in await response.text()
    assert response.cookies["fd_desk_login"]["httponly"] is True


async def test_static_files_and_nothing_else(world: DeskWorld) -> None:
    user = await world.user()
    for name in ("desk.js", "console.js", "dashboard.js", "login.js", "desk.css"):
        response = await user.get(f"/desk/static/{name}")
        assert response.status == 200, name
    for name in ("..%2Fapp.py", "nope.js", "..%2F..%2Fconfig.yml"):
        assert (await user.get(f"/desk/static/{name}")).status == 404


def test_the_scripts_never_put_data_into_html() -> None:
    for path in STATIC.glob("*.js"):
        code = path.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in code, f"{path.name} uses {sink}"


async def test_before_the_desk_runs_it_answers_503() -> None:
    app = web.Application()
    app.router.add_routes(Desk(DeskConfig()).routes())
    async with TestClient(TestServer(app)) as client:
        for path in ("/desk/api/me", "/desk/login", "/desk/console", "/metrics"):
            response = await client.get(path, allow_redirects=False)
            assert response.status == 503, path


def test_csv_cells_that_look_like_formulas_are_quoted() -> None:
    assert cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert cell("+44 20") == "'+44 20" and cell("@SUM(A1)") == "'@SUM(A1)"
    assert cell("-1.5") == "-1.5" and cell(0.5) == "0.5" and cell(None) == ""
    assert cell(0.333333) == "0.3333"
    assert write_csv(["a"], [['x,"y"']]) == 'a\r\n"x,""y"""\r\n'


def test_prometheus_labels_are_escaped_and_histograms_cumulative() -> None:
    out = Exposition()
    out.family("m", "gauge", "help", [({"queue": 'a"b\\c\nd'}, 1.5), ({"queue": "skip"}, None)])
    histogram = Histogram((0.1, 1.0))
    for seconds in (0.05, 0.5, 5.0):
        histogram.observe(seconds)
    out.histogram("h", "help", histogram)
    assert out.text().splitlines() == [
        "# HELP m help",
        "# TYPE m gauge",
        'm{queue="a\\"b\\\\c\\nd"} 1.5',
        "# HELP h help",
        "# TYPE h histogram",
        'h_bucket{le="0.1"} 1',
        'h_bucket{le="1"} 2',
        'h_bucket{le="+Inf"} 3',
        "h_sum 5.55",
        "h_count 3",
    ]
