"""Search from the top bar in Russian by another word form; the result opens the conversation at the message."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.keys import inbox_key
from tests.browser.conftest import LiveServer, new_context, sign_in


def said(text: str, n: int) -> InboundMessage:
    return InboundMessage(
        channel="webchat",
        inbox="demo",
        external_id=f"m-{n}",
        sender=ContactInfo(external_id="visitor-search", name="Вера"),
        text=text,
    )


async def test_a_russian_word_form_finds_the_message_and_opens_the_conversation_there(
    browser: Browser, server: LiveServer
) -> None:
    assert server.app is not None
    inbox = server.app[inbox_key]
    for n in range(30):
        await inbox.ingest(said(f"Сообщение номер {n}", n))
    found = await inbox.ingest(said("Когда будет <b>доставка</b> заказа?", 30))
    for n in range(31, 60):
        await inbox.ingest(said(f"Ещё сообщение {n}", n))

    console = await sign_in(await new_context(browser, "ru-RU"), server, "anna")
    await expect(console.get_by_test_id("search-input")).to_have_attribute("placeholder", re.compile("Поиск"))
    await console.get_by_test_id("search-input").fill("доставки")
    hit = console.get_by_test_id("search-hit")
    await expect(hit).to_have_count(1)
    await expect(hit.locator("mark")).to_have_text("доставка")
    await expect(hit.get_by_test_id("search-snippet")).to_have_text("Когда будет <b>доставка</b> заказа?")
    await hit.click()

    await console.wait_for_url(re.compile(rf"/conversations/{found.conversation_id}#message-{found.message_id}$"))
    message = console.locator(f"#message-{found.message_id}")
    await expect(message).to_have_class(re.compile(r"\bmsg-found\b"))
    await expect(message).to_be_in_viewport()
