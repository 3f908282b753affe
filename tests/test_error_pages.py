"""Error pages: a browser gets a styled 403, 404 or 500 in the console's language; the API keeps JSON."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from lines.console.app import create_app
from lines.console.settings import Settings
from tests.conftest import Staff
from tests.test_views import login

Client = TestClient[web.Request, web.Application]
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
SECRET = "db password is hunter2"


async def boom(request: web.Request) -> web.Response:
    raise RuntimeError(SECRET)


@pytest.fixture
def app(settings: Settings) -> web.Application:
    app = create_app(settings)
    app.router.add_get("/boom", boom)
    return app


async def test_an_unknown_url_shows_the_styled_404_in_english(client: Client, staff: Staff) -> None:
    response = await client.get("/no/such/page", headers={**BROWSER, "Accept-Language": "en"})
    assert response.status == 404
    assert response.content_type == "text/html"
    html = await response.text()
    assert 'data-testid="error-page" data-status="404"' in html
    assert "Page not found" in html
    assert 'href="/login" data-testid="error-back"' in html


async def test_an_unknown_url_shows_the_styled_404_in_russian(client: Client, staff: Staff) -> None:
    response = await client.get("/no/such/page", headers={**BROWSER, "Accept-Language": "ru"})
    assert response.status == 404
    html = await response.text()
    assert "Страница не найдена" in html
    assert "Page not found" not in html


async def test_a_signed_in_operator_gets_the_console_frame_and_a_way_back_to_the_inbox(
    client: Client, staff: Staff
) -> None:
    await login(client, "anna")
    html = await (await client.get("/nowhere", headers=BROWSER)).text()
    assert 'data-testid="nav-inbox"' in html
    assert 'href="/" data-testid="error-back"' in html


async def test_a_page_an_operator_may_not_see_shows_the_styled_403(client: Client, staff: Staff) -> None:
    await login(client, "anna")
    response = await client.get("/kb", headers={**BROWSER, "Accept-Language": "ru"})
    assert response.status == 403
    html = await response.text()
    assert 'data-status="403"' in html
    assert "Нет доступа" in html


async def test_a_failing_handler_shows_the_500_page_without_the_traceback(
    client: Client, staff: Staff, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = await client.get("/boom", headers=BROWSER)
    assert response.status == 500
    html = await response.text()
    assert 'data-status="500"' in html
    assert "Something went wrong" in html
    assert SECRET not in html and "Traceback" not in html and "RuntimeError" not in html
    assert SECRET in caplog.text  # logged for whoever runs the server


async def test_the_api_keeps_its_json_errors(client: Client, staff: Staff) -> None:
    response = await client.get("/api/v1/no-such-thing", headers=BROWSER)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_a_script_asking_for_json_gets_the_handlers_own_answer(client: Client, staff: Staff) -> None:
    response = await client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status == 404
    assert "error-page" not in await response.text()
