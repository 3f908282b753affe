"""Operators and teams: who may create and change whom, field allow-lists, sessions revoked on demotion."""

from __future__ import annotations

from typing import Any

import pytest

from lines.console.api.schemas import OperatorList, OperatorOut, TeamList
from tests.api.helpers import Client, auth_headers, bearer, error_of, login, open_conversation
from tests.conftest import Staff

NEW = {"login": "vika", "name": "Vika", "password": "long-enough-1"}


async def create(client: Client, who: str, body: dict[str, Any]) -> Any:
    return await client.post("/api/v1/operators", json=body, headers=await auth_headers(client, who))


async def patch(client: Client, who: str, target: int, body: dict[str, Any]) -> Any:
    return await client.patch(f"/api/v1/operators/{target}", json=body, headers=await auth_headers(client, who))


async def test_everyone_lists_the_operators(client: Client, staff: Staff) -> None:
    response = await client.get("/api/v1/operators", headers=await auth_headers(client, "anna"))
    body = await response.json()
    OperatorList.model_validate(body)
    assert {o["login"] for o in body["operators"]} == {"admin", "lead", "anna", "boris"}
    assert all("password_hash" not in o for o in body["operators"])


async def test_a_lead_creates_an_operator_in_their_team(client: Client, staff: Staff) -> None:
    response = await create(client, "lead", {**NEW, "teams": ["support"], "skills": {"billing": 3}})
    assert response.status == 201
    body = await response.json()
    OperatorOut.model_validate(body)
    assert (body["role"], body["teams"], body["skills"]) == ("operator", ["support"], {"billing": 3})
    assert await login(client, "vika", "long-enough-1")


async def test_a_lead_cannot_create_a_lead(client: Client, staff: Staff) -> None:
    assert await error_of(await create(client, "lead", {**NEW, "role": "lead"})) == (403, "forbidden")


async def test_a_lead_cannot_add_to_a_team_they_are_not_in(client: Client, staff: Staff) -> None:
    await client.post("/api/v1/teams", json={"name": "billing"}, headers=await auth_headers(client, "admin"))
    assert (await create(client, "lead", {**NEW, "teams": ["billing"]})).status == 403


async def test_an_operator_cannot_create_operators(client: Client, staff: Staff) -> None:
    assert await error_of(await create(client, "anna", NEW)) == (403, "forbidden")


async def test_an_admin_creates_any_role(client: Client, staff: Staff) -> None:
    response = await create(client, "admin", {**NEW, "role": "admin"})
    assert response.status == 201 and (await response.json())["role"] == "admin"


async def test_a_taken_login_is_409(client: Client, staff: Staff) -> None:
    assert await error_of(await create(client, "admin", {**NEW, "login": "anna"})) == (409, "login_taken")


async def test_create_refuses_fields_outside_the_allow_list(client: Client, staff: Staff) -> None:
    response = await create(client, "lead", {**NEW, "password_hash": "x", "presence": "online"})
    assert await error_of(response) == (422, "validation_error")


async def test_a_skill_level_outside_1_to_5_is_422(client: Client, staff: Staff) -> None:
    assert (await create(client, "admin", {**NEW, "skills": {"billing": 6}})).status == 422


async def test_an_unknown_team_is_422(client: Client, staff: Staff) -> None:
    assert await error_of(await create(client, "admin", {**NEW, "teams": ["nope"]})) == (422, "unknown_team")


async def test_a_short_password_is_422(client: Client, staff: Staff) -> None:
    assert (await create(client, "admin", {**NEW, "password": "short"})).status == 422


async def test_an_operator_renames_themselves(client: Client, staff: Staff) -> None:
    response = await patch(client, "anna", staff.anna, {"name": "Anna I.", "locale": "ru"})
    body = await response.json()
    assert (response.status, body["name"], body["locale"]) == (200, "Anna I.", "ru")


async def test_an_operator_cannot_change_their_own_role(client: Client, staff: Staff) -> None:
    assert await error_of(await patch(client, "anna", staff.anna, {"role": "admin"})) == (403, "forbidden")


async def test_an_operator_cannot_change_their_own_teams(client: Client, staff: Staff) -> None:
    assert (await patch(client, "anna", staff.anna, {"teams": ["support", "sales"]})).status == 403


async def test_an_operator_cannot_change_someone_else(client: Client, staff: Staff) -> None:
    assert await error_of(await patch(client, "anna", staff.boris, {"name": "B"})) == (403, "forbidden")


async def test_a_lead_sets_skills_and_capacity_of_an_operator(client: Client, staff: Staff) -> None:
    response = await patch(client, "lead", staff.anna, {"skills": {"returns": 5}, "capacity": {"chat": 3, "email": 0}})
    body = await response.json()
    assert (body["skills"], body["capacity"]) == ({"returns": 5}, {"chat": 3, "email": 0})


@pytest.mark.parametrize(
    "body",
    [
        {"skills": {"returns": 0}},
        {"skills": {"returns": 6}},
        {"skills": {"returns": "3"}},
        {"skills": {"Bad skill": 1}},
        {"capacity": {"chat": -1, "email": 10}},
        {"capacity": {"chat": 1001, "email": 10}},
        {"capacity": {"chat": "2", "email": 10}},
        {"capacity": {"chat": 2, "email": 10, "sms": 1}},
    ],
)
async def test_bad_skills_or_capacity_are_422_and_change_nothing(
    client: Client, staff: Staff, body: dict[str, Any]
) -> None:
    assert await error_of(await patch(client, "lead", staff.anna, body)) == (422, "validation_error")
    listed = await (await client.get("/api/v1/operators", headers=await auth_headers(client, "lead"))).json()
    anna = next(o for o in listed["operators"] if o["id"] == staff.anna)
    assert (anna["skills"], anna["capacity"]) == ({}, {"chat": 5, "email": 10})


async def test_a_lead_cannot_change_an_admin(client: Client, staff: Staff) -> None:
    assert (await patch(client, "lead", staff.admin, {"name": "X"})).status == 403


async def test_a_lead_cannot_promote(client: Client, staff: Staff) -> None:
    assert (await patch(client, "lead", staff.anna, {"role": "lead"})).status == 403


async def test_patch_refuses_fields_outside_the_allow_list(client: Client, staff: Staff) -> None:
    response = await patch(client, "admin", staff.anna, {"login": "root"})
    assert await error_of(response) == (422, "validation_error")


async def test_patch_refuses_null_for_a_required_field(client: Client, staff: Staff) -> None:
    assert (await patch(client, "admin", staff.anna, {"name": None})).status == 422


async def test_an_unknown_operator_is_404(client: Client, staff: Staff) -> None:
    assert await error_of(await patch(client, "admin", 424242, {"name": "X"})) == (404, "not_found")


async def test_an_admin_cannot_demote_themselves(client: Client, staff: Staff) -> None:
    response = await patch(client, "admin", staff.admin, {"role": "operator"})
    assert await error_of(response) == (422, "cannot_demote_self")


async def test_a_role_change_revokes_the_operators_sessions(client: Client, staff: Staff) -> None:
    lead_token = await login(client, "lead")
    assert (await patch(client, "admin", staff.lead, {"role": "operator"})).status == 200
    assert (await client.get("/api/v1/me", headers=bearer(lead_token))).status == 401


async def test_deactivation_revokes_the_operators_sessions(client: Client, staff: Staff) -> None:
    anna_token = await login(client, "anna")
    assert (await patch(client, "lead", staff.anna, {"active": False})).status == 200
    assert (await client.get("/api/v1/me", headers=bearer(anna_token))).status == 401


async def test_a_password_change_keeps_my_session_and_ends_the_others(client: Client, staff: Staff) -> None:
    mine, other = bearer(await login(client, "anna")), bearer(await login(client, "anna"))
    response = await client.patch(f"/api/v1/operators/{staff.anna}", json={"password": "new-password-1"}, headers=mine)
    assert response.status == 200
    assert (await client.get("/api/v1/me", headers=mine)).status == 200
    assert (await client.get("/api/v1/me", headers=other)).status == 401
    assert await login(client, "anna", "new-password-1")


async def test_joining_a_team_shows_its_conversations_at_once(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.sales)
    anna = await auth_headers(client, "anna")
    assert (await client.get(f"/api/v1/conversations/{conversation}", headers=anna)).status == 404
    await patch(client, "lead", staff.anna, {"teams": ["support", "sales"]})
    assert (await client.get(f"/api/v1/conversations/{conversation}", headers=anna)).status == 200


async def test_leaving_a_team_hides_its_conversations_at_once(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    anna = await auth_headers(client, "anna")
    await patch(client, "lead", staff.anna, {"teams": []})
    assert (await client.get(f"/api/v1/conversations/{conversation}", headers=anna)).status == 404


async def test_everyone_lists_the_teams(client: Client, staff: Staff) -> None:
    body = await (await client.get("/api/v1/teams", headers=await auth_headers(client, "boris"))).json()
    TeamList.model_validate(body)
    assert [t["name"] for t in body["teams"]] == ["sales", "support"]


async def test_an_admin_creates_a_team(client: Client, staff: Staff) -> None:
    response = await client.post(
        "/api/v1/teams", json={"name": "billing", "title": "Billing"}, headers=await auth_headers(client, "admin")
    )
    assert response.status == 201 and (await response.json())["title"] == "Billing"


async def test_only_admins_create_teams(client: Client, staff: Staff) -> None:
    response = await client.post("/api/v1/teams", json={"name": "billing"}, headers=await auth_headers(client, "lead"))
    assert await error_of(response) == (403, "forbidden")


async def test_a_duplicate_team_is_409(client: Client, staff: Staff) -> None:
    response = await client.post("/api/v1/teams", json={"name": "sales"}, headers=await auth_headers(client, "admin"))
    assert await error_of(response) == (409, "team_exists")


async def test_a_team_name_outside_the_pattern_is_422(client: Client, staff: Staff) -> None:
    response = await client.post(
        "/api/v1/teams", json={"name": "Sales Team!"}, headers=await auth_headers(client, "admin")
    )
    assert (await response.json())["error"]["message"].startswith("name:")


async def patch_team(client: Client, who: str, team: int, body: dict[str, Any]) -> Any:
    return await client.patch(f"/api/v1/teams/{team}", json=body, headers=await auth_headers(client, who))


async def members_of(client: Client, team: str) -> set[str]:
    response = await client.get("/api/v1/operators", headers=await auth_headers(client, "admin"))
    return {o["login"] for o in (await response.json())["operators"] if team in o["teams"]}


async def test_an_admin_renames_a_team_and_sets_its_members(client: Client, staff: Staff) -> None:
    response = await patch_team(client, "admin", staff.support, {"title": "Care", "members": ["anna", "boris"]})
    assert response.status == 200
    assert (await response.json())["title"] == "Care"
    assert await members_of(client, "support") == {"anna", "boris"}  # the lead left, boris joined
    assert await members_of(client, "sales") == {"lead", "boris"}


async def test_an_unknown_member_changes_nothing(client: Client, staff: Staff) -> None:
    response = await patch_team(client, "admin", staff.support, {"title": "Care", "members": ["anna", "ghost"]})
    assert await error_of(response) == (422, "unknown_operator")
    assert "members: ghost" in (await response.json())["error"]["message"]
    teams = await (await client.get("/api/v1/teams", headers=await auth_headers(client, "admin"))).json()
    assert {t["title"] for t in teams["teams"]} == {"Support", "Sales"}
    assert await members_of(client, "support") == {"lead", "anna"}


async def test_an_empty_team_title_is_refused_at_the_field(client: Client, staff: Staff) -> None:
    response = await patch_team(client, "admin", staff.support, {"title": ""})
    assert await error_of(response) == (422, "validation_error")
    assert (await response.json())["error"]["message"].startswith("title:")


async def test_only_admins_change_teams(client: Client, staff: Staff) -> None:
    assert await error_of(await patch_team(client, "lead", staff.support, {"title": "Mine"})) == (403, "forbidden")
