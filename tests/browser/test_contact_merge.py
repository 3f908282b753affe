"""A merge and its undo show up live on an open conversation: the customer's name, identities and card."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from lines.console.keys import inbox_key
from tests.api.helpers import inbound
from tests.browser.conftest import LiveServer, new_context, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


async def test_an_open_conversation_follows_a_merge_and_its_undo(browser: Browser, server: LiveServer) -> None:
    assert server.app is not None
    ingest = server.app[inbox_key].ingest
    kept = await ingest(inbound("by mail, really", "visitor-kept", "Vera Orlova", channel="webchat", inbox="demo"))
    other = await ingest(inbound("quick question", "visitor-other", "Vera", channel="webchat", inbox="demo"))
    page = await sign_in(await new_context(browser), server, "lead", f"/conversations/{other.conversation_id}")
    await expect(page.get_by_test_id("conversation-contact")).to_have_text("Vera")
    card = page.get_by_test_id("customer-360")
    await expect(card).to_have_attribute("data-contact-id", str(other.contact_id))
    await expect(page.get_by_test_id("identities").locator("li")).to_have_count(1)
    await page.get_by_test_id("reply-input").fill("a draft that must survive")

    async with aiohttp.ClientSession(server.url) as http:
        async with http.post("/api/v1/auth/login", json={"login": "lead", "password": PASSWORD}) as response:
            headers = {"Authorization": f"Bearer {(await response.json())['token']}"}
        url = f"/api/v1/contacts/{kept.contact_id}/merge"
        async with http.post(url, json={"other_id": other.contact_id}, headers=headers) as response:
            assert response.status == 200, await response.text()
            merge_id = (await response.json())["merge"]["id"]

        await expect(page.get_by_test_id("conversation-contact")).to_have_text("Vera Orlova")
        await expect(page.get_by_test_id("customer-name")).to_have_text("Vera Orlova")
        await expect(card).to_have_attribute("data-contact-id", str(kept.contact_id))
        await expect(page.get_by_test_id("c360-merges-box")).to_be_visible()
        await expect(page.get_by_test_id("identities").locator("li")).to_have_count(2)
        await expect(page.get_by_test_id("c360-touchpoints").locator("li")).to_have_count(2)

        url = f"/api/v1/contacts/{kept.contact_id}/unmerge"
        async with http.post(url, json={"merge_id": merge_id}, headers=headers) as response:
            assert response.status == 200, await response.text()

    await expect(page.get_by_test_id("conversation-contact")).to_have_text("Vera")
    await expect(card).to_have_attribute("data-contact-id", str(other.contact_id))
    await expect(page.get_by_test_id("c360-merges-box")).to_be_hidden()
    await expect(page.get_by_test_id("identities").locator("li")).to_have_count(1)
    await expect(page.get_by_test_id("reply-input")).to_have_value("a draft that must survive")
