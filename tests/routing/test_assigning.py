"""Routing live: arrivals are assigned by the rules, the queue is served as capacity appears."""

from __future__ import annotations

from sqlalchemy import select, update

from lines.console.keys import sessions_key
from lines.console.models import Conversation, Direction, Message
from tests.api.helpers import Client, auth_headers, error_of, eventually, inbound
from tests.conftest import Staff
from tests.routing.helpers import assignee_of, decisions_of, presence, publish, set_capacity


async def arrive(client: Client, text: str = "hello", sender: str = "visitor-1") -> int:
    from lines.console.keys import inbox_key

    result = await client.app[inbox_key].ingest(inbound(text, sender))
    return result.conversation_id


async def assigned_to(client: Client, conversation_id: int, operator_id: int | None) -> None:
    async def check() -> bool:
        return await assignee_of(client, conversation_id) == operator_id

    await eventually(check)


async def test_a_new_conversation_goes_to_an_online_operator_of_the_routed_team(client: Client, staff: Staff) -> None:
    await publish(client)
    await presence(client, "anna", "online")
    conversation = await arrive(client, "my order is late")
    await assigned_to(client, conversation, staff.anna)


async def test_keywords_route_to_the_sales_team(client: Client, staff: Staff) -> None:
    await publish(client)
    await presence(client, "anna", "online")
    await presence(client, "boris", "online")
    conversation = await arrive(client, "Хочу купить диван")
    await assigned_to(client, conversation, staff.boris)


async def test_the_assignment_is_explained_in_the_conversation_and_to_leads(client: Client, staff: Staff) -> None:
    await publish(client)
    await presence(client, "anna", "online")
    conversation = await arrive(client)
    await assigned_to(client, conversation, staff.anna)
    async with client.app[sessions_key]() as session:
        notes = (
            await session.scalars(
                select(Message.text).where(
                    Message.conversation_id == conversation, Message.direction == Direction.SYSTEM
                )
            )
        ).all()
    assert any("Assigned to Anna Ivanova" in note and "lead type support" in note for note in notes)
    response = await client.get(
        f"/api/v1/conversations/{conversation}/routing", headers=await auth_headers(client, "lead")
    )
    decision = (await response.json())["decisions"][0]
    assert decision["reason"] == "routed" and decision["lead_type"] == "support"
    reasons = {c["login"]: c["passed_over"] for c in decision["explanation"]["considered"]}
    assert reasons == {"anna": None, "lead": "offline"}


async def test_nobody_online_leaves_it_waiting_until_someone_comes_online(client: Client, staff: Staff) -> None:
    await publish(client)
    conversation = await arrive(client)
    await eventually(lambda: _decided(client, conversation, 0))
    assert await assignee_of(client, conversation) is None
    await presence(client, "anna", "online")
    await assigned_to(client, conversation, staff.anna)


async def test_a_resolution_frees_capacity_for_the_next_in_line(client: Client, staff: Staff) -> None:
    await publish(client)
    await set_capacity(client, staff.anna, 1)
    await presence(client, "anna", "online")
    first = await arrive(client, sender="first")
    await assigned_to(client, first, staff.anna)
    second = await arrive(client, sender="second")
    await eventually(lambda: _decided(client, second, 0))
    assert await assignee_of(client, second) is None
    response = await client.post(
        f"/api/v1/conversations/{first}/status", json={"status": "resolved"}, headers=await auth_headers(client, "anna")
    )
    assert response.status == 200
    await assigned_to(client, second, staff.anna)


async def test_going_offline_puts_open_chats_back_in_the_queue(client: Client, staff: Staff) -> None:
    await publish(client)
    await presence(client, "anna", "online")
    conversation = await arrive(client)
    await assigned_to(client, conversation, staff.anna)
    await presence(client, "lead", "online")
    await presence(client, "anna", "offline")
    await assigned_to(client, conversation, staff.lead)
    reasons = [d.reason for d in await decisions_of(client, conversation)]
    assert reasons == ["routed", "operator_offline", "requeued"]


async def test_a_returning_customer_goes_back_to_their_operator(client: Client, staff: Staff) -> None:
    await publish(client)
    await presence(client, "anna", "online")
    first = await arrive(client, sender="regular")
    await assigned_to(client, first, staff.anna)
    await client.post(
        f"/api/v1/conversations/{first}/status", json={"status": "resolved"}, headers=await auth_headers(client, "anna")
    )
    await presence(client, "lead", "online")
    second = await arrive(client, sender="regular")
    assert second != first
    await assigned_to(client, second, staff.anna)
    assert (await decisions_of(client, second))[0].reason == "sticky"


async def test_a_conversation_the_bot_is_answering_is_not_routed(client: Client, staff: Staff) -> None:
    await publish(client)
    held = await arrive(client, sender="held")
    # Its arrival job first (the bot passes, routing classifies it and, nobody online, it waits), or
    # the bot, seeing the state set below, would hand it off to routing (a race lost on a loaded machine).
    await eventually(lambda: _classified(client, held))
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == held).values(bot_state="answering"))
    free = await arrive(client, sender="free")
    await eventually(lambda: _classified(client, free))
    await presence(client, "anna", "online")
    await assigned_to(client, free, staff.anna)
    assert await assignee_of(client, held) is None
    assert await decisions_of(client, held) == []


async def test_manual_assignment_over_capacity_is_refused_unless_a_lead_forces_it(client: Client, staff: Staff) -> None:
    await set_capacity(client, staff.anna, 0)
    conversation = await arrive(client)
    url = f"/api/v1/conversations/{conversation}/assign"
    refused = await client.post(
        url, json={"operator_id": staff.anna, "team": "support"}, headers=await auth_headers(client, "lead")
    )
    assert await error_of(refused) == (409, "at_capacity")
    forced = await client.post(
        url,
        json={"operator_id": staff.anna, "team": "support", "force": True},
        headers=await auth_headers(client, "lead"),
    )
    assert forced.status == 200


async def test_operators_cannot_force(client: Client, staff: Staff) -> None:
    conversation = await arrive(client)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/assign",
        json={"operator_id": staff.anna, "team": "support", "force": True},
        headers=await auth_headers(client, "anna"),
    )
    assert await error_of(response) == (403, "forbidden")


async def _decided(client: Client, conversation_id: int, count: int) -> bool:
    """True once the change queue has drained past this conversation (a routing pass ran)."""
    from lines.console.events import CHANGES_QUEUE
    from lines.console.keys import bus_key

    bus = client.app[bus_key]
    queue = bus._queue(CHANGES_QUEUE)  # type: ignore[attr-defined]
    return queue.empty() and len(await decisions_of(client, conversation_id)) == count


async def _classified(client: Client, conversation_id: int) -> bool:
    """True once routing's arrival pass has given the conversation its lead type."""
    async with client.app[sessions_key]() as session:
        lead_type = await session.scalar(select(Conversation.lead_type).where(Conversation.id == conversation_id))
    return lead_type is not None
