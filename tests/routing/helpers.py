"""Publishing rules, setting presence and reading conversations for the routing tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from lines.console.keys import sessions_key
from lines.console.models import Conversation, Operator
from lines.routing.models import RoutingDecision
from tests.api.helpers import Client, auth_headers

RULES: dict[str, Any] = {
    "lead_types": [
        {"id": "sales", "priority": 2, "when": {"keywords_any": ["купить", "price"]}},
        {"id": "support", "priority": 9, "when": {}},
    ],
    "routes": [
        {"lead_type": "sales", "team": "sales", "strategy": "round_robin"},
        {"lead_type": "support", "team": "support", "strategy": "least_loaded"},
    ],
    "sticky": {"enabled": True, "within_days": 30},
}


async def publish(client: Client, rules: dict[str, Any] | None = None, who: str = "lead") -> Any:
    response = await client.put(
        "/api/v1/routing/rules", json={"rules": rules or RULES}, headers=await auth_headers(client, who)
    )
    return response


async def presence(client: Client, who: str, value: str) -> None:
    response = await client.put("/api/v1/me/presence", json={"status": value}, headers=await auth_headers(client, who))
    assert response.status == 200, await response.text()


async def set_capacity(client: Client, operator_id: int, chat: int) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Operator).where(Operator.id == operator_id).values(capacity={"chat": chat, "email": 10})
        )


async def assignee_of(client: Client, conversation_id: int) -> int | None:
    async with client.app[sessions_key]() as session:
        return await session.scalar(select(Conversation.assignee_id).where(Conversation.id == conversation_id))


async def decisions_of(client: Client, conversation_id: int) -> list[RoutingDecision]:
    async with client.app[sessions_key]() as session:
        rows = await session.scalars(
            select(RoutingDecision)
            .where(RoutingDecision.conversation_id == conversation_id)
            .order_by(RoutingDecision.id)
        )
        return list(rows.all())
