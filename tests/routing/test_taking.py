"""Capacity limits automatic assignment only: operators take chats themselves over it, unless the team says no."""

from __future__ import annotations

from tests.api.helpers import Client, auth_headers, error_of
from tests.conftest import Staff
from tests.routing.helpers import assignee_of, set_capacity
from tests.routing.test_assigning import arrive


async def take(client: Client, conversation_id: int, who: str, operator_id: int):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/assign",
        json={"operator_id": operator_id},
        headers=await auth_headers(client, who),
    )


async def respect_capacity(client: Client, team_id: int, value: bool) -> None:
    response = await client.patch(
        f"/api/v1/teams/{team_id}", json={"respect_capacity": value}, headers=await auth_headers(client, "admin")
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["respect_capacity"] is value


async def test_an_operator_at_capacity_takes_an_unassigned_chat(client: Client, staff: Staff) -> None:
    await set_capacity(client, staff.anna, 0)
    conversation = await arrive(client)
    response = await take(client, conversation, "anna", staff.anna)
    assert response.status == 200, await response.text()
    assert await assignee_of(client, conversation) == staff.anna


async def test_a_team_that_respects_capacity_refuses_the_take_with_a_code(client: Client, staff: Staff) -> None:
    await respect_capacity(client, staff.support, True)
    await set_capacity(client, staff.anna, 0)
    conversation = await arrive(client)
    assert await error_of(await take(client, conversation, "anna", staff.anna)) == (409, "at_capacity")
    assert await assignee_of(client, conversation) is None


async def test_teams_do_not_respect_capacity_by_default(client: Client, staff: Staff) -> None:
    teams = (await (await client.get("/api/v1/teams", headers=await auth_headers(client, "anna"))).json())["teams"]
    assert {t["name"]: t["respect_capacity"] for t in teams} == {"support": False, "sales": False}


async def test_respect_capacity_must_be_a_boolean(client: Client, staff: Staff) -> None:
    response = await client.patch(
        f"/api/v1/teams/{staff.support}",
        json={"respect_capacity": "sometimes"},
        headers=await auth_headers(client, "admin"),
    )
    assert (await error_of(response))[0] == 422
