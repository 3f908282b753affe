"""Priority: operators and leads set it on conversations they may see; the change is checked, told
live, kept as a system note, and re-matches the SLA policy."""

from __future__ import annotations

from typing import Any

import pytest

from lines.console.api.schemas import ConversationOut
from lines.console.keys import sessions_key
from lines.sla.keys import sla_key
from lines.sla.models import ConversationSla
from lines.sla.policies import PolicySet
from tests.api.helpers import Client, auth_headers, error_of, eventually, open_conversation
from tests.api.test_block_sender_events import connect, next_of
from tests.conftest import Staff


async def set_priority(client: Client, who: str, conversation_id: int, priority: Any) -> Any:
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/priority",
        json={"priority": priority},
        headers=await auth_headers(client, who),
    )


async def detail(client: Client, conversation_id: int) -> dict[str, Any]:
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=await auth_headers(client, "admin"))
    body: dict[str, Any] = await response.json()
    return body


@pytest.mark.parametrize("who", ["anna", "lead"])
async def test_an_operator_or_a_lead_sets_the_priority(client: Client, staff: Staff, who: str) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await set_priority(client, who, conversation, "urgent")
    assert response.status == 200, await response.text()
    assert ConversationOut.model_validate(await response.json()).priority == "urgent"
    assert (await detail(client, conversation))["priority"] == "urgent"


async def test_the_change_is_kept_as_a_system_note(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    await set_priority(client, "anna", conversation, "high")
    notes = [m for m in (await detail(client, conversation))["messages"] if m["direction"] == "system"]
    assert [n["text"] for n in notes] == ["Priority changed from normal to high by Anna Ivanova"]


async def test_setting_the_same_priority_again_adds_no_note(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    assert (await set_priority(client, "anna", conversation, "normal")).status == 200
    assert [m for m in (await detail(client, conversation))["messages"] if m["direction"] == "system"] == []


async def test_the_console_hears_the_change_live(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    ws = await connect(client, "lead")
    try:
        await set_priority(client, "anna", conversation, "low")
        updated = (await next_of(ws, "conversation.updated"))["data"]
        assert (updated["id"], updated["priority"]) == (conversation, "low")
    finally:
        await ws.close()


@pytest.mark.parametrize("bad", ["critical", "", None, 3, "URGENT"])
async def test_a_priority_outside_the_four_is_refused(client: Client, staff: Staff, bad: Any) -> None:
    conversation = await open_conversation(client, staff.support)
    assert await error_of(await set_priority(client, "anna", conversation, bad)) == (422, "validation_error")
    assert (await detail(client, conversation))["priority"] == "normal"


async def test_another_teams_operator_cannot_change_it(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    assert await error_of(await set_priority(client, "boris", conversation, "urgent")) == (404, "not_found")
    assert (await detail(client, conversation))["priority"] == "normal"


async def test_a_new_priority_re_matches_the_sla_policy(client: Client, staff: Staff) -> None:
    document = {
        "calendars": [{"id": "24x7", "timezone": "UTC", "always_open": True}],
        "policies": [
            {
                "id": "urgent",
                "applies_to": {"priorities": ["urgent"]},
                "calendar": "24x7",
                "first_response_seconds": 60,
            },
            {"id": "default", "applies_to": {}, "calendar": "24x7", "first_response_seconds": 3600},
        ],
    }
    await client.app[sla_key].save_policies(PolicySet.parse(document), None)
    conversation = await open_conversation(client, staff.support)
    await eventually(lambda: _policy_is(client, conversation, "default"))
    await set_priority(client, "anna", conversation, "urgent")
    await eventually(lambda: _policy_is(client, conversation, "urgent"))


async def _policy_is(client: Client, conversation_id: int, policy_id: str) -> bool:
    async with client.app[sessions_key]() as session:
        record = await session.get(ConversationSla, conversation_id)
        return record is not None and record.policy_id == policy_id
