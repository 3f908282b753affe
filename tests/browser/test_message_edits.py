"""An operator sees a customer's edit live, marked as such, with the earlier version on demand."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.keys import inbox_key
from tests.browser.conftest import LiveServer, new_context, sign_in


def said(text: str, external_id: str, edit_of: str | None = None) -> InboundMessage:
    return InboundMessage(
        channel="webchat",
        inbox="demo",
        external_id=external_id,
        sender=ContactInfo(external_id="visitor-edit", name="Vera"),
        text=text,
        edit_of=edit_of,
    )


async def test_an_edited_message_is_marked_live_and_shows_its_earlier_version(
    browser: Browser, server: LiveServer
) -> None:
    assert server.app is not None
    inbox = server.app[inbox_key]
    first = await inbox.ingest(said("Order 123, please", "m-1"))
    console = await sign_in(await new_context(browser), server, "anna", f"/conversations/{first.conversation_id}")
    text = console.get_by_test_id("message-text")
    await expect(text).to_have_text("Order 123, please")
    await expect(console.get_by_test_id("message-edited")).to_have_count(0)

    await inbox.ingest(said("Order 124, please", "m-1:edit:1", edit_of="m-1"))
    await expect(text).to_have_text("Order 124, please")
    marker = console.get_by_test_id("message-edited")
    await expect(marker).to_have_count(1)
    await marker.locator("summary").click()
    await expect(console.get_by_test_id("message-revisions").locator("li")).to_have_text(["Order 123, please"])

    await console.reload()
    await expect(console.get_by_test_id("message-edited")).to_have_count(1)
    await expect(console.get_by_test_id("message-text")).to_have_text("Order 124, please")
