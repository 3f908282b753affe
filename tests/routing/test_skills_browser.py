"""A lead edits the skills matrix and capacity on /routing; bad input is refused in the page."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from lines.console.keys import sessions_key
from lines.console.models import Operator
from tests.browser.conftest import LiveServer, browser, new_context, server, sign_in

pytestmark = pytest.mark.browser
__all__ = ["browser", "server"]


async def stored(server: LiveServer, operator_id: int) -> tuple[dict[str, int], dict[str, int]]:
    assert server.app is not None
    async with server.app[sessions_key]() as session:
        operator = await session.get(Operator, operator_id)
        assert operator is not None
        return operator.skills, operator.capacity


async def test_a_lead_edits_skills_and_capacity_and_they_are_stored(server: LiveServer, browser: Browser) -> None:
    assert server.app is not None and server.staff is not None
    anna_id = server.staff.anna
    async with server.app[sessions_key]() as session, session.begin():
        anna = await session.get(Operator, anna_id)
        assert anna is not None
        anna.skills = {"returns": 2, "vip": 1}
    context = await new_context(browser)
    page = await sign_in(context, server, "lead", "/routing")
    matrix = page.get_by_test_id("skills-matrix")
    # The lead manages the operators of their teams: not the admin, not themselves.
    await expect(matrix.get_by_test_id("skills-row")).to_have_count(2)
    anna_row = matrix.get_by_test_id("skills-row").filter(has_text="Anna Ivanova")
    await expect(anna_row.locator("[data-skill=returns]")).to_have_value("2")

    # A level over 5 is refused in the page, and nothing is saved.
    await anna_row.locator("[data-skill=returns]").fill("7")
    await anna_row.get_by_test_id("save-operator").click()
    status = page.get_by_test_id("skills-status")
    await expect(status).to_contain_text("whole number from 0 to 5")
    await expect(anna_row.locator("[data-skill=returns]")).to_have_attribute("aria-invalid", "true")
    assert await stored(server, anna_id) == ({"returns": 2, "vip": 1}, {"chat": 5, "email": 10})

    # A new skill column, a changed level, a removed skill (0) and a new chat capacity.
    await page.locator("[data-field=new-skill]").fill("Bad skill!")
    await page.locator("[data-action=add-skill]").click()
    await expect(status).to_contain_text("lowercase Latin letters")
    await page.locator("[data-field=new-skill]").fill("english")
    await page.locator("[data-action=add-skill]").click()
    await anna_row.locator("[data-skill=english]").fill("3")
    await anna_row.locator("[data-skill=returns]").fill("4")
    await anna_row.locator("[data-skill=vip]").fill("0")
    await anna_row.locator("[data-capacity=chat]").fill("2")
    await anna_row.get_by_test_id("save-operator").click()
    await expect(status).to_have_text("Saved: Anna Ivanova")
    await expect(anna_row.locator("[data-skill=vip]")).to_have_value("")
    assert await stored(server, anna_id) == ({"english": 3, "returns": 4}, {"chat": 2, "email": 10})

    await page.reload()
    anna_row = page.get_by_test_id("skills-matrix").get_by_test_id("skills-row").filter(has_text="Anna Ivanova")
    await expect(anna_row.locator("[data-skill=english]")).to_have_value("3")
    await expect(anna_row.locator("[data-skill=returns]")).to_have_value("4")
    await expect(anna_row.locator("[data-capacity=chat]")).to_have_value("2")
    await expect(anna_row.locator("[data-capacity=email]")).to_have_value("10")
    await context.close()
