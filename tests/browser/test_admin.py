"""The administration pages in headless Chromium: a team and an operator set up in the browser alone."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.browser.conftest import LiveServer, new_context, sign_in

pytestmark = pytest.mark.browser


async def test_an_admin_creates_a_team_and_an_operator_who_then_signs_in(browser: Browser, server: LiveServer) -> None:
    admin = await sign_in(await new_context(browser), server, "admin")
    await admin.get_by_test_id("nav-admin").click()
    await admin.get_by_test_id("nav-admin-teams").click()
    await admin.get_by_test_id("new-team").click()
    await admin.get_by_test_id("field-team-name").fill("billing")
    await admin.get_by_test_id("field-team-title").fill("Billing")
    await admin.get_by_test_id("member-anna").check()
    await admin.get_by_test_id("save-team").click()
    billing = admin.locator("[data-testid=team-row][data-name=billing]")
    await expect(billing.get_by_test_id("team-members")).to_have_text("Anna Ivanova")

    await admin.goto(f"{server.url}/admin/operators")
    await admin.get_by_test_id("new-operator").click()
    await admin.get_by_test_id("field-login").fill("vika")
    await admin.get_by_test_id("field-name").fill("Vika Orlova")
    await admin.get_by_test_id("field-email").fill("vika@example.com")
    await admin.get_by_test_id("team-billing").check()
    await admin.get_by_test_id("field-password").fill("first-day-123")
    await admin.get_by_test_id("field-skills").fill("vip:2")
    await admin.get_by_test_id("save-operator").click()
    row = admin.locator("[data-testid=operator-row][data-login=vika]")
    await expect(row).to_contain_text("Billing")

    newcomer = await (await new_context(browser)).new_page()
    await newcomer.goto(f"{server.url}/login")
    await newcomer.get_by_test_id("login").fill("vika")
    await newcomer.get_by_test_id("password").fill("first-day-123")
    await newcomer.get_by_test_id("submit").click()
    await newcomer.wait_for_url(f"{server.url}/")
    await expect(newcomer.get_by_test_id("me")).to_contain_text("Vika Orlova")


async def test_a_taken_login_and_an_empty_name_show_at_their_fields_and_change_nothing(
    browser: Browser, server: LiveServer
) -> None:
    admin = await sign_in(await new_context(browser, locale="ru-RU"), server, "admin", "/admin/operators")
    await admin.get_by_test_id("new-operator").click()
    await admin.get_by_test_id("field-login").fill("anna")
    await admin.get_by_test_id("field-name").fill("Another Anna")
    await admin.get_by_test_id("field-password").fill("long-enough-1")
    await admin.get_by_test_id("save-operator").click()
    await expect(admin.locator("[data-error-for=login]")).to_have_text("Этот логин занят.")
    await admin.get_by_test_id("field-login").fill("anna2")
    await admin.get_by_test_id("field-name").fill("")
    await admin.get_by_test_id("save-operator").click()
    await expect(admin.locator("[data-error-for=name]")).to_have_text("Введите название или имя.")
    await expect(admin.locator("[data-error-for=login]")).to_have_text("")
    await admin.reload()
    await expect(admin.get_by_test_id("operator-row")).to_have_count(4)


async def test_an_operator_gets_the_403_page_on_admin_pages(browser: Browser, server: LiveServer) -> None:
    anna = await sign_in(await new_context(browser), server, "anna")
    await expect(anna.get_by_test_id("nav-admin")).to_have_count(0)
    response = await anna.goto(f"{server.url}/admin/operators")
    assert response is not None and response.status == 403
    await expect(anna.get_by_test_id("error-page")).to_contain_text("No access")
    await anna.get_by_test_id("error-back").click()
    await anna.wait_for_url(f"{server.url}/")


async def test_a_lead_sees_their_teams_read_only(browser: Browser, server: LiveServer) -> None:
    lead = await sign_in(await new_context(browser), server, "lead", "/admin/teams")
    await expect(lead.get_by_test_id("read-only")).to_be_visible()
    await expect(lead.get_by_test_id("new-team")).to_have_count(0)
    await expect(lead.get_by_test_id("edit-team")).to_have_count(0)
    await lead.goto(f"{server.url}/admin/operators")
    await expect(lead.get_by_test_id("operator-row")).to_have_count(3)  # not the admin, who is in no team
    await expect(lead.get_by_test_id("edit-operator")).to_have_count(0)


async def test_an_admin_resets_a_password_and_deactivates_and_reactivates(browser: Browser, server: LiveServer) -> None:
    admin = await sign_in(await new_context(browser), server, "admin", "/admin/operators")
    anna = admin.locator("[data-testid=operator-row][data-login=anna]")
    await anna.get_by_test_id("edit-operator").click()
    await expect(admin.get_by_test_id("field-login")).to_have_value("anna")
    await admin.get_by_test_id("field-password").fill("new-secret-42")
    await admin.get_by_test_id("field-capacity-chat").fill("3")
    await admin.get_by_test_id("save-operator").click()
    await anna.get_by_test_id("deactivate").click()
    await expect(anna.get_by_test_id("operator-state")).to_have_text("Deactivated")
    await anna.get_by_test_id("reactivate").click()
    await expect(anna.get_by_test_id("deactivate")).to_be_visible()

    page = await (await new_context(browser)).new_page()
    await page.goto(f"{server.url}/login")
    await page.get_by_test_id("login").fill("anna")
    await page.get_by_test_id("password").fill("new-secret-42")
    await page.get_by_test_id("submit").click()
    await page.wait_for_url(f"{server.url}/")
