"""Reply-by, queue notices, hand-offs and requeues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from lines.console.changes import Handoff, Requeue
from lines.console.keys import events_key, sessions_key
from lines.console.models import Conversation
from lines.routing.engine import reply_due
from lines.routing.keys import router_key
from tests.api.helpers import Client, auth_headers, eventually
from tests.conftest import Staff
from tests.loopback import LoopbackChannel
from tests.routing.helpers import RULES, assignee_of, decisions_of, presence, publish, set_capacity
from tests.routing.test_assigning import arrive, assigned_to

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REPLY_BY = {
    **RULES,
    "routes": [RULES["routes"][0], {"lead_type": "support", "team": "support", "reply_within_seconds": 60}],
}


def test_the_reply_deadline_is_the_routes_reply_by_time() -> None:
    assert reply_due(T0, 60, None) == T0 + timedelta(seconds=60)


def test_a_near_sla_breach_brings_the_reply_deadline_forward() -> None:
    assert reply_due(T0, 60, T0 + timedelta(seconds=40)) == T0 + timedelta(seconds=25)


def test_the_reply_deadline_never_comes_sooner_than_a_quarter_of_the_reply_by_time() -> None:
    assert reply_due(T0, 60, T0) == T0 + timedelta(seconds=15)


async def test_an_operator_who_does_not_reply_in_time_loses_the_conversation(client: Client, staff: Staff) -> None:
    await publish(client, REPLY_BY)
    await presence(client, "anna", "online")
    conversation = await arrive(client)
    await assigned_to(client, conversation, staff.anna)
    await presence(client, "lead", "online")
    router = client.app[router_key]
    assert await router.reply_overdue(datetime.now(UTC) + timedelta(seconds=30)) == []
    made = await router.reply_overdue(datetime.now(UTC) + timedelta(seconds=61))
    assert [(o.conversation_id, o.operator_id, o.reason) for o in made] == [(conversation, staff.lead, "reply_overdue")]
    last = (await decisions_of(client, conversation))[-1]
    assert last.explanation["previous_operator_id"] == staff.anna
    assert any(c["passed_over"] == "did_not_reply_in_time" for c in last.explanation["considered"])


async def test_an_operator_who_replied_keeps_the_conversation(client: Client, staff: Staff) -> None:
    await publish(client, REPLY_BY)
    await presence(client, "anna", "online")
    conversation = await arrive(client)
    await assigned_to(client, conversation, staff.anna)
    await presence(client, "lead", "online")
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "Looking into it", "private": False},
        headers=await auth_headers(client, "anna"),
    )
    assert response.status in (200, 201)
    assert await client.app[router_key].reply_overdue(datetime.now(UTC) + timedelta(seconds=61)) == []


async def test_without_another_candidate_the_operator_keeps_it(client: Client, staff: Staff) -> None:
    await publish(client, REPLY_BY)
    await presence(client, "anna", "online")
    conversation = await arrive(client)
    await assigned_to(client, conversation, staff.anna)
    assert await client.app[router_key].reply_overdue(datetime.now(UTC) + timedelta(seconds=61)) == []
    assert await assignee_of(client, conversation) == staff.anna


async def test_a_waiting_customer_is_told_their_place_in_the_queue(
    client: Client, staff: Staff, loopback: LoopbackChannel
) -> None:
    await publish(client, {**RULES, "queue_notice": {"enabled": True, "seconds_per_position": 120}})
    await arrive(client, sender="first")
    await arrive(client, sender="second")

    async def told_twice() -> bool:
        return len(loopback.sent) == 2

    await eventually(told_twice)
    texts = sorted(m.text for m in loopback.sent)
    assert "number 1 in line" in texts[0] and "about 2 min" in texts[0]
    assert "number 2 in line" in texts[1] and "about 4 min" in texts[1]


async def test_the_place_is_not_repeated_unless_it_changed_a_lot(
    client: Client, staff: Staff, loopback: LoopbackChannel
) -> None:
    await publish(client, {**RULES, "queue_notice": {"enabled": True}})
    conversation = await arrive(client)
    await eventually(lambda: _sent(loopback, 1))
    assert await client.app[router_key].tell_position(conversation) is False


async def test_a_handoff_from_the_bot_is_routed(client: Client, staff: Staff) -> None:
    await publish(client)
    conversation = await arrive(client)
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == conversation).values(bot_state="answering"))
    await presence(client, "anna", "online")
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation).where(Conversation.id == conversation).values(bot_state="handed_off")
        )
    await client.app[events_key].change(Handoff(conversation_id=conversation, reason="customer asked for a human"))
    await assigned_to(client, conversation, staff.anna)


async def test_a_requeue_moves_the_conversation_to_the_team_given(client: Client, staff: Staff) -> None:
    await publish(client)
    await presence(client, "anna", "online")
    conversation = await arrive(client)
    await assigned_to(client, conversation, staff.anna)
    await set_capacity(client, staff.anna, 5)
    await presence(client, "boris", "online")
    await client.app[events_key].change(Requeue(conversation_id=conversation, reason="sla_escalation", team="sales"))
    await assigned_to(client, conversation, staff.boris)
    reasons = [d.reason for d in await decisions_of(client, conversation)]
    assert reasons == ["routed", "sla_escalation", "routed"]


async def _sent(loopback: LoopbackChannel, count: int) -> bool:
    return len(loopback.sent) == count


async def test_a_conversation_requeued_to_another_team_waits_there(client: Client, staff: Staff) -> None:
    await publish(client)
    await presence(client, "anna", "online")
    conversation = await arrive(client)
    await assigned_to(client, conversation, staff.anna)
    await client.app[events_key].change(Requeue(conversation_id=conversation, reason="sla_escalation", team="sales"))
    await assigned_to(client, conversation, None)
    assert await client.app[router_key].serve_queue() == []
    await presence(client, "boris", "online")
    await assigned_to(client, conversation, staff.boris)


async def test_a_customer_is_told_again_when_their_place_moved(
    client: Client, staff: Staff, loopback: LoopbackChannel
) -> None:
    await publish(client, {**RULES, "queue_notice": {"enabled": True, "notify_again_when_moved": 1}})
    await set_capacity(client, staff.anna, 1)
    first = await arrive(client, sender="first")
    await arrive(client, sender="second")
    await eventually(lambda: _sent(loopback, 2))
    await presence(client, "anna", "online")
    await assigned_to(client, first, staff.anna)
    assert await client.app[router_key].retell_positions(10) == 1
    await eventually(lambda: _sent(loopback, 3))
    assert "number 1 in line" in loopback.sent[-1].text
