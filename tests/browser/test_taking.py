"""Taking a chat at capacity from the Russian console; a refusal is explained in Russian."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from lines.console.keys import sessions_key
from lines.console.models import Operator, Team
from tests.browser.conftest import LiveServer, new_context, sign_in
from tests.browser.test_console import open_widget, row_with, visitor_says

pytestmark = pytest.mark.browser


async def fill_to_capacity(server: LiveServer, respect_capacity: bool = False) -> None:
    """Anna has no room left for chats; the support team may hold her to it."""
    assert server.app is not None
    async with server.app[sessions_key]() as session, session.begin():
        await session.execute(update(Operator).where(Operator.login == "anna").values(capacity={"chat": 0}))
        await session.execute(update(Team).where(Team.name == "support").values(respect_capacity=respect_capacity))


async def open_new_chat(browser: Browser, server: LiveServer, text: str) -> Page:
    visitor = await (await new_context(browser, locale="ru-RU")).new_page()
    await open_widget(visitor, server)
    console = await sign_in(await new_context(browser, locale="ru-RU"), server, "anna")
    await visitor_says(visitor, text)
    row = row_with(console, text)
    await expect(row).to_have_count(1)
    await row.click()
    await console.wait_for_function("() => document.body.dataset.connected === 'true'")
    return console


async def test_an_operator_at_capacity_takes_a_chat_in_the_russian_console(
    browser: Browser, server: LiveServer
) -> None:
    await fill_to_capacity(server)
    console = await open_new_chat(browser, server, "Где мой заказ?")
    await console.get_by_test_id("take").click()
    await expect(console.get_by_test_id("assignee")).to_have_text("Anna Ivanova")
    await expect(console.get_by_test_id("toast")).to_be_hidden()


async def test_a_refused_take_is_explained_in_russian(browser: Browser, server: LiveServer) -> None:
    await fill_to_capacity(server, respect_capacity=True)
    console = await open_new_chat(browser, server, "Когда доставка?")
    await console.get_by_test_id("take").click()
    await expect(console.get_by_test_id("toast")).to_have_text("Оператор загружен полностью.")
    await expect(console.get_by_test_id("assignee")).to_have_text("Не назначен")
