"""A merge or unmerge tells the consoles of the moved conversations and of both customers' cards."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from lines.console.keys import sessions_key
from lines.console.models import Conversation
from tests.api.helpers import Client, auth_headers
from tests.conftest import Staff
from tests.customers.helpers import customer_says
from tests.test_operator_ws import connect


async def place(client: Client, conversation_id: int, team_id: int, assignee_id: int | None) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(team_id=team_id, assignee_id=assignee_id)
        )


async def drain(ws: Any, wanted: set[str], quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every frame of the `wanted` types until nothing more arrives for `quiet` seconds."""
    frames: list[dict[str, Any]] = []
    while True:
        try:
            received: dict[str, Any] = await ws.receive_json(timeout=quiet)
        except TimeoutError:
            return frames
        if received["type"] in wanted:
            frames.append(received)


WANTED = {"contact.merged", "contact.unmerged", "conversation.updated"}


async def test_merge_and_unmerge_reach_the_consoles_that_show_them(client: Client, staff: Staff) -> None:
    kept = await customer_says(client, "by mail", channel="email", name="Vera Orlova", email="vera@example.com")
    other = await customer_says(client, "by telegram", channel="telegram", name="Vera")
    await place(client, kept.conversation_id, staff.support, staff.anna)
    await place(client, other.conversation_id, staff.support, None)
    anna = await connect(client, "anna")
    boris = await connect(client, "boris")  # sales: sees neither conversation
    lead = await auth_headers(client, "lead")

    response = await client.post(
        f"/api/v1/contacts/{kept.contact_id}/merge", json={"other_id": other.contact_id}, headers=lead
    )
    assert response.status == 200, await response.text()
    merge_id = (await response.json())["merge"]["id"]
    frames = await drain(anna, WANTED)
    updated = [f["data"] for f in frames if f["type"] == "conversation.updated"]
    assert [(c["id"], c["contact"]["id"], c["contact"]["name"]) for c in updated] == [
        (other.conversation_id, kept.contact_id, "Vera Orlova")
    ]
    merged = [f["data"] for f in frames if f["type"] == "contact.merged"]
    assert {c["id"] for m in merged for c in m["conversations"]} == {kept.conversation_id, other.conversation_id}
    assert all(c["contact_id"] == kept.contact_id for m in merged for c in m["conversations"])
    assert {i for m in merged for i in m["moved_ids"]} == {other.conversation_id}
    assert {(m["merge_id"], m["kept_id"], m["merged_id"]) for m in merged} == {
        (merge_id, kept.contact_id, other.contact_id)
    }
    assert await drain(boris, WANTED, quiet=0.2) == []

    response = await client.post(
        f"/api/v1/contacts/{kept.contact_id}/unmerge", json={"merge_id": merge_id}, headers=lead
    )
    assert response.status == 200, await response.text()
    frames = await drain(anna, WANTED)
    updated = [f["data"] for f in frames if f["type"] == "conversation.updated"]
    assert [(c["id"], c["contact"]["id"]) for c in updated] == [(other.conversation_id, other.contact_id)]
    unmerged = [f["data"] for f in frames if f["type"] == "contact.unmerged"]
    placed = {c["id"]: c["contact_id"] for m in unmerged for c in m["conversations"]}
    assert placed == {kept.conversation_id: kept.contact_id, other.conversation_id: other.contact_id}
    assert await drain(boris, WANTED, quiet=0.2) == []
    await anna.close()
    await boris.close()


async def test_a_refused_merge_announces_nothing(client: Client, staff: Staff) -> None:
    one = await customer_says(client, "hello", channel="email", name="A")
    await place(client, one.conversation_id, staff.support, staff.anna)
    anna = await connect(client, "anna")
    lead = await auth_headers(client, "lead")
    response = await client.post(
        f"/api/v1/contacts/{one.contact_id}/merge", json={"other_id": one.contact_id}, headers=lead
    )
    assert response.status == 422
    assert await drain(anna, WANTED, quiet=0.3) == []
    await anna.close()
