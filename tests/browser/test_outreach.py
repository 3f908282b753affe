"""An operator starts an SMS conversation from the inbox's "New conversation" dialog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy import func, select

from lines.console.db import create_engine
from lines.console.keys import sessions_key
from lines.console.models import Conversation
from lines.console.schema import metadata
from tests.browser.conftest import LiveServer, free_port, new_context, sign_in
from tests.channels.sms.conftest import twilio_gateway
from tests.channels.sms.twilio_standin import TwilioStandIn
from tests.conftest import Database, make_settings, seed_staff


@pytest.fixture
async def twilio(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> TwilioStandIn:
    standin = TwilioStandIn()
    server = await aiohttp_server(standin.app())
    standin.url = str(server.make_url("")).rstrip("/")
    return standin


@pytest.fixture
async def sms_server(tmp_path: Path, password_hash: str, twilio: TwilioStandIn) -> AsyncIterator[LiveServer]:
    database = Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'lines.db'}")
    engine = create_engine(database.url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    port = free_port()
    settings = make_settings(
        tmp_path,
        database,
        server={"public_url": f"http://127.0.0.1:{port}"},
        channels={"sms": [twilio_gateway(twilio)]},
    )
    live = LiveServer(settings, port)
    app = await live.start()
    live.staff = await seed_staff(app, password_hash)
    yield live
    await live.stop()


async def conversations(server: LiveServer) -> int:
    assert server.app is not None
    async with server.app[sessions_key]() as session:
        return int(await session.scalar(select(func.count()).select_from(Conversation)) or 0)


async def test_an_operator_starts_an_sms_conversation_and_it_opens(sms_server: LiveServer, browser: Browser) -> None:
    context = await new_context(browser)
    page = await sign_in(context, sms_server, "anna")
    await page.get_by_test_id("new-conversation").click()
    await expect(page.get_by_test_id("outreach-option")).to_have_count(1)
    await page.get_by_test_id("outreach-to").fill("8 916 123-45-67")
    await page.get_by_test_id("outreach-text").fill("Your order is ready")
    await page.get_by_test_id("outreach-submit").click()
    await page.wait_for_url("**/conversations/*")
    await expect(page.get_by_text("Your order is ready").first).to_be_visible()
    assert await conversations(sms_server) == 1
    await context.close()


async def test_an_invalid_number_shows_a_field_error_in_russian_and_starts_nothing(
    sms_server: LiveServer, browser: Browser
) -> None:
    context = await new_context(browser, locale="ru-RU")
    page = await sign_in(context, sms_server, "anna")
    await expect(page.get_by_test_id("new-conversation")).to_have_text("Новый диалог")
    await page.get_by_test_id("new-conversation").click()
    await page.get_by_test_id("outreach-to").fill("+7 916")
    await page.get_by_test_id("outreach-text").fill("Здравствуйте")
    await page.get_by_test_id("outreach-submit").click()
    await expect(page.get_by_test_id("outreach-to-error")).to_have_text(
        "Это неверный номер или адрес для этого канала."
    )
    await expect(page.get_by_test_id("outreach-to")).to_have_attribute("aria-invalid", "true")
    assert "/conversations/" not in page.url
    assert await conversations(sms_server) == 0
    await context.close()
