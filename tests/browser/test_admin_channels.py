"""The Channels page in headless Chromium: an admin copies a site's widget snippet."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import LiveServer, new_context, sign_in

pytestmark = pytest.mark.browser


async def test_an_admin_copies_the_widget_snippet_of_a_site(browser: Browser, server: LiveServer) -> None:
    context = await new_context(browser, permissions=["clipboard-read", "clipboard-write"])
    admin = await sign_in(context, server, "admin")
    await admin.get_by_test_id("nav-admin").click()
    await admin.get_by_test_id("nav-admin-channels").click()
    site = admin.locator("[data-testid=channel-row][data-kind=webchat][data-name=demo]")
    snippet = f'<script src="{server.url}/webchat/widget.js" data-site-key="demo" async></script>'
    await expect(site.get_by_test_id("channel-snippet")).to_have_text(snippet)
    await site.get_by_test_id("copy-snippet").click()
    await expect(site.get_by_test_id("copy-snippet")).to_have_text("Copied")
    assert await admin.evaluate("navigator.clipboard.readText()") == snippet
