"""Console pages: countdown badges on rows and the conversation, and the leads' SLA page."""

from __future__ import annotations

from sqlalchemy import select

from lines.console.keys import sessions_key
from lines.console.models import Conversation
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
