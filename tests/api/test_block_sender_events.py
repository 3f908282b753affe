"""Blocking a sender tells every console showing one of their conversations, and only what it may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from lines.console.api.schemas import ConversationDetail
from lines.console.keys import sessions_key
from lines.console.models import Conversation, Status
from tests.api.helpers import Client, auth_headers, open_conversation, say
from tests.conftest import Staff

SENDER = "visitor-spam"


async def connect(client: Client, who: str) -> Any:
    ws = await client.ws_connect("/api/v1/events", headers=await auth_headers(client, who))
    assert (await ws.receive_json(timeout=5))["type"] == "hello"
    return ws


async def next_of(ws: Any, type_: str) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=5)
        if frame["type"] == type_:
            return frame


async def two_conversations(client: Client, staff: Staff) -> tuple[int, int]:
    """The same sender's resolved conversation in support and their open one in sales."""
    first = await open_conversation(client, staff.support, sender=SENDER, text="buy followers")
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == first).values(status=Status.RESOLVED))
    second = await say(client, SENDER, "buy more followers")
    assert second != first
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == second).values(team_id=staff.sales))
    return first, second


async def block(client: Client, conversation_id: int, blocked: bool) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/block-sender",
        json={"blocked": blocked},
        headers=await auth_headers(client, "lead"),
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_each_audience_hears_sender_state_for_the_conversations_it_may_see(client: Client, staff: Staff) -> None:
    support, sales = await two_conversations(client, staff)
    anna, boris, lead = [await connect(client, who) for who in ("anna", "boris", "lead")]
    try:
        answer = await block(client, support, blocked=True)
        to_anna = (await next_of(anna, "sender.state"))["data"]
        to_boris = (await next_of(boris, "sender.state"))["data"]
        to_lead = [(await next_of(lead, "sender.state"))["data"] for _ in range(2)]
        assert to_anna["conversation_ids"] == [support]  # anna (support) never hears of the sales one
        assert to_boris["conversation_ids"] == [sales]
        assert sorted(d["conversation_ids"][0] for d in to_lead) == sorted([support, sales])
        expected = {**answer, "by": {"id": staff.lead, "login": "lead", "name": "Lena Lead"}}
        assert {k: v for k, v in to_anna.items() if k != "conversation_ids"} == expected
        assert to_anna["state"] == "blocked" and to_anna["channel"] == "loopback"

        await block(client, sales, blocked=False)
        assert (await next_of(boris, "sender.state"))["data"]["state"] == "active"
        assert (await next_of(anna, "sender.state"))["data"]["state"] == "active"
    finally:
        for ws in (anna, boris, lead):
            await ws.close()


async def test_a_conversation_read_says_whether_its_sender_is_blocked(client: Client, staff: Staff) -> None:
    support, _ = await two_conversations(client, staff)
    headers = await auth_headers(client, "anna")

    async def sender_state() -> Any:
        body = await (await client.get(f"/api/v1/conversations/{support}", headers=headers)).json()
        ConversationDetail.model_validate(body)
        return body["sender_state"]

    assert await sender_state() == "active"
    await block(client, support, blocked=True)
    assert await sender_state() == "blocked"
