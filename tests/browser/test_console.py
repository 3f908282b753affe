"""The console and the widget in headless Chromium: live both ways, Russian UI, restarts, inert HTML, collisions."""

from __future__ import annotations

import json
import re

import pytest
from playwright.async_api import Browser, Page, expect

from lines.channels.webchat.visitor import identity_hash
from lines.console.access import Scope
from lines.console.actions import do_reply
from lines.console.keys import events_key, outbox_key, sessions_key
from tests.browser.conftest import LiveServer, new_context, sign_in

pytestmark = pytest.mark.browser

XSS_NAME = '<img src=x onerror="alert(\'name\')"><script>alert("name")</script>'
XSS_TEXT = '<script>alert("text")</script><img src=x onerror=alert(1)><b onmouseover=alert(2)>bold</b>'


async def open_widget(page: Page, server: LiveServer) -> None:
    await page.goto(f"{server.url}/demo")
    await page.get_by_test_id("launcher").click()
    await page.wait_for_function("() => window.LinesChat && window.LinesChat.state && window.LinesChat.state.connected")


async def visitor_says(page: Page, text: str) -> None:
    await page.get_by_test_id("input").fill(text)
    await page.get_by_test_id("send").click()


def row_with(page: Page, text: str):  # type: ignore[no-untyped-def]
    return page.get_by_test_id("conversation-row").filter(has_text=text)


async def operator_replies(page: Page, text: str) -> None:
    box = page.get_by_test_id("reply-input")
    await box.fill(text)
    await box.press("Enter")
    await expect(page.get_by_test_id("message").filter(has_text=text)).to_have_count(1)
    await expect(box).to_have_value("")


async def test_a_visitor_and_an_operator_talk_live(browser: Browser, server: LiveServer) -> None:
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    console = await sign_in(await new_context(browser), server, "anna")

    await visitor_says(visitor, "Hello, where is my order 1042?")
    row = row_with(console, "where is my order 1042")
    await expect(row).to_have_count(1)
    await expect(row).to_have_class(re.compile(r"\bunread\b"))
    await expect(console.get_by_test_id("empty")).to_be_hidden()

    await row.click()
    await console.wait_for_url(re.compile(r"/conversations/\d+$"))
    await expect(console.get_by_test_id("message").filter(has_text="where is my order 1042")).to_have_count(1)
    await console.wait_for_function("() => document.body.dataset.connected === 'true'")

    await visitor_says(visitor, "It was due yesterday.")
    await expect(console.get_by_test_id("message").filter(has_text="It was due yesterday.")).to_have_count(1)

    await operator_replies(console, "Hi! Your order ships today.")
    reply = visitor.locator('[data-testid="message"][data-author="operator"]').filter(has_text="ships today")
    await expect(reply).to_have_count(1)
    # The delivery status follows live, and never goes back to "Queued".
    delivery = console.get_by_test_id("message").filter(has_text="ships today").get_by_test_id("delivery")
    await expect(delivery).to_have_text(re.compile("^(Sent|Delivered|Read)$"))

    # A private note stays in the console and looks different.
    await console.get_by_test_id("mode-note").click()
    await operator_replies(console, "Customer is upset, offer a discount")
    note = console.locator('.msg-note[data-testid="message"]').filter(has_text="offer a discount")
    await expect(note.get_by_test_id("note-label")).to_be_visible()
    await visitor.wait_for_timeout(300)
    await expect(visitor.get_by_test_id("message").filter(has_text="discount")).to_have_count(0)


async def test_the_console_speaks_russian(browser: Browser, server: LiveServer) -> None:
    visitor = await (await new_context(browser, locale="ru-RU")).new_page()
    await open_widget(visitor, server)
    console = await sign_in(await new_context(browser, locale="ru-RU"), server, "anna")
    assert await console.get_attribute("html", "lang") == "ru"
    await expect(console.locator("h1")).to_have_text("Входящие")
    await expect(console.get_by_test_id("view-all")).to_contain_text("Все")
    await expect(console.get_by_test_id("logout")).to_have_attribute("title", "Выйти")

    await visitor_says(visitor, "Здравствуйте, когда привезут заказ?")
    row = row_with(console, "когда привезут заказ")
    await expect(row).to_have_count(1)
    await expect(row.locator('[data-field="status"]')).to_have_text("Открыт")
    await expect(row.get_by_test_id("assignee")).to_have_text("Не назначен")

    await row.click()
    await expect(console.get_by_test_id("reply-send")).to_have_text("Отправить")
    await expect(console.get_by_test_id("mode-note")).to_have_text("Внутренняя заметка")
    await expect(console.get_by_test_id("reply-input")).to_have_attribute("placeholder", re.compile("^Напишите ответ"))
    await console.wait_for_function("() => document.body.dataset.connected === 'true'")
    await console.get_by_test_id("take").click()
    await expect(console.get_by_test_id("assignee")).to_have_text("Anna Ivanova")
    await operator_replies(console, "Добрый день! Заказ приедет завтра.")
    await expect(
        visitor.locator('[data-testid="message"][data-author="operator"]').filter(has_text="приедет завтра")
    ).to_have_count(1)

    # The language switch in the header turns the console to English and back.
    await console.get_by_test_id("lang-en").click()
    await expect(console.get_by_test_id("reply-send")).to_have_text("Send")
    assert await console.get_attribute("html", "lang") == "en"


async def test_a_server_restart_loses_nothing(browser: Browser, server: LiveServer) -> None:
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    await visitor_says(visitor, "first message before the restart")
    console = await sign_in(await new_context(browser), server, "anna")
    await row_with(console, "first message before the restart").click()
    await console.wait_for_url(re.compile(r"/conversations/\d+$"))
    await console.wait_for_function("() => document.body.dataset.connected === 'true'")

    await server.stop()
    await visitor.wait_for_function("() => !window.LinesChat.state.connected")
    await console.wait_for_function("() => document.body.dataset.connected === 'false'")
    await visitor_says(visitor, "queued while the server was down")
    await visitor.wait_for_function("() => window.LinesChat.state.queued >= 1")

    app = await server.start()
    # A colleague answers at once, most likely before Anna's console is back: the event goes to
    # nobody, so her console must re-read the conversation when it reconnects.
    conversation_id = int(console.url.rsplit("/", 1)[1])
    assert server.staff is not None
    lead = Scope(server.staff.lead, "lead", frozenset({server.staff.support, server.staff.sales}))
    async with app[sessions_key]() as session:
        await do_reply(
            session,
            app[events_key],
            lead,
            conversation_id,
            "colleague answered meanwhile",
            False,
            app[outbox_key].notify,
        )
    # The console reconnects (with backoff) and re-reads the conversation; the widget resumes and
    # sends its queue. Reply as soon as the console is back, possibly before the widget resumes.
    await console.wait_for_function("() => document.body.dataset.connected === 'true'", timeout=20_000)
    await expect(console.get_by_test_id("message").filter(has_text="colleague answered meanwhile")).to_have_count(1)
    await operator_replies(console, "reply made right after the restart")
    queued = console.get_by_test_id("message").filter(has_text="queued while the server was down")
    await expect(queued).to_have_count(1, timeout=20_000)
    reply = visitor.locator('[data-testid="message"][data-author="operator"]').filter(
        has_text="right after the restart"
    )
    await expect(reply).to_have_count(1, timeout=20_000)
    await visitor.wait_for_function("() => window.LinesChat.state.connected && window.LinesChat.state.queued === 0")

    # Exactly once on both sides, also after a reload of each.
    await console.reload()
    await console.wait_for_function("() => document.body.dataset.connected === 'true'")
    texts = (
        "first message before the restart",
        "queued while the server was down",
        "colleague answered meanwhile",
        "right after the restart",
    )
    for text in texts:
        await expect(console.get_by_test_id("message").filter(has_text=text)).to_have_count(1)
    await visitor.reload()
    await visitor.get_by_test_id("launcher").click()
    await visitor.wait_for_function("() => window.LinesChat.state.connected")
    for text in texts:
        await expect(visitor.get_by_test_id("message").filter(has_text=text)).to_have_count(1)


async def test_customer_html_is_inert_in_the_console(browser: Browser, server: LiveServer) -> None:
    visitor_context = await new_context(browser)
    user_hash = identity_hash("site-secret", "customer-666")
    identity = {"id": "customer-666", "name": XSS_NAME, "hash": user_hash}
    script = f"window.LinesChat = {{identity: {json.dumps(identity)}}};"
    await visitor_context.add_init_script(script)
    visitor = await visitor_context.new_page()
    dialogs: list[str] = []
    await open_widget(visitor, server)
    console = await sign_in(await new_context(browser), server, "anna")
    console.on("dialog", lambda dialog: dialogs.append(dialog.message))

    await visitor_says(visitor, XSS_TEXT)
    row = row_with(console, 'alert("text")')
    await expect(row).to_have_count(1)
    await expect(row.get_by_test_id("contact-name")).to_have_text(XSS_NAME)
    await row.click()
    await expect(console.get_by_test_id("message-text").filter(has_text=XSS_TEXT)).to_have_count(1)
    await expect(console.get_by_test_id("customer-name")).to_have_text(XSS_NAME)
    # Live rendering is as inert as server rendering.
    await console.wait_for_function("() => document.body.dataset.connected === 'true'")
    await visitor_says(visitor, "<svg onload=alert(3)>again</svg>")
    await expect(console.get_by_test_id("message-text").filter(has_text="<svg onload=alert(3)>")).to_have_count(1)
    assert await console.locator(".messages img, .messages script, .messages svg[onload], .messages b").count() == 0
    await console.goto(server.url + "/")
    await expect(row_with(console, "again")).to_have_count(1)
    assert dialogs == []


async def test_two_operators_on_one_conversation_see_each_other(browser: Browser, server: LiveServer) -> None:
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    await visitor_says(visitor, "Can someone help me?")
    anna = await sign_in(await new_context(browser), server, "anna")
    await row_with(anna, "Can someone help me?").click()
    await anna.wait_for_url(re.compile(r"/conversations/\d+$"))
    await anna.wait_for_function("() => document.body.dataset.connected === 'true'")
    path = anna.url.removeprefix(server.url)

    lead = await sign_in(await new_context(browser), server, "lead", path)
    await expect(lead.get_by_test_id("collision")).to_contain_text("Anna Ivanova")
    await expect(anna.get_by_test_id("collision")).to_contain_text("Lena Lead")
    await expect(anna.get_by_test_id("collision")).to_contain_text("viewing")

    await lead.get_by_test_id("reply-input").press_sequentially("I am on it", delay=20)
    await expect(anna.get_by_test_id("collision")).to_contain_text("Lena Lead is typing")

    await visitor_says(visitor, "hello?")
    await expect(anna.get_by_test_id("typing")).to_be_empty()
    await lead.goto(server.url + "/")
    await expect(anna.get_by_test_id("collision")).to_be_hidden()


async def test_the_inbox_follows_assignment_and_transfer_live(browser: Browser, server: LiveServer) -> None:
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    await visitor_says(visitor, "Please transfer me to sales")
    anna = await sign_in(await new_context(browser), server, "anna", "/?view=unassigned")
    row = row_with(anna, "transfer me to sales")
    await expect(row).to_have_count(1)
    await expect(anna.get_by_test_id("view-unassigned").locator(".count")).to_have_text("1")
    await expect(anna.get_by_test_id("view-mine").locator(".count")).to_have_text("0")

    lead = await sign_in(await new_context(browser), server, "lead", "/?view=all")
    await row_with(lead, "transfer me to sales").click()
    await lead.wait_for_url(re.compile(r"/conversations/\d+$"))
    assert server.staff is not None
    await lead.get_by_test_id("assign-select").select_option(f"operator:{server.staff.anna}")
    await lead.get_by_test_id("assign").click()
    await expect(lead.get_by_test_id("assignee")).to_have_text("Anna Ivanova")
    # Assigned: gone from Anna's "unassigned" view, counted as hers.
    await expect(row).to_have_count(0)
    await expect(anna.get_by_test_id("view-mine").locator(".count")).to_have_text("1")
    await expect(anna.get_by_test_id("empty")).to_be_visible()

    await anna.get_by_test_id("view-all").click()
    await expect(row).to_have_count(1)
    await expect(row.get_by_test_id("assignee")).to_have_text("Anna Ivanova")
    await anna.wait_for_function("() => document.body.dataset.connected === 'true'")
    await lead.get_by_test_id("assign-select").select_option("team:sales")
    await lead.get_by_test_id("assign").click()
    await expect(lead.get_by_test_id("team")).to_have_text("Sales")
    # Moved to a team Anna is not in: she can no longer see it at all.
    await expect(row).to_have_count(0)
    await expect(anna.get_by_test_id("view-all").locator(".count")).to_have_text("0")
