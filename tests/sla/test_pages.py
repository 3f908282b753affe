"""Console pages: countdown badges on rows and the conversation, and the leads' SLA page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from lines.console.events import EVENTS_TOPIC
from lines.console.keys import bus_key, sessions_key
from lines.console.models import Conversation, utcnow
from tests.api.helpers import Client, eventually, open_conversation
from tests.conftest import Staff
from tests.test_views import login


async def has_sla(client: Client, conversation_id: int) -> bool:
    async with client.app[sessions_key]() as session:
        state = await session.scalar(select(Conversation.sla_state).where(Conversation.id == conversation_id))
    return state is not None


async def test_inbox_rows_and_the_conversation_page_carry_a_countdown_badge(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support, staff.anna)
    await eventually(lambda: has_sla(client, conversation_id))
    await login(client, "anna")
    inbox = await (await client.get("/")).text()
    assert 'data-testid="sla-badge"' in inbox and "data-sla-due=" in inbox
    page = await (await client.get(f"/conversations/{conversation_id}")).text()
    assert 'data-testid="sla-badge"' in page
    assert "sla.js" in page


async def test_leads_see_the_sla_page_with_compliance_per_team(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support)
    await eventually(lambda: has_sla(client, conversation_id))
    await login(client, "lead")
    response = await client.get("/sla", headers={"Accept-Language": "ru"})
    assert response.status == 200
    html = await response.text()
    assert "Соблюдение SLA" in html
    assert 'data-testid="sla-group-team"' in html and "support" in html
    assert 'data-testid="sla-no-breaches"' in html


async def test_operators_do_not_get_the_sla_page(client: Client, staff: Staff) -> None:
    await login(client, "anna")
    assert (await client.get("/sla")).status == 404
    assert 'data-testid="nav-sla"' not in await (await client.get("/")).text()


async def set_due(client: Client, conversation_id: int, state: str, due_in_minutes: int) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(sla_state=state, sla_due_at=utcnow() + timedelta(minutes=due_in_minutes))
        )


async def test_the_inbox_sorts_by_the_nearest_deadline_and_filters_by_sla_state(client: Client, staff: Staff) -> None:
    late = await open_conversation(client, staff.support, staff.anna, text="late one")
    soon = await open_conversation(client, staff.support, staff.anna, text="soon one")
    calm = await open_conversation(client, staff.support, staff.anna, text="calm one")
    for conversation_id in (late, soon, calm):
        await eventually(lambda conversation_id=conversation_id: has_sla(client, conversation_id))  # type: ignore[misc]
    await set_due(client, late, "breached", -5)
    await set_due(client, soon, "warning", 3)
    await set_due(client, calm, "ok", 50)
    await login(client, "anna")

    html = await (await client.get("/?sort=sla")).text()
    assert html.index("late one") < html.index("soon one") < html.index("calm one")
    assert 'value="sla" selected' in html
    recent = await (await client.get("/")).text()
    assert recent.index("calm one") < recent.index("soon one") < recent.index("late one")

    warning = await (await client.get("/?sla_state=warning")).text()
    assert "soon one" in warning and "late one" not in warning and "calm one" not in warning
    assert 'data-count="all">1<' in warning
    breached = await (await client.get("/?sla_state=breached&sort=sla")).text()
    assert "late one" in breached and "soon one" not in breached
    # The tabs keep the order and the filter.
    assert "sort=sla&amp;sla_state=breached" in breached
    counts = await (await client.get("/inbox/counts?sla_state=breached")).json()
    assert counts["all"] == 1
    # Unknown values fall back to the defaults, like the status filter.
    fallback = await client.get("/?sort=bogus&sla_state=%27x")
    assert fallback.status == 200
    assert "calm one" in await fallback.text()


async def test_a_new_deadline_is_announced_to_consoles(client: Client, staff: Staff) -> None:
    """`conversation.created` goes out before the SLA part has run, so the deadline follows."""
    seen: list[dict[str, Any]] = []

    async def collect(payload: dict[str, Any]) -> None:
        seen.append(payload)

    unsubscribe = client.app[bus_key].subscribe(EVENTS_TOPIC, collect)
    try:
        conversation_id = await open_conversation(client, staff.support, staff.anna)

        async def announced() -> bool:
            return any(e["type"] == "sla.updated" and e["data"]["conversation_id"] == conversation_id for e in seen)

        await eventually(announced)
    finally:
        unsubscribe()
    event = next(e for e in seen if e["type"] == "sla.updated")
    assert event["data"]["sla"]["state"] == "ok" and event["data"]["sla"]["due_at"]
