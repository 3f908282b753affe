"""The bot in the widget, in headless Chromium: an answer with buttons, and a press reaching an operator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from sqlalchemy import select

from lines.bots.kb import load_dir
from lines.bots.models import BotFeedback
from lines.bots.store import import_articles
from lines.console.keys import sessions_key
from tests.api.helpers import eventually
from tests.browser.conftest import LiveServer, new_context, sign_in
from tests.browser.test_console import open_widget, visitor_says

pytestmark = pytest.mark.browser

KB = Path(__file__).resolve().parents[2] / "config" / "kb"


async def test_a_visitor_gets_the_answer_at_once_and_reaches_an_operator_with_a_button(
    browser: Browser, server: LiveServer
) -> None:
    assert server.app is not None
    await import_articles(server.app[sessions_key], load_dir(KB))
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)

    await visitor_says(visitor, "how much is shiping?")
    answer = visitor.locator('[data-testid="message"][data-author="bot"]').filter(has_text="390")
    await expect(answer).to_have_count(1)
    buttons = answer.get_by_test_id("button")
    await expect(buttons).to_have_text(["Yes", "Talk to an operator"])

    await buttons.filter(has_text="Talk to an operator").click()
    pressed = visitor.locator('[data-testid="message"][data-author="contact"]').filter(has_text="Talk to an operator")
    await expect(pressed).to_have_count(1)
    await expect(visitor.get_by_test_id("message").filter(has_text="passing your question")).to_have_count(1)
    await expect(visitor.get_by_test_id("buttons")).to_have_count(0)


async def test_the_operator_sees_ranked_suggestions_and_inserts_one_with_a_click(
    browser: Browser, server: LiveServer
) -> None:
    assert server.app is not None
    await import_articles(server.app[sessions_key], load_dir(KB))
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    await visitor_says(visitor, "я хочу с кем-то поговорить про промокод, он не работает у меня, и про скидки")
    console = await sign_in(await new_context(browser), server, "anna")
    await console.get_by_test_id("conversation-row").first.click()
    suggestions = console.get_by_test_id("suggestion")
    await expect(suggestions.first).to_have_attribute("data-article", "promo-codes")
    await expect(suggestions.first.get_by_test_id("suggestion-score")).to_have_text(re.compile(r"^\d+%$"))
    await suggestions.first.get_by_test_id("suggestion-insert").click()
    await expect(console.get_by_test_id("reply-input")).to_have_value(re.compile("Промокод вводится в корзине"))
    box = console.get_by_test_id("reply-input")
    await box.press("End")
    await box.type(" Анна.")
    await box.press("Enter")
    await expect(box).to_have_value("")

    async def kinds() -> list[str]:
        async with server.app[sessions_key]() as session:
            return list((await session.scalars(select(BotFeedback.kind).order_by(BotFeedback.id))).all())

    async def both() -> bool:
        return len(await kinds()) >= 2

    await eventually(both)
    assert await kinds() == ["used", "edited"]
