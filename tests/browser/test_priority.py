"""The priority control on the conversation page: an operator sets it, a lead watching the same
conversation (in Russian) sees it change live, and the history keeps who changed it."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import LiveServer, new_context, sign_in
from tests.browser.test_console import open_widget, row_with, visitor_says

pytestmark = pytest.mark.browser


async def test_an_operator_sets_the_priority_and_a_lead_sees_it_live(browser: Browser, server: LiveServer) -> None:
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    await visitor_says(visitor, "The card terminal is down in our shop")
    anna = await sign_in(await new_context(browser), server, "anna")
    await row_with(anna, "card terminal is down").click()
    await anna.wait_for_url(re.compile(r"/conversations/\d+$"))
    path = anna.url.removeprefix(server.url)
    lead = await sign_in(await new_context(browser, locale="ru-RU"), server, "lead", path)
    await expect(lead.get_by_test_id("priority-select")).to_have_value("normal")
    await anna.wait_for_function("() => document.body.dataset.connected === 'true'")

    await anna.get_by_test_id("priority-select").select_option("urgent")
    await expect(anna.get_by_test_id("toast")).to_have_text("Priority set to Urgent.")
    note = anna.get_by_test_id("message").filter(has_text="Priority changed from normal to urgent by Anna Ivanova")
    await expect(note).to_have_count(1)

    select = lead.get_by_test_id("priority-select")
    await expect(select).to_have_value("urgent")
    await expect(select.locator("option:checked")).to_have_text("Срочный")
    await expect(lead.get_by_test_id("message").filter(has_text="Priority changed")).to_have_count(1)

    await anna.reload()
    await expect(anna.get_by_test_id("priority-select")).to_have_value("urgent")
