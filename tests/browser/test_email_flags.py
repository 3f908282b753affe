"""Email flags on a message pushed live look exactly as the page renders them after a reload (ru and en)."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from lines.console.keys import inbox_key
from tests.api.helpers import inbound_email
from tests.browser.conftest import LiveServer, new_context, sign_in

pytestmark = pytest.mark.browser
FLAGS = ".email-flag, .email-quoted"


async def flags_of(page: Page, message_id: int) -> list[str]:
    """The flag elements under one message, as markup (whitespace between tags does not matter)."""
    found: list[str] = await page.eval_on_selector_all(
        f'.msg[data-id="{message_id}"] :is({FLAGS})', "nodes => nodes.map(n => n.outerHTML)"
    )
    return found


async def open_and_push(browser: Browser, server: LiveServer, locale: str) -> tuple[Page, list[int]]:
    """Admin opens an email conversation; then three flagged mails arrive while the page is open."""
    assert server.app is not None
    inbox = server.app[inbox_key]
    first = await inbox.ingest(inbound_email("Hello, where is my order?"))
    page = await sign_in(await new_context(browser, locale), server, "admin", f"/conversations/{first.conversation_id}")
    await expect(page.get_by_test_id("message")).to_have_count(1)
    pushed = [
        await inbox.ingest(inbound_email("I am away.", auto="auto_reply", quoted="> Hello, where is my order?")),
        await inbox.ingest(inbound_email("Undelivered", html="<p>Undelivered</p>", auto="bounce", quoted="> q")),
        await inbox.ingest(inbound_email("", unreadable="bad MIME", too_large=["scan.tiff", "video.mov"])),
    ]
    assert {p.conversation_id for p in pushed} == {first.conversation_id}
    await expect(page.get_by_test_id("message")).to_have_count(4)
    return page, [p.message_id for p in pushed]


async def test_flags_of_live_email_messages_match_the_rendered_page(browser: Browser, server: LiveServer) -> None:
    page, (away, bounce, unreadable) = await open_and_push(browser, server, "en-US")
    away_row = page.locator(f'.msg[data-id="{away}"]')
    await expect(away_row.get_by_test_id("email-auto")).to_have_text("Automatic email: not acknowledged")
    await expect(away_row.locator(".email-quoted summary")).to_have_text("Quoted text")
    bounce_row = page.locator(f'.msg[data-id="{bounce}"]')
    await expect(bounce_row.get_by_test_id("email-auto")).to_have_text("Delivery failure report")
    await expect(bounce_row.locator(".email-quoted")).to_have_count(0)  # the HTML shows its own history
    broken = page.locator(f'.msg[data-id="{unreadable}"]')
    await expect(broken.get_by_test_id("email-unreadable")).to_have_text(
        "This email could not be read; the original is attached."
    )
    await expect(broken.get_by_test_id("email-too-large")).to_have_text("Too large to store: scan.tiff, video.mov")

    live = [await flags_of(page, m) for m in (away, bounce, unreadable)]
    await page.reload()
    await expect(page.get_by_test_id("message")).to_have_count(4)
    assert [await flags_of(page, m) for m in (away, bounce, unreadable)] == live


async def test_live_email_flags_are_translated(browser: Browser, server: LiveServer) -> None:
    page, (away, bounce, unreadable) = await open_and_push(browser, server, "ru-RU")
    await expect(page.locator(f'.msg[data-id="{away}"]').get_by_test_id("email-auto")).to_have_text(
        "Автоматическое письмо: без автоответа"
    )
    await expect(page.locator(f'.msg[data-id="{bounce}"]').get_by_test_id("email-auto")).to_have_text(
        "Отчёт о недоставке"
    )
    await expect(page.locator(f'.msg[data-id="{unreadable}"]').get_by_test_id("email-too-large")).to_have_text(
        "Слишком большие, не сохранены: scan.tiff, video.mov"
    )
    live = await flags_of(page, away)
    await page.reload()
    await expect(page.get_by_test_id("message")).to_have_count(4)
    assert await flags_of(page, away) == live
