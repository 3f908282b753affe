"""A lead's capacity or skills edit is a routing change: the queue is served at once, the live queue follows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lines.console.api.operators import RoutingView
from lines.console.keys import inbox_key, sessions_key
from lines.console.models import Conversation
from lines.console.settings import Settings
from lines.routing.live import QUEUE_CHANGED
from tests.api.helpers import Client, auth_headers, eventually, inbound
from tests.conftest import Database, Staff, make_settings
from tests.routing.helpers import assignee_of, decisions_of, presence, publish, set_capacity


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    """No periodic sweep during a test: only the edit itself may serve the queue."""
    return make_settings(tmp_path, database, routing={"sweep_seconds": 3600})


async def patch(client: Client, operator_id: int, body: dict[str, Any]) -> None:
    response = await client.patch(
        f"/api/v1/operators/{operator_id}", json=body, headers=await auth_headers(client, "lead")
    )
    assert response.status == 200, await response.text()


async def classified(client: Client, conversation_id: int) -> None:
    """Wait for the routing pass of an arrival: it classifies the conversation, placed or queued."""

    async def done() -> bool:
        async with client.app[sessions_key]() as session:
            found = await session.scalar(select(Conversation.lead_type).where(Conversation.id == conversation_id))
        return found is not None

    await eventually(done)


async def waiting(client: Client, staff: Staff) -> int:
    """Anna is online with no room; a conversation arrives and is queued."""
    await publish(client)
    await set_capacity(client, staff.anna, 0)  # straight in the store: no change job
    await presence(client, "anna", "online")
    result = await client.app[inbox_key].ingest(inbound("my order is late", "visitor-waiting"))
    await classified(client, result.conversation_id)
    assert await assignee_of(client, result.conversation_id) is None
    return result.conversation_id


async def test_raising_capacity_serves_a_waiting_conversation_at_once(client: Client, staff: Staff) -> None:
    conversation = await waiting(client, staff)
    await patch(client, staff.anna, {"capacity": {"chat": 1, "email": 10}})

    async def assigned() -> bool:
        return await assignee_of(client, conversation) == staff.anna

    await eventually(assigned)  # the sweep is an hour away


async def test_deactivating_an_operator_puts_their_open_conversations_back_in_the_queue(
    client: Client, staff: Staff
) -> None:
    await publish(client)
    await presence(client, "anna", "online")
    result = await client.app[inbox_key].ingest(inbound("my order is late", "visitor-held"))

    async def held() -> bool:
        return await assignee_of(client, result.conversation_id) == staff.anna

    await eventually(held)
    response = await client.patch(
        f"/api/v1/operators/{staff.anna}", json={"active": False}, headers=await auth_headers(client, "admin")
    )
    assert response.status == 200 and (await response.json())["presence"] == "offline"

    async def back() -> bool:
        return await assignee_of(client, result.conversation_id) is None

    await eventually(back)  # the sweep is an hour away
    assert "operator_deactivated" in [d.reason for d in await decisions_of(client, result.conversation_id)]


async def test_a_new_skill_serves_a_conversation_that_needs_it(client: Client, staff: Staff) -> None:
    rules = {
        "lead_types": [{"id": "support", "priority": 9, "when": {}}],
        "routes": [
            {"lead_type": "support", "team": "support", "strategy": "least_loaded", "required_skills": {"de": 2}}
        ],
    }
    response = await publish(client, rules)
    assert response.status == 200, await response.text()
    await presence(client, "anna", "online")
    result = await client.app[inbox_key].ingest(inbound("Hallo, wo ist meine Bestellung?", "visitor-de"))
    await classified(client, result.conversation_id)
    assert await assignee_of(client, result.conversation_id) is None
    await patch(client, staff.anna, {"skills": {"de": 3}})

    async def assigned() -> bool:
        return await assignee_of(client, result.conversation_id) == staff.anna

    await eventually(assigned)


async def test_a_capacity_edit_reaches_the_leads_live_queue(client: Client, staff: Staff) -> None:
    await publish(client)
    ws = await client.ws_connect("/api/v1/events", headers=await auth_headers(client, "lead"))
    try:
        assert (await ws.receive_json(timeout=5))["type"] == "hello"
        await patch(client, staff.anna, {"capacity": {"chat": 2, "email": 10}})  # less room: still shown
        while (frame := await ws.receive_json(timeout=5))["type"] != QUEUE_CHANGED:
            pass
        assert frame["data"] == {}
        queue = await client.get("/api/v1/routing/queue", headers=await auth_headers(client, "lead"))
        anna = next(o for o in (await queue.json())["operators"] if o["id"] == staff.anna)
        assert anna["capacity"] == {"chat": 2, "email": 10}
    finally:
        await ws.close()


def view(capacity: dict[str, int], skills: dict[str, int] | None = None, teams: tuple[str, ...] = ()) -> RoutingView:
    return RoutingView(frozenset(teams), skills or {}, capacity, True)


@pytest.mark.parametrize(
    ("before", "after", "more"),
    [
        (view({"chat": 1}), view({"chat": 2}), True),
        (view({"chat": 2}), view({"chat": 1}), False),
        (view({"chat": 2, "email": 5}), view({"chat": 2}), True),  # no capacity for a kind: unlimited
        (view({"chat": 2}), view({"chat": 2, "email": 5}), False),
        (view({"chat": 2}, {"de": 1}), view({"chat": 2}, {"de": 2}), True),
        (view({"chat": 2}, {"de": 2}), view({"chat": 2}, {}), False),
        (view({"chat": 2}, teams=("support",)), view({"chat": 2}, teams=("support", "sales")), True),
        (view({"chat": 2}, teams=("support", "sales")), view({"chat": 2}, teams=("support",)), False),
    ],
)
def test_more_room_means_a_waiting_conversation_may_now_fit(
    before: RoutingView, after: RoutingView, more: bool
) -> None:
    assert after.more_room_than(before) is more
