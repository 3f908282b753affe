"""A lead changes a rule in the browser, sees its what-if result, publishes it and rolls it back; the
live queue follows presence changes pushed over the operator socket, without polling."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from playwright.async_api import Browser, Request, expect

from lines.console.keys import sessions_key
from lines.routing.models import RoutingRulesVersion
from tests.browser.conftest import LiveServer, browser, new_context, server, sign_in
from tests.conftest import PASSWORD
from tests.routing.helpers import RULES

pytestmark = pytest.mark.browser
__all__ = ["browser", "server"]


async def test_a_lead_edits_simulates_publishes_and_rolls_back(server: LiveServer, browser: Browser) -> None:
    assert server.app is not None
    async with server.app[sessions_key]() as session, session.begin():
        session.add(RoutingRulesVersion(rules=RULES, author_name="seed", comment="first"))
    context = await new_context(browser)
    page = await sign_in(context, server, "lead", "/routing")
    await expect(page.get_by_test_id("live-version")).to_have_text("1")
    strategy = page.get_by_test_id("routes").locator("tbody tr").nth(1).locator("[data-k=strategy]")
    await strategy.select_option("longest_idle")

    await page.locator("[data-field=preview-text]").fill("Хочу купить диван")
    await page.locator("[data-action=preview]").click()
    await expect(page.get_by_test_id("preview-result")).to_contain_text("sales → sales")

    await page.locator("[data-action=simulate]").click()
    await expect(page.get_by_test_id("simulation").locator("tbody tr").first).to_be_visible()

    await page.locator("[data-field=comment]").fill("support by longest idle")
    await page.get_by_test_id("publish").click()
    await expect(page.get_by_test_id("live-version")).to_have_text("2")
    await expect(page.get_by_test_id("history").locator("tbody tr")).to_have_count(2)

    await page.get_by_test_id("history").locator("tbody tr").last.locator("[data-action=rollback]").click()
    await expect(page.get_by_test_id("live-version")).to_have_text("3")
    await expect(strategy).to_have_value("least_loaded")
    await context.close()


async def test_invalid_rules_show_the_field_and_publish_nothing(server: LiveServer, browser: Browser) -> None:
    assert server.app is not None
    async with server.app[sessions_key]() as session, session.begin():
        session.add(RoutingRulesVersion(rules=RULES, author_name="seed", comment="first"))
    context = await new_context(browser)
    page = await sign_in(context, server, "lead", "/routing")
    await page.get_by_test_id("routes").locator("tbody tr").first.locator("[data-k=team]").fill("nowhere")
    await page.get_by_test_id("publish").click()
    await expect(page.get_by_test_id("routing-status")).to_contain_text("/routes/0/team")
    await expect(page.get_by_test_id("live-version")).to_have_text("1")
    await context.close()


async def set_presence(server: LiveServer, login: str, status: str) -> None:
    """Through the public API, as the operator's own console would."""
    async with aiohttp.ClientSession(server.url) as http:
        async with http.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD}) as response:
            token = (await response.json())["token"]
        headers = {"Authorization": f"Bearer {token}"}
        async with http.put("/api/v1/me/presence", json={"status": status}, headers=headers) as response:
            assert response.status == 200, await response.text()


async def test_the_live_queue_follows_presence_over_the_socket(server: LiveServer, browser: Browser) -> None:
    assert server.app is not None
    async with server.app[sessions_key]() as session, session.begin():
        session.add(RoutingRulesVersion(rules=RULES, author_name="seed", comment="first"))
    context = await new_context(browser)
    page = await sign_in(context, server, "lead", "/routing")
    await page.wait_for_function("() => document.body.dataset.queueUpdates === 'push'")
    anna = page.get_by_test_id("queue-operators").locator("tbody tr", has_text="Anna Ivanova")
    await expect(anna).to_contain_text("offline")

    reads: list[str] = []

    def record(request: Request) -> None:
        if request.url.endswith("/api/v1/routing/queue"):
            reads.append(request.url)

    await asyncio.sleep(1.5)  # the read that follows the socket's connecting
    page.on("request", record)
    await asyncio.sleep(6)  # nothing changes and the socket is up: no reads (it polled every 5 s)
    assert reads == []

    await set_presence(server, "anna", "online")
    await expect(anna).to_contain_text("online")
    await set_presence(server, "anna", "away")
    await expect(anna).to_contain_text("away")
    assert 1 <= len(reads) <= 3, reads  # one read per pushed change, none in between
    await context.close()


async def test_the_what_if_says_it_replays_presence_as_it_was(server: LiveServer, browser: Browser) -> None:
    assert server.app is not None
    async with server.app[sessions_key]() as session, session.begin():
        session.add(RoutingRulesVersion(rules=RULES, author_name="seed", comment="first"))
    context = await new_context(browser, locale="ru-RU")
    page = await sign_in(context, server, "lead", "/routing")
    await expect(page.get_by_test_id("simulation-how")).to_contain_text("как это записано в истории присутствия")
    await expect(page.get_by_test_id("sim-sample")).to_have_value("store")

    await page.locator("[data-action=simulate]").click()
    await expect(page.get_by_test_id("simulation").locator("tbody tr")).to_have_count(2)  # draft and live
    await expect(page.get_by_test_id("simulation-presence")).to_have_text(
        "Операторы были в сети так, как записано в истории присутствия."
    )

    await page.get_by_test_id("sim-sample").select_option("generated")
    await page.locator("[data-action=simulate]").click()
    await expect(page.get_by_test_id("simulation-presence")).to_have_text(
        "Сгенерированная нагрузка: каждый активный оператор считался в сети всё время."
    )
    await context.close()
