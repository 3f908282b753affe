"""The widget script, the site config the widget reads, and the demo shop page."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient

from lines.console.app import create_app
from tests.channels.webchat.conftest import Client
from tests.conftest import Database, make_settings


async def test_the_widget_script_is_served_with_cache_headers(client: Client) -> None:
    response = await client.get("/webchat/widget.js")
    assert response.status == 200
    assert response.content_type == "application/javascript"
    assert "max-age" in response.headers["Cache-Control"]
    body = await response.text()
    assert "data-site-key" in body and "innerHTML" not in body
    again = await client.get("/webchat/widget.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


async def test_the_site_config_has_the_title_and_limits(client: Client) -> None:
    response = await client.get("/webchat/demo/config", headers={"Origin": "https://any.example"})
    assert response.status == 200
    body = await response.json()
    assert body["site_key"] == "demo" and body["identity"] is True
    assert body["max_message_chars"] == 4000 and "image/png" in body["attachment_types"]
    assert response.headers["Access-Control-Allow-Origin"] == "https://any.example"


async def test_the_site_config_checks_the_site_and_origin(client: Client) -> None:
    assert (await client.get("/webchat/nope/config")).status == 404
    foreign = await client.get("/webchat/shop/config", headers={"Origin": "https://evil.example"})
    assert foreign.status == 403
    own = await client.get("/webchat/shop/config", headers={"Origin": "https://shop.example"})
    assert own.status == 200 and (await own.json())["identity"] is False


async def test_the_demo_page_embeds_the_widget_from_its_own_origin(client: Client) -> None:
    response = await client.get("/demo")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    origin = str(client.make_url("")).rstrip("/")
    assert f'<script src="{origin}/webchat/widget.js" data-site-key="demo" async></script>' in html
    assert "Lines Demo Shop" in html


async def test_no_demo_page_without_a_demo_site(database: Database, tmp_path: Path, aiohttp_client: object) -> None:
    settings = make_settings(tmp_path, database, channels={"webchat": [{"site_key": "shop", "origins": ["*"]}]})
    client: TestClient = await aiohttp_client(create_app(settings))  # type: ignore[operator, type-arg]
    assert (await client.get("/demo")).status == 404
    assert (await client.get("/webchat/widget.js")).status == 200
