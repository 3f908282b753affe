"""The widget script, the site config the widget reads, and the demo shop page."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp.test_utils import TestClient

from lines.console.app import create_app
from lines.console.demo import with_demo_site
from lines.console.views import CSP
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


async def demo_client(database: Database, tmp_path: Path, aiohttp_client: object, demo: bool = True) -> Client:
    """The app as `lines demo` runs it (with the conftest's `demo` site)."""
    settings = make_settings(tmp_path, database)
    return await aiohttp_client(create_app(settings, demo=demo))  # type: ignore[operator, no-any-return]


async def test_the_demo_page_embeds_the_widget_from_its_own_origin(
    database: Database, tmp_path: Path, aiohttp_client: object
) -> None:
    client = await demo_client(database, tmp_path, aiohttp_client)
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


async def test_serve_has_no_demo_page_even_with_a_site_named_demo(
    database: Database, tmp_path: Path, aiohttp_client: object
) -> None:
    client = await demo_client(database, tmp_path, aiohttp_client, demo=False)
    assert (await client.get("/demo")).status == 404


async def test_the_demo_page_has_the_consoles_csp_and_frame_headers(
    database: Database, tmp_path: Path, aiohttp_client: object
) -> None:
    client = await demo_client(database, tmp_path, aiohttp_client)
    response = await client.get("/demo")
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Frame-Options"] == "DENY"
    html = await response.text()
    assert "<style" not in html and "style=" not in html  # nothing the CSP would block
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert stylesheet and (await client.get(stylesheet.group(1))).status == 200


def test_lines_demo_adds_its_own_site_without_foreign_origins(tmp_path: Path, database: Database) -> None:
    settings = make_settings(tmp_path, database, channels={"webchat": []})
    site = with_demo_site(settings, {"LINES_DEMO_IDENTITY_SECRET": "s3"}).webchat_site("demo")
    assert site is not None and (site.origins, site.team) == ([], "support")
    assert site.identity_secret.get_secret_value() == "s3"
    configured = make_settings(tmp_path, database)  # a site `demo` in the config is kept as it is
    assert with_demo_site(configured, {}).webchat_site("demo") == configured.webchat_site("demo")
