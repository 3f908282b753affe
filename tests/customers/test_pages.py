"""The leads' report pages (server-rendered SVG), and in a real browser the touchpoint map, the customer
card and the canned-response picker."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect
from sqlalchemy import update

from lines.console.customers.models import CannedResponse
from lines.console.keys import inbox_key, sessions_key
from lines.console.models import Contact, Conversation
from tests.api.helpers import Client, cookie_session, inbound
from tests.browser.conftest import LiveServer, browser, new_context, server, sign_in  # noqa: F401
from tests.conftest import Staff
from tests.customers.test_reports import seed_report_fixture


async def test_the_reports_page_draws_the_hours_chart_for_leads(client: Client, staff: Staff) -> None:
    await seed_report_fixture(client.app, staff)
    cookie, _ = await cookie_session(client, staff.lead)
    response = await client.get("/reports", params={"from": "2026-03-02", "to": "2026-03-02"}, headers=cookie)
    assert response.status == 200
    html = await response.text()
    assert 'data-testid="hours-chart"' in html and html.count('class="bar"') == 24
    assert "/api/v1/reports/csv?from=2026-03-02" in html


async def test_operators_do_not_get_the_report_pages(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna)
    for path in ("/reports", "/reports/touchpoints"):
        assert (await client.get(path, headers=cookie)).status == 404


async def test_a_reversed_range_on_the_page_falls_back_with_a_notice(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.lead)
    response = await client.get("/reports", params={"from": "2026-03-02", "to": "2020-01-01"}, headers=cookie)
    assert response.status == 200 and 'role="alert"' in await response.text()


async def test_the_touchpoint_map_in_a_browser(browser: Browser, server: LiveServer, tmp_path: Path) -> None:  # noqa: F811
    assert server.app is not None and server.staff is not None
    await seed_report_fixture(server.app, server.staff)
    context = await new_context(browser)
    page = await sign_in(context, server, "lead")
    await page.goto(f"{server.url}/reports/touchpoints?from=2026-03-01&to=2026-03-03")
    nodes = page.get_by_test_id("touchpoint-node")
    assert await nodes.count() == 3
    scores = {await n.get_attribute("data-key"): await n.get_attribute("data-score") for n in await nodes.all()}
    assert scores == {"email:test": "5.1", "shop.example/pricing": "8.0", "telegram:test": "10.0"}
    weakest = page.locator("[data-testid='touchpoint-node'].weakest circle")
    assert await weakest.count() == 3
    assert await page.get_by_test_id("weakest").locator("li").all_inner_texts() == [
        "email:test",
        "shop.example/pricing",
        "telegram:test",
    ]
    box = await page.get_by_test_id("touchpoint-svg").bounding_box()
    assert box is not None and box["width"] > 300
    await page.screenshot(path=str(tmp_path / "touchpoints.png"))
    await context.close()


async def test_the_card_and_the_canned_picker_in_a_browser(browser: Browser, server: LiveServer) -> None:  # noqa: F811
    assert server.app is not None and server.staff is not None
    app, staff = server.app, server.staff
    result = await app[inbox_key].ingest(inbound("where is my parcel?", "vera-1", "Vera <b>Orlova</b>"))
    async with app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation).where(Conversation.id == result.conversation_id).values(team_id=staff.support)
        )
        contact = await session.get(Contact, result.contact_id)
        assert contact is not None
        contact.tags = ["vip"]
        session.add(CannedResponse(shortcut="thanks", text="Thank you, {{contact.name}}!", owner_id=staff.anna))
        session.add(CannedResponse(shortcut="ship", text="It ships today.", team_id=staff.support))
    context = await new_context(browser)
    page = await sign_in(context, server, "anna")
    await page.goto(f"{server.url}/conversations/{result.conversation_id}")
    card = page.get_by_test_id("customer-360")
    await expect(card.get_by_test_id("c360-tags")).to_have_text("vip")
    await expect(card.get_by_test_id("c360-touchpoints")).to_contain_text("loopback:test")
    await card.get_by_test_id("c360-note-input").fill("Called <twice>")
    await card.get_by_role("button", name="Add note").click()
    await expect(card.get_by_test_id("c360-notes")).to_have_text("Called <twice>")

    box = page.get_by_test_id("reply-input")
    await box.fill("/")
    await box.press_sequentially("th")
    items = page.get_by_test_id("canned-item")
    await expect(items).to_have_count(1)
    await box.press("Enter")
    await expect(box).to_have_value("Thank you, Vera <b>Orlova</b>!")
    await expect(page.get_by_test_id("message")).to_have_count(1)  # Enter picked, did not send
    await context.close()


async def test_merge_and_undo_from_the_card_in_a_browser(browser: Browser, server: LiveServer) -> None:  # noqa: F811
    assert server.app is not None and server.staff is not None
    app = server.app
    mine = await app[inbox_key].ingest(inbound("by chat", "vera-chat", "Vera"))
    other = await app[inbox_key].ingest(inbound("by mail", "vera-mail", "Vera Orlova"))
    async with app[sessions_key]() as session, session.begin():
        for contact_id in (mine.contact_id, other.contact_id):
            contact = await session.get(Contact, contact_id)
            assert contact is not None
            contact.email = "vera@example.com"
    context = await new_context(browser)
    page = await sign_in(context, server, "admin")
    await page.goto(f"{server.url}/conversations/{mine.conversation_id}")
    card = page.get_by_test_id("customer-360")
    await expect(card.get_by_test_id("c360-duplicates")).to_contain_text("Vera Orlova")
    await card.get_by_test_id("c360-merge").click()
    await expect(card.get_by_test_id("c360-merges")).to_contain_text(f"#{other.contact_id}")
    await expect(card.get_by_test_id("c360-duplicates-box")).to_be_hidden()
    await expect(card.get_by_test_id("c360-touchpoints").locator("li")).to_have_count(2)
    await card.get_by_test_id("c360-unmerge").click()
    await expect(card.get_by_test_id("c360-duplicates")).to_contain_text("Vera Orlova")
    await expect(card.get_by_test_id("c360-touchpoints").locator("li")).to_have_count(1)
    await context.close()
