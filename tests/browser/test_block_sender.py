"""The block/unblock button of a Telegram conversation, in headless Chromium against the Bot API stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Dialog, expect
from sqlalchemy import select

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.db import create_engine
from lines.console.keys import inbox_key, sessions_key
from lines.console.models import ContactIdentity, Conversation
from lines.console.schema import metadata
from tests.browser.conftest import LiveServer, free_port, new_context, sign_in
from tests.channels.telegram import updates
from tests.channels.telegram.botapi import BotApi
from tests.channels.telegram.conftest import SECRET, WEBHOOK, bot_config
from tests.conftest import Database, make_settings, seed_staff

pytestmark = pytest.mark.browser


@pytest.fixture
async def telegram_server(
    tmp_path: Path, password_hash: str, aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]
) -> AsyncIterator[LiveServer]:
    """A live Lines with one webhook-mode bot, whose Bot API is the local stand-in."""
    api = BotApi()
    stand_in = await aiohttp_server(api.app())
    api.base_url = str(stand_in.make_url("/bot"))  # type: ignore[attr-defined]
    database = Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'lines.db'}")
    engine = create_engine(database.url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    settings = make_settings(tmp_path, database, channels={"telegram": [bot_config(api, "webhook")]})
    live = LiveServer(settings, free_port())
    app = await live.start()
    live.staff = await seed_staff(app, password_hash)
    yield live
    await live.stop()


async def identity_state(live: LiveServer, channel: str) -> str:
    assert live.app is not None
    async with live.app[sessions_key]() as session:
        state = await session.scalar(select(ContactIdentity.state).where(ContactIdentity.channel == channel))
    return str(state)


async def conversation_id(live: LiveServer, channel: str) -> int:
    assert live.app is not None
    async with live.app[sessions_key]() as session:
        found = await session.scalar(select(Conversation.id).where(Conversation.channel == channel))
    assert found is not None
    return int(found)


async def test_an_operator_blocks_and_unblocks_a_telegram_sender(browser: Browser, telegram_server: LiveServer) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            telegram_server.url + WEBHOOK,
            json=updates.text("Buy cheap followers!!!"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status == 200
    number = await conversation_id(telegram_server, "telegram")
    page = await sign_in(await new_context(browser), telegram_server, "anna", f"/conversations/{number}")

    block, unblock = page.get_by_test_id("block-sender"), page.get_by_test_id("unblock-sender")
    badge = page.get_by_test_id("sender-blocked")
    await expect(block).to_be_visible()
    await expect(unblock).to_be_hidden()
    await expect(badge).to_be_hidden()

    # Dismissing the confirmation blocks nothing.
    async def dismiss(dialog: Dialog) -> None:
        await dialog.dismiss()

    page.once("dialog", dismiss)
    await block.click()
    await page.wait_for_timeout(300)
    await expect(badge).to_be_hidden()
    assert await identity_state(telegram_server, "telegram") == "active"

    async def accept(dialog: Dialog) -> None:
        assert "Block this sender?" in dialog.message
        await dialog.accept()

    page.once("dialog", accept)
    await block.click()  # through the API with the session cookie and the CSRF header
    await expect(badge).to_be_visible()
    await expect(unblock).to_be_visible()
    await expect(block).to_be_hidden()
    assert await identity_state(telegram_server, "telegram") == "blocked"

    await page.reload()  # the page renders the stored state
    await expect(page.get_by_test_id("sender-blocked")).to_be_visible()
    await expect(page.get_by_test_id("unblock-sender")).to_be_visible()

    await page.get_by_test_id("unblock-sender").click()
    await expect(page.get_by_test_id("block-sender")).to_be_visible()
    await expect(page.get_by_test_id("sender-blocked")).to_be_hidden()
    assert await identity_state(telegram_server, "telegram") == "active"


async def test_channels_without_blocking_show_no_button(browser: Browser, telegram_server: LiveServer) -> None:
    assert telegram_server.app is not None
    await telegram_server.app[inbox_key].ingest(
        InboundMessage(
            channel="webchat",
            inbox="demo",
            external_id="w1",
            sender=ContactInfo(external_id="visitor-1", display="Visitor"),
            text="Hello from the site",
        )
    )
    number = await conversation_id(telegram_server, "webchat")
    page = await sign_in(await new_context(browser), telegram_server, "anna", f"/conversations/{number}")
    await expect(page.get_by_test_id("message").filter(has_text="Hello from the site")).to_have_count(1)
    await expect(page.get_by_test_id("block-sender")).to_have_count(0)
    await expect(page.get_by_test_id("unblock-sender")).to_have_count(0)


async def test_a_colleague_with_the_conversation_open_sees_the_block_and_the_unblock_live(
    browser: Browser, telegram_server: LiveServer
) -> None:
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            telegram_server.url + WEBHOOK,
            json=updates.text("Buy cheap followers!!!"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status == 200
    path = f"/conversations/{await conversation_id(telegram_server, 'telegram')}"
    anna = await sign_in(await new_context(browser), telegram_server, "anna", path)
    lead = await sign_in(await new_context(browser), telegram_server, "lead", path)
    await expect(lead.get_by_test_id("sender-blocked")).to_be_hidden()

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    anna.once("dialog", accept)
    await anna.get_by_test_id("block-sender").click()
    # The lead did nothing and reloads nothing: the event flips the badge and the buttons.
    await expect(lead.get_by_test_id("sender-blocked")).to_be_visible()
    await expect(lead.get_by_test_id("unblock-sender")).to_be_visible()
    await expect(lead.get_by_test_id("block-sender")).to_be_hidden()

    await lead.get_by_test_id("unblock-sender").click()
    await expect(anna.get_by_test_id("sender-blocked")).to_be_hidden()
    await expect(anna.get_by_test_id("block-sender")).to_be_visible()
    await expect(anna.get_by_test_id("unblock-sender")).to_be_hidden()
    assert await identity_state(telegram_server, "telegram") == "active"
