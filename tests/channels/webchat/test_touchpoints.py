"""A widget visit's UTM tags, as the widget sends them, reach routing, its preview, the what-if
simulator and the touchpoint map: all read the touchpoint through `console/touchpoint.py`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from lines.console.keys import sessions_key
from lines.console.models import Conversation
from lines.console.touchpoint import touchpoint_fields
from tests.api.helpers import auth_headers, eventually
from tests.channels.webchat.conftest import Client, hello, say
from tests.conftest import Staff
from tests.routing.helpers import assignee_of, presence, publish

NEWSLETTER_PAGE: dict[str, Any] = {
    "url": "https://shop.example/tea?utm_source=newsletter&utm_campaign=spring",
    "referrer": "https://mail.example/",
    "utm": {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring"},
}
RULES: dict[str, Any] = {
    "lead_types": [
        {"id": "newsletter", "priority": 1, "when": {"source": {"utm_source": "newsletter"}}},
        {"id": "support", "priority": 9, "when": {}},
    ],
    "routes": [
        {"lead_type": "newsletter", "team": "sales", "strategy": "round_robin"},
        {"lead_type": "support", "team": "support", "strategy": "least_loaded"},
    ],
}


async def visit(client: Client, page: dict[str, Any], text: str = "Is the green tea in stock?") -> int:
    """A widget visit from `page` that writes one message; the conversation's id."""
    ws, _ = await hello(client, page=page)
    ack = await say(ws, text, str(uuid.uuid4()))
    await ws.close()
    return int(ack["conversation"])


async def online(client: Client, staff: Staff) -> None:
    assert (await publish(client, RULES)).status == 200
    for who in ("anna", "boris"):
        await presence(client, who, "online")


async def test_the_widget_stores_utm_tags_that_read_as_touchpoint_fields(client: Client, staff: Staff) -> None:
    conversation_id = await visit(client, NEWSLETTER_PAGE)
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    fields = touchpoint_fields(conversation.inbox, conversation.source)
    assert (fields["utm_source"], fields["utm_medium"], fields["utm_campaign"]) == ("newsletter", "email", "spring")
    assert fields["url"] == NEWSLETTER_PAGE["url"] and fields["inbox"] == "demo"


async def test_a_rule_on_utm_source_routes_a_widget_visit_to_its_team(client: Client, staff: Staff) -> None:
    await online(client, staff)
    conversation_id = await visit(client, NEWSLETTER_PAGE)
    await eventually(lambda: _assigned(client, conversation_id))
    assert await assignee_of(client, conversation_id) == staff.boris
    async with client.app[sessions_key]() as session:
        lead_type = await session.scalar(select(Conversation.lead_type).where(Conversation.id == conversation_id))
    assert lead_type == "newsletter"


async def test_a_visit_without_the_tag_goes_by_the_other_rules(client: Client, staff: Staff) -> None:
    await online(client, staff)
    conversation_id = await visit(client, {"url": "https://shop.example/tea", "referrer": "", "utm": {}})
    await eventually(lambda: _assigned(client, conversation_id))
    assert await assignee_of(client, conversation_id) == staff.anna


async def test_the_preview_of_the_stored_touchpoint_agrees_with_live_routing(client: Client, staff: Staff) -> None:
    await online(client, staff)
    conversation_id = await visit(client, NEWSLETTER_PAGE)
    await eventually(lambda: _assigned(client, conversation_id))
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    headers = await auth_headers(client, "lead")
    for source in (conversation.source, {"utm_source": "newsletter"}):
        body = {"channel": "webchat", "inbox": "demo", "text": "Is the green tea in stock?", "source": source}
        response = await client.post("/api/v1/routing/preview", json=body, headers=headers)
        assert response.status == 200, await response.text()
        data = await response.json()
        assert (data["lead_type"], data["team"]) == (conversation.lead_type, "sales")


async def test_the_what_if_replay_of_stored_visits_routes_them_as_live_routing_did(
    client: Client, staff: Staff
) -> None:
    await online(client, staff)
    for _ in range(2):
        await visit(client, NEWSLETTER_PAGE)
    await visit(client, {"url": "https://shop.example/tea", "referrer": "", "utm": {}})
    headers = await auth_headers(client, "lead")
    response = await client.post("/api/v1/routing/simulate", json={"sample": "store", "days": 1}, headers=headers)
    assert response.status == 200, await response.text()
    teams = (await response.json())["teams"]
    assert (teams["sales"]["conversations"], teams["support"]["conversations"]) == (2, 1)


async def test_the_touchpoint_map_groups_visits_by_utm_source_and_campaign(client: Client, staff: Staff) -> None:
    await visit(client, NEWSLETTER_PAGE)
    await visit(client, {**NEWSLETTER_PAGE, "url": "https://shop.example/coffee?utm_source=newsletter"})
    await visit(client, {"url": "https://shop.example/tea", "referrer": "", "utm": {}})
    headers = await auth_headers(client, "lead")
    await eventually(lambda: _map_has(client, headers, "utm:newsletter/spring"))
    response = await client.get("/api/v1/reports/touchpoints", headers=headers)
    counts = {t["key"]: t["conversations"] for t in (await response.json())["touchpoints"]}
    assert counts == {"utm:newsletter/spring": 2, "shop.example/tea": 1}


async def _assigned(client: Client, conversation_id: int) -> bool:
    return await assignee_of(client, conversation_id) is not None


async def _map_has(client: Client, headers: dict[str, str], key: str) -> bool:
    response = await client.get("/api/v1/reports/touchpoints", headers=headers)
    return any(t["key"] == key for t in (await response.json())["touchpoints"])
