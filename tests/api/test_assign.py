"""Assignment: one winner when two take at once, assignees stay in the conversation's team."""

from __future__ import annotations

import asyncio

from tests.api.helpers import Client, auth_headers, error_of, open_conversation
from tests.conftest import Staff


async def assign(client: Client, who: str, conversation: int, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    response = await client.post(
        f"/api/v1/conversations/{conversation}/assign", json=body, headers=await auth_headers(client, who)
    )
    return response.status, await response.json()


async def test_taking_a_conversation_assigns_it_to_me(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    status, body = await assign(client, "anna", conversation, {"operator_id": staff.anna})
    assert status == 200 and body["assignee"] == {"id": staff.anna, "login": "anna", "name": "Anna Ivanova"}


async def test_two_concurrent_takes_have_one_winner(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    anna, lead = await auth_headers(client, "anna"), await auth_headers(client, "lead")
    url = f"/api/v1/conversations/{conversation}/assign"
    responses = await asyncio.gather(
        client.post(url, json={"operator_id": staff.anna}, headers=anna),
        client.post(url, json={"operator_id": staff.lead}, headers=lead),
    )
    assert sorted(r.status for r in responses) == [200, 409]
    loser = next(r for r in responses if r.status == 409)
    winner = next(r for r in responses if r.status == 200)
    winner_name = (await winner.json())["assignee"]["name"]
    body = await loser.json()
    assert body["error"]["code"] == "conflict" and winner_name in body["error"]["message"]


async def test_taking_what_someone_else_holds_is_409_naming_them(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, staff.anna)
    status, body = await assign(client, "lead", conversation, {"operator_id": staff.lead})
    assert status == 409 and "Anna Ivanova" in str(body)


async def test_a_lead_takes_over_when_naming_the_current_holder(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, staff.anna)
    status, body = await assign(
        client, "lead", conversation, {"operator_id": staff.lead, "expected_assignee_id": staff.anna}
    )
    assert status == 200 and body["assignee"]["id"] == staff.lead  # type: ignore[index]


async def test_a_stale_expected_assignee_is_409(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, staff.lead)
    status, _ = await assign(
        client, "admin", conversation, {"operator_id": staff.anna, "expected_assignee_id": staff.anna}
    )
    assert status == 409


async def test_the_assignee_must_be_in_the_conversations_team(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response_status, body = await assign(client, "lead", conversation, {"operator_id": staff.boris, "team": "support"})
    assert (response_status, body["error"]["code"]) == (422, "not_in_team")  # type: ignore[index]


async def test_assigning_someone_of_one_other_team_moves_the_conversation_there(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    status, body = await assign(client, "lead", conversation, {"operator_id": staff.boris})
    assert status == 200
    assert body["team"]["name"] == "sales" and body["assignee"]["id"] == staff.boris  # type: ignore[index]


async def test_an_operator_cannot_hand_work_to_another_team(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    status, body = await assign(client, "anna", conversation, {"operator_id": staff.boris})
    assert (status, body["error"]["code"]) == (403, "forbidden")  # type: ignore[index]


async def test_operator_id_null_unassigns(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, staff.anna)
    status, body = await assign(client, "anna", conversation, {"operator_id": None})
    assert status == 200 and body["assignee"] is None


async def test_a_team_move_keeps_an_assignee_who_is_a_member(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, staff.lead)
    status, body = await assign(client, "lead", conversation, {"team": "sales"})
    assert status == 200 and body["assignee"]["id"] == staff.lead  # type: ignore[index]


async def test_a_team_move_with_null_operator_unassigns(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support, staff.lead)
    status, body = await assign(client, "lead", conversation, {"team": "sales", "operator_id": None})
    assert status == 200 and body["assignee"] is None and body["team"]["name"] == "sales"  # type: ignore[index]


async def test_an_unknown_team_is_422(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    status, body = await assign(client, "lead", conversation, {"team": "nope"})
    assert (status, body["error"]["code"]) == (422, "unknown_team")  # type: ignore[index]


async def test_an_unknown_operator_is_422(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    status, body = await assign(client, "lead", conversation, {"operator_id": 424242})
    assert (status, body["error"]["code"]) == (422, "unknown_operator")  # type: ignore[index]


async def test_an_empty_assignment_is_422(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/assign", json={}, headers=await auth_headers(client, "anna")
    )
    assert await error_of(response) == (422, "validation_error")
