"""A live customer message updates the inbox row's preview with its author, in the console's language."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import LiveServer, new_context, sign_in
from tests.browser.test_console import open_widget, row_with, visitor_says

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("locale", "label"), [("en-US", "Customer:"), ("ru-RU", "Клиент:")])
async def test_a_live_customer_message_is_previewed_with_its_author(
    browser: Browser, server: LiveServer, locale: str, label: str
) -> None:
    visitor = await (await new_context(browser, locale=locale)).new_page()
    await open_widget(visitor, server)
    console = await sign_in(await new_context(browser, locale=locale), server, "anna")

    await visitor_says(visitor, "First question")
    row = row_with(console, "First question")
    await expect(row).to_have_count(1)
    await visitor_says(visitor, "Second question about delivery")
    preview = console.get_by_test_id("conversation-row").get_by_test_id("preview")
    await expect(preview).to_have_text(f"{label} Second question about delivery")
    await expect(preview.get_by_test_id("preview-author")).to_have_text(label)
