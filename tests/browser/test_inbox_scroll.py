"""The inbox at any size: scrolling loads the next pages until the list holds every counted conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, expect

from lines.console.keys import sessions_key
from lines.console.models import Contact, Conversation
from tests.browser.conftest import LiveServer, new_context, sign_in

pytestmark = pytest.mark.browser


async def test_scrolling_past_the_first_page_loads_every_counted_conversation(
    browser: Browser, server: LiveServer
) -> None:
    assert server.app is not None and server.staff is not None
    start = datetime.now(UTC) - timedelta(days=1)
    async with server.app[sessions_key]() as session, session.begin():
        for n in range(130):
            contact = Contact(name=f"Customer {n}")
            session.add(contact)
            await session.flush()
            session.add(
                Conversation(
                    contact_id=contact.id,
                    channel="webchat",
                    inbox="main",
                    team_id=server.staff.support,
                    subject=f"Question {n}",
                    last_message_at=start + timedelta(minutes=n),
                )
            )
    page = await sign_in(await new_context(browser), server, "anna")
    rows = page.get_by_test_id("conversation-row")
    count = page.locator('[data-count="all"]')
    await expect(count).to_have_text("130")
    await expect(rows).to_have_count(100)  # the first page, then the list goes on as it scrolls

    for _ in range(10):
        await rows.last.scroll_into_view_if_needed()
        if await rows.count() == 130:
            break
        await page.wait_for_timeout(200)
    await expect(rows).to_have_count(130)
    await expect(page.get_by_test_id("list-more")).to_be_hidden()
    await expect(count).to_have_text(str(await rows.count()))
    ids = await rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert len(set(ids)) == 130
    await expect(rows.last).to_contain_text("Customer 0")
