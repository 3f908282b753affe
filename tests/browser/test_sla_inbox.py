"""SLA in the live inbox: rows pushed over the socket carry the countdown, warnings and breaches
recolour it, and the SLA filter and order hold for rows that arrive or change live."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from lines.sla.keys import sla_key
from lines.sla.policies import PolicySet
from tests.browser.conftest import LiveServer, new_context, sign_in
from tests.browser.test_console import open_widget, row_with, visitor_says

pytestmark = pytest.mark.browser

FAST: dict[str, Any] = {
    "calendars": [{"id": "24x7", "timezone": "UTC", "always_open": True}],
    "policies": [
        {"id": "fast", "applies_to": {}, "calendar": "24x7", "first_response_seconds": 4, "warn_at": 0.4},
    ],
}
MINUTE: dict[str, Any] = {
    "calendars": [{"id": "24x7", "timezone": "UTC", "always_open": True}],
    "policies": [{"id": "minute", "applies_to": {}, "calendar": "24x7", "first_response_seconds": 60}],
}


async def test_a_live_row_gets_its_countdown_without_a_reload(browser: Browser, server: LiveServer) -> None:
    console = await sign_in(await new_context(browser), server, "anna")
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)

    await visitor_says(visitor, "Is the blue kettle in stock?")
    row = row_with(console, "blue kettle")
    await expect(row).to_have_count(1)
    badge = row.get_by_test_id("sla-badge")
    await expect(badge).to_have_attribute("data-sla-state", "ok")
    await expect(badge).to_have_attribute("data-sla-due", re.compile(r"^\d{4}-\d\d-\d\dT"))
    await expect(badge).to_have_text(re.compile(r"^due in \d+ [dhm]( \d+ [hm])?$"))  # sla.js ticks it like a served one


async def test_warning_and_breach_move_rows_in_and_out_of_the_sla_filters(browser: Browser, server: LiveServer) -> None:
    assert server.app is not None
    await server.app[sla_key].save_policies(PolicySet.parse(FAST), None)
    context = await new_context(browser)
    everything = await sign_in(context, server, "anna")
    warning = await context.new_page()
    await warning.goto(f"{server.url}/?sla_state=warning&sort=sla")
    await warning.wait_for_function("() => document.body.dataset.connected === 'true'")
    breached = await context.new_page()
    await breached.goto(f"{server.url}/?sla_state=breached")
    await breached.wait_for_function("() => document.body.dataset.connected === 'true'")
    await expect(warning.get_by_test_id("sla-filter")).to_have_value("warning")
    await expect(warning.get_by_test_id("sort-select")).to_have_value("sla")

    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    await visitor_says(visitor, "My parcel never arrived")

    # On track: only the unfiltered inbox lists it, with a green countdown.
    await expect(row_with(everything, "parcel never arrived").get_by_test_id("sla-badge")).to_have_attribute(
        "data-sla-state", "ok"
    )
    await expect(row_with(warning, "parcel never arrived")).to_have_count(0)
    await expect(row_with(breached, "parcel never arrived")).to_have_count(0)

    # The warning fires: the warning view gains the row (fetched whole), already coloured.
    in_warning = row_with(warning, "parcel never arrived")
    await expect(in_warning).to_have_count(1)
    await expect(in_warning.get_by_test_id("sla-badge")).to_have_class(re.compile(r"\bsla-warning\b"))

    # The breach fires: it leaves the warning view and enters the breached one.
    in_breached = row_with(breached, "parcel never arrived")
    await expect(in_breached).to_have_count(1)
    await expect(in_breached.get_by_test_id("sla-badge")).to_have_attribute("data-sla-state", "breached")
    await expect(in_warning).to_have_count(0)
    await expect(row_with(everything, "parcel never arrived").get_by_test_id("sla-badge")).to_have_class(
        re.compile(r"\bsla-breached\b")
    )


async def test_resolving_stops_the_countdown_live_and_after_a_reload(browser: Browser, server: LiveServer) -> None:
    assert server.app is not None
    await server.app[sla_key].save_policies(PolicySet.parse(MINUTE), None)
    console = await sign_in(await new_context(browser), server, "anna")
    visitor = await (await new_context(browser)).new_page()
    await open_widget(visitor, server)
    await visitor_says(visitor, "Nobody answered about the refund")
    await row_with(console, "answered about the refund").click()
    await console.wait_for_url(re.compile(r"/conversations/\d+$"))
    await console.wait_for_function("() => document.body.dataset.connected === 'true'")
    badge = console.get_by_test_id("sla-badge")
    await expect(badge).to_have_attribute("data-sla-due", re.compile(r"^\d{4}-"))

    await console.get_by_test_id("resolve").click()
    await expect(badge).to_have_attribute("data-sla-state", "met")
    await expect(badge).not_to_have_attribute("data-sla-due", re.compile(".*"))
    await expect(badge).to_have_text("SLA met")  # a label, not a ticking time

    await console.reload()
    await expect(console.get_by_test_id("sla-badge")).to_have_text("SLA met")
    await expect(console.get_by_test_id("sla-badge")).not_to_have_attribute("data-sla-due", re.compile(".*"))
    conversation_id = console.url.rsplit("/", 1)[1]
    api = await console.request.get(f"{server.url}/api/v1/conversations/{conversation_id}")
    assert (await api.json())["sla"] == {"state": "met", "due_at": None}
