"""Canned responses (personal and team, `/shortcut`, variables) and follow-ups (notify, reopen, overdue)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from lines.console.customers.feature import follow_ups_key
from lines.console.keys import sessions_key
from lines.console.models import Conversation, Status, utcnow
from tests.api.helpers import Client, auth_headers, error_of, eventually, open_conversation
from tests.conftest import Staff


async def test_a_personal_response_renders_the_conversations_variables(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support, name="Vera <b>")
    headers = await auth_headers(client, "anna")
    created = await client.post(
        "/api/v1/canned-responses",
        json={"shortcut": "hello", "text": "Hi {{contact.name}}, {{operator.name}} here ({{conversation.number}})."},
        headers=headers,
    )
    assert created.status == 201, await created.text()
    canned_id = (await created.json())["id"]
    rendered = await client.get(
        f"/api/v1/canned-responses/{canned_id}/render",
        params={"conversation_id": str(conversation_id)},
        headers=headers,
    )
    assert (await rendered.json())["text"] == f"Hi Vera <b>, Anna Ivanova here ({conversation_id})."


async def test_the_picker_lists_mine_and_my_teams_by_prefix(client: Client, staff: Staff) -> None:
    lead = await auth_headers(client, "lead")
    anna = await auth_headers(client, "anna")
    boris = await auth_headers(client, "boris")
    for headers, body in (
        (lead, {"shortcut": "refund", "text": "Support refund", "team_id": staff.support}),
        (lead, {"shortcut": "price", "text": "Sales prices", "team_id": staff.sales}),
        (anna, {"shortcut": "regards", "text": "Kind regards"}),
        (boris, {"shortcut": "ready", "text": "Boris's own"}),
    ):
        assert (await client.post("/api/v1/canned-responses", json=body, headers=headers)).status == 201
    listed = await (await client.get("/api/v1/canned-responses", params={"prefix": "re"}, headers=anna)).json()
    assert [c["shortcut"] for c in listed["canned_responses"]] == ["refund", "regards"]


async def test_an_operator_cannot_add_or_change_team_responses(client: Client, staff: Staff) -> None:
    anna = await auth_headers(client, "anna")
    refused = await client.post(
        "/api/v1/canned-responses", json={"shortcut": "x", "text": "y", "team_id": staff.support}, headers=anna
    )
    assert await error_of(refused) == (403, "forbidden")
    lead = await auth_headers(client, "lead")
    made = await (
        await client.post(
            "/api/v1/canned-responses", json={"shortcut": "x", "text": "y", "team_id": staff.support}, headers=lead
        )
    ).json()
    edit = await client.patch(f"/api/v1/canned-responses/{made['id']}", json={"text": "z"}, headers=anna)
    assert await error_of(edit) == (403, "forbidden")
    boris = await auth_headers(client, "boris")
    assert await error_of(await client.delete(f"/api/v1/canned-responses/{made['id']}", headers=boris)) == (
        404,
        "not_found",
    )


async def test_a_shortcut_is_unique_per_owner_and_well_formed(client: Client, staff: Staff) -> None:
    anna = await auth_headers(client, "anna")
    body = {"shortcut": "hi", "text": "Hello"}
    assert (await client.post("/api/v1/canned-responses", json=body, headers=anna)).status == 201
    assert await error_of(await client.post("/api/v1/canned-responses", json=body, headers=anna)) == (
        409,
        "shortcut_exists",
    )
    bad = await client.post("/api/v1/canned-responses", json={"shortcut": "Hi there", "text": "x"}, headers=anna)
    assert await error_of(bad) == (422, "validation_error")


async def test_a_due_follow_up_notifies_and_reopens_a_snoozed_conversation(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support, staff.anna)
    anna = await auth_headers(client, "anna")
    snooze = await client.post(
        f"/api/v1/conversations/{conversation_id}/status",
        json={"status": "snoozed", "until": (utcnow() + timedelta(days=2)).isoformat()},
        headers=anna,
    )
    assert snooze.status == 200
    added = await client.post(
        f"/api/v1/conversations/{conversation_id}/follow-ups",
        json={"due_at": (utcnow() + timedelta(milliseconds=300)).isoformat(), "note": "call back"},
        headers=anna,
    )
    assert added.status == 201, await added.text()

    async def reopened() -> bool:
        async with client.app[sessions_key]() as session:
            status = await session.scalar(select(Conversation.status).where(Conversation.id == conversation_id))
        return status == Status.OPEN

    await eventually(reopened)
    overdue = await (await client.get("/api/v1/follow-ups", params={"overdue": "true"}, headers=anna)).json()
    assert [f["note"] for f in overdue["follow_ups"]] == ["call back"]
    assert overdue["follow_ups"][0]["fired_at"] is not None
    assert await client.app[follow_ups_key].fire_due() == []  # fired once
    done = await client.post(f"/api/v1/follow-ups/{overdue['follow_ups'][0]['id']}/done", headers=anna)
    assert (await done.json())["done_at"] is not None
    assert (await (await client.get("/api/v1/follow-ups", headers=anna)).json())["follow_ups"] == []


async def test_follow_ups_need_a_visible_conversation_and_a_future_time(client: Client, staff: Staff) -> None:
    theirs = await open_conversation(client, staff.sales)
    anna = await auth_headers(client, "anna")
    later = (utcnow() + timedelta(hours=1)).isoformat()
    hidden = await client.post(f"/api/v1/conversations/{theirs}/follow-ups", json={"due_at": later}, headers=anna)
    assert await error_of(hidden) == (404, "not_found")
    mine = await open_conversation(client, staff.support)
    past = (utcnow() - timedelta(hours=1)).isoformat()
    assert await error_of(
        await client.post(f"/api/v1/conversations/{mine}/follow-ups", json={"due_at": past}, headers=anna)
    ) == (422, "validation_error")


async def test_signature_variable_is_mine_or_else_the_teams(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support)
    lead, anna = await auth_headers(client, "lead"), await auth_headers(client, "anna")
    team = await client.put(f"/api/v1/teams/{staff.support}/signature", json={"text": "Support team"}, headers=lead)
    assert team.status == 200, await team.text()
    made = await (
        await client.post(
            "/api/v1/canned-responses", json={"shortcut": "bye", "text": "Bye!\n{{signature}}"}, headers=anna
        )
    ).json()
    url = f"/api/v1/canned-responses/{made['id']}/render"
    params = {"conversation_id": str(conversation_id)}
    assert (await (await client.get(url, params=params, headers=anna)).json())["text"] == "Bye!\nSupport team"
    await client.put("/api/v1/signatures/mine", json={"text": "Anna, support"}, headers=anna)
    assert (await (await client.get(url, params=params, headers=anna)).json())["text"] == "Bye!\nAnna, support"
    assert (await (await client.get("/api/v1/signatures", headers=anna)).json()) == {
        "mine": "Anna, support",
        "teams": {str(staff.support): "Support team"},
    }


async def test_an_operator_cannot_set_a_team_signature(client: Client, staff: Staff) -> None:
    anna = await auth_headers(client, "anna")
    response = await client.put(f"/api/v1/teams/{staff.support}/signature", json={"text": "x"}, headers=anna)
    assert await error_of(response) == (403, "forbidden")
