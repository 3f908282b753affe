"""The Channels page: every configured channel with its health and set-up hints, for admins only."""

from __future__ import annotations

import asyncio
import re
from html import unescape
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from lines.console.settings import Settings
from tests.api.helpers import auth_headers
from tests.channels.email.servers import free_port
from tests.conftest import Database, Staff, make_settings
from tests.test_views import ingest, login

Client = TestClient[web.Request, web.Application]
BROWSER = {"Accept": "text/html"}
IMAP_PASSWORD = "imap-pass-0123456789"
SMTP_PASSWORD = "smtp-pass-0123456789"
BOT_TOKEN = "123456:bot-token-0123456789"
BOT_SECRET = "bot-secret-0123456789"
SMS_SECRET = "sms-inbound-0123456789"
SMS_PASSWORD = "sms-pass-0123456789"
PUBLIC = "http://lines.example"  # http: a https URL makes the session cookie Secure, which the test client drops


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    """The test sites `demo` and `shop`, and a mailbox, a bot and an SMS gateway whose servers are down."""
    mailbox = {
        "name": "help",
        "address": "help@example.com",
        "imap_host": "127.0.0.1",
        "imap_port": free_port(),
        "imap_tls": "none",
        "imap_user": "help",
        "imap_password": IMAP_PASSWORD,
        "smtp_host": "127.0.0.1",
        "smtp_password": SMTP_PASSWORD,
        "reconnect_min_seconds": 30,
    }
    bot = {
        "name": "tg",
        "token": BOT_TOKEN,
        "mode": "webhook",
        "webhook_url": PUBLIC,
        "secret_token": BOT_SECRET,
        "api_base_url": f"http://127.0.0.1:{free_port()}/bot",
    }
    gateway = {
        "name": "text",
        "provider": "kannel",
        "number": "+79990000000",
        "sendsms_url": f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms",
        "password": SMS_PASSWORD,
        "inbound_secret": SMS_SECRET,
    }
    return make_settings(
        tmp_path,
        database,
        server={"public_url": PUBLIC},
        channels={"email": [mailbox], "telegram": [bot], "sms": [gateway]},
    )


def row(html: str, kind: str, name: str) -> str:
    start = html.index(f'data-testid="channel-row" data-kind="{kind}" data-name="{name}"')
    return html[start : html.index("</tr>", start)]


def cell(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</td>', html, re.S)
    assert match, testid
    return match.group(1)


async def page(client: Client) -> str:
    await login(client, "admin")
    response = await client.get("/admin/channels")
    assert response.status == 200
    html = await response.text()
    assert 'data-testid="admin-channels"' in html
    return html


async def test_every_configured_channel_is_listed_in_registry_order(client: Client, staff: Staff) -> None:
    html = await page(client)
    found = re.findall(r'data-testid="channel-row" data-kind="(\w+)" data-name="([\w-]+)"', html)
    assert found == [("webchat", "demo"), ("webchat", "shop"), ("email", "help"), ("telegram", "tg"), ("sms", "text")]


async def test_a_site_shows_its_widget_snippet_at_the_public_url(client: Client, staff: Staff) -> None:
    site = row(await page(client), "webchat", "demo")
    origin = PUBLIC
    shown = re.search(r'data-testid="channel-snippet">(.*?)</code>', site)
    assert shown and "<script" not in shown.group(1), "the snippet is shown as text, not run"
    assert unescape(shown.group(1)) == f'<script src="{origin}/webchat/widget.js" data-site-key="demo" async></script>'
    assert cell(site, "channel-state") == "Ready"


async def test_a_mailbox_whose_imap_is_down_is_not_connected_and_shows_the_error(client: Client, staff: Staff) -> None:
    for _ in range(100):
        mailbox = row(await page(client), "email", "help")
        if cell(mailbox, "channel-error") != "—":
            break
        await asyncio.sleep(0.05)
    assert cell(mailbox, "channel-state") == "Not connected"
    assert "Error" in cell(mailbox, "channel-error")
    # Embedded mode: this process holds every lease, so it is the mailbox's reader.
    assert "This worker" in cell(mailbox, "channel-lease")


async def test_a_bot_and_a_gateway_show_the_webhook_url_to_paste_without_its_secret(
    client: Client, staff: Staff
) -> None:
    html = await page(client)
    webhook = re.compile(r'data-testid="channel-webhook">(.*?)</code>')
    bot = webhook.search(row(html, "telegram", "tg"))
    gateway = webhook.search(row(html, "sms", "text"))
    assert bot and bot.group(1) == f"{PUBLIC}/channels/telegram/tg/webhook"
    assert gateway and unescape(gateway.group(1)) == f"{PUBLIC}/channels/sms/text/inbound?secret=<inbound_secret>"


async def test_a_bot_whose_api_is_unreachable_shows_the_error_with_its_token_masked(
    client: Client, staff: Staff
) -> None:
    for _ in range(100):
        bot = row(await page(client), "telegram", "tg")
        if cell(bot, "channel-error") != "—":
            break
        await asyncio.sleep(0.05)
    assert cell(bot, "channel-error") != "—"
    assert BOT_TOKEN not in bot


async def test_last_message_in_and_out_come_from_the_store(client: Client, staff: Staff) -> None:
    site = row(await page(client), "webchat", "demo")
    assert (cell(site, "channel-last-in"), cell(site, "channel-last-out")) == ("—", "—")
    conversation = await ingest(client, "m-1", inbox="demo")
    before_reply = row(await page(client), "webchat", "demo")
    assert "<time" in cell(before_reply, "channel-last-in") and cell(before_reply, "channel-last-out") == "—"
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "Hello!"},
        headers=await auth_headers(client, "admin"),
    )
    assert response.status == 201
    html = await page(client)
    assert "<time" in cell(row(html, "webchat", "demo"), "channel-last-out")
    assert cell(row(html, "webchat", "shop"), "channel-last-in") == "—"


async def test_no_secret_is_on_the_page(client: Client, staff: Staff) -> None:
    html = await page(client)
    secrets = (IMAP_PASSWORD, SMTP_PASSWORD, BOT_TOKEN, BOT_SECRET, SMS_SECRET, SMS_PASSWORD, "site-secret")
    for secret in (*secrets, "test-secret-key-0123456789"):
        assert secret not in html


@pytest.mark.parametrize("who", ["anna", "lead"])
async def test_operators_and_leads_get_the_styled_403(client: Client, staff: Staff, who: str) -> None:
    await login(client, who)
    response = await client.get("/admin/channels", headers=BROWSER)
    assert response.status == 403
    assert 'data-status="403"' in await response.text()


async def test_only_admins_see_the_page_in_the_admin_menu(client: Client, staff: Staff) -> None:
    await login(client, "lead")
    assert 'href="/admin/channels"' not in await (await client.get("/")).text()
    await login(client, "admin")
    menu = (await (await client.get("/", headers={"Accept-Language": "ru"})).text()).split('data-testid="nav-admin"')[1]
    assert 'href="/admin/channels"' in menu and "Каналы" in menu
