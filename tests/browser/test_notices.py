"""Events meant for one operator show up in the console as notices with a link to the
conversation: an SLA escalation's `notification` and a follow-up's `follow_up.due`."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from lines.console.customers.feature import follow_ups_key
from lines.console.customers.models import FollowUp
from lines.console.keys import sessions_key
from lines.console.models import utcnow
from lines.sla.keys import sla_key
from lines.sla.policies import PolicySet
from tests.browser.conftest import LiveServer, new_context, sign_in
from tests.browser.test_console import open_widget, row_with, visitor_says

pytestmark = pytest.mark.browser

BREACH_TELLS_THE_LEAD: dict[str, Any] = {
    "calendars": [{"id": "24x7", "timezone": "UTC", "always_open": True}],
    "policies": [
        {
            "id": "short",
            "applies_to": {},
            "calendar": "24x7",
            "first_response_seconds": 1,
            "escalations": [{"on": "breached", "notify": ["lead"], "email": False}],
        }
    ],
}


async def test_an_sla_breach_escalation_shows_the_lead_a_notice_with_a_link(
    browser: Browser, server: LiveServer
) -> None:
    assert server.app is not None
    await server.app[sla_key].save_policies(PolicySet.parse(BREACH_TELLS_THE_LEAD), None)
    lead = await sign_in(await new_context(browser), server, "lead")
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    await visitor_says(visitor, "Still waiting for the invoice")
    conversation_id = await row_with(lead, "waiting for the invoice").get_attribute("data-id")

    notice = lead.get_by_test_id("notice")
    await expect(notice).to_have_attribute("data-kind", "sla.breached")
    await expect(notice).to_contain_text("SLA breached")
    await expect(notice.get_by_test_id("notice-detail")).to_have_text("First response")
    link = notice.get_by_test_id("notice-link")
    await expect(link).to_have_text(f"Open conversation #{conversation_id}")
    await link.click()
    await lead.wait_for_url(f"{server.url}/conversations/{conversation_id}")


async def test_a_follow_up_coming_due_shows_its_operator_a_notice_in_russian(
    browser: Browser, server: LiveServer
) -> None:
    assert server.app is not None and server.staff is not None
    anna = await sign_in(await new_context(browser, locale="ru-RU"), server, "anna")
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    await visitor_says(visitor, "Call me back about the warranty")
    conversation_id = int(await row_with(anna, "about the warranty").get_attribute("data-id") or 0)
    async with server.app[sessions_key]() as session, session.begin():
        session.add(
            FollowUp(
                conversation_id=conversation_id,
                operator_id=server.staff.anna,
                due_at=utcnow() - timedelta(seconds=1),
                note="Ask whether the repair helped",
            )
        )
    await server.app[follow_ups_key].fire_due()

    notice = anna.get_by_test_id("notice")
    await expect(notice).to_have_attribute("data-kind", "follow_up.due")
    await expect(notice).to_contain_text("Пора вернуться к обращению")
    await expect(notice.get_by_test_id("notice-detail")).to_have_text("Ask whether the repair helped")
    await expect(notice.get_by_test_id("notice-link")).to_have_attribute("href", f"/conversations/{conversation_id}")
    await expect(notice.get_by_test_id("notice-link")).to_have_text(
        re.compile(rf"^Открыть обращение #{conversation_id}$")
    )
    await notice.get_by_test_id("notice-dismiss").click()
    await expect(notice).to_have_count(0)
