"""A new policy document: the PUT answers at once, the deadlines follow in the background, in
batches, once per version, and a worker that dies half-way leaves the rest to the next one."""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lines.console.app import create_app
from lines.console.keys import events_key, sessions_key
from lines.console.models import Conversation
from lines.sla.keys import sla_key, sla_recompute_key
from lines.sla.models import ConversationSla, SlaPolicyDocument
from lines.sla.recompute import Recompute
from tests.api.helpers import Client, auth_headers, eventually, open_conversation
from tests.conftest import Database, Staff, make_settings, seed_staff
from tests.sla.test_app import AppClient, Recorder

QUICKER: dict[str, Any] = {
    "calendars": [{"id": "24x7", "timezone": "UTC", "always_open": True}],
    "policies": [{"id": "quicker", "applies_to": {}, "calendar": "24x7", "first_response_seconds": 600}],
}


async def deadlines(client: Client, ids: list[int]) -> dict[int, tuple[str | None, Any]]:
    async with client.app[sessions_key]() as session:
        rows = await session.execute(
            select(ConversationSla.conversation_id, ConversationSla.policy_id, Conversation.sla_due_at)
            .join(Conversation, Conversation.id == ConversationSla.conversation_id)
            .where(ConversationSla.conversation_id.in_(ids))
        )
        return {cid: (policy, due) for cid, policy, due in rows.all()}


async def all_under(client: Client, ids: list[int], policy: str) -> bool:
    found = await deadlines(client, ids)
    return len(found) == len(ids) and all(p == policy for p, _due in found.values())


async def marker(client: Client) -> SlaPolicyDocument:
    async with client.app[sessions_key]() as session:
        row = await session.get(SlaPolicyDocument, 1, populate_existing=True)
    assert row is not None
    return row


async def open_many(client: Client, staff: Staff, count: int) -> list[int]:
    ids = [await open_conversation(client, staff.support) for _ in range(count)]
    await eventually(lambda: all_under(client, ids, "default"))
    return ids


async def test_the_put_answers_at_once_and_the_deadlines_follow(client: Client, staff: Staff) -> None:
    ids = await open_many(client, staff, 3)
    recorder = Recorder(client.app)
    headers = await auth_headers(client, "lead")
    response = await client.put("/api/v1/sla/policies", json=QUICKER, headers=headers)
    assert response.status == 202, await response.text()
    body = await response.json()
    assert body["recomputing"] is True and body["version"] == 2
    assert [p["id"] for p in body["policies"]] == ["quicker"]

    await eventually(lambda: all_under(client, ids, "quicker"))
    for conversation_id, (_policy, due) in (await deadlines(client, ids)).items():
        async with client.app[sessions_key]() as session:
            created = await session.scalar(select(Conversation.created_at).where(Conversation.id == conversation_id))
        assert created is not None and due == created + timedelta(seconds=600)

    async def finished() -> bool:
        return (await marker(client)).recompute_version is None

    await eventually(finished)
    after = await (await client.get("/api/v1/sla/policies", headers=headers)).json()
    assert (after["version"], after["recomputing"]) == (2, False)
    assert [e["data"] for e in recorder.of_type("sla.recomputed")] == [{"version": 2}]
    assert recorder.of_type("sla.updated") == []  # quiet per conversation, one announcement at the end


async def test_a_bad_document_is_refused_with_a_json_pointer_and_nothing_changes(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "lead")
    before = await (await client.get("/api/v1/sla/policies", headers=headers)).json()
    cases: list[tuple[dict[str, Any], str]] = []
    unknown = copy.deepcopy(QUICKER)
    unknown["policies"][0]["calendar"] = "mars"
    cases.append((unknown, "/policies/0/calendar: unknown calendar 'mars'"))
    negative = copy.deepcopy(QUICKER)
    negative["policies"][0]["first_response_seconds"] = -5
    cases.append((negative, "/policies/0/first_response_seconds: "))
    bad_shift = copy.deepcopy(QUICKER)
    bad_shift["calendars"].append({"id": "office", "timezone": "UTC", "week": {"mon": ["nine-to-five"]}})
    cases.append((bad_shift, "/calendars/1: "))
    twice = copy.deepcopy(QUICKER)
    twice["policies"].append(dict(twice["policies"][0]))
    cases.append((twice, "/policies/1/id: 'quicker' is already the id of another policy"))
    cases.append(({"policies": []}, "/calendars: Field required"))
    cases.append(({**QUICKER, "holidays": "RU"}, "/holidays: Extra inputs are not permitted"))
    cases.append(({**QUICKER, "calendars": "24x7"}, "/calendars: Input should be a valid list"))
    for document, expected in cases:
        response = await client.put("/api/v1/sla/policies", json=document, headers=headers)
        body = await response.json()
        assert response.status == 422, body
        assert body["error"]["code"] == "validation_error"
        assert body["error"]["message"].startswith(expected), body
    assert await (await client.get("/api/v1/sla/policies", headers=headers)).json() == before
    assert (await marker(client)).recompute_version is None


async def test_a_worker_that_dies_half_way_leaves_the_rest_to_the_next(client: Client, staff: Staff) -> None:
    ids = await open_many(client, staff, 5)
    await client.app[sla_recompute_key].stop()  # this test plays the workers itself
    headers = await auth_headers(client, "lead")
    assert (await client.put("/api/v1/sla/policies", json=QUICKER, headers=headers)).status == 202
    service, sessions, events = client.app[sla_key], client.app[sessions_key], client.app[events_key]

    dying = Recompute(service, sessions, events, interval=60, batch=2, lease_seconds=0.3)
    original = dying._advance
    calls = 0

    async def crash_after_the_first_batch(version: int, cursor: int, finished: bool) -> bool:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise RuntimeError("killed")
        return await original(version, cursor, finished)

    dying._advance = crash_after_the_first_batch  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await dying.tick()
    row = await marker(client)
    assert (row.recompute_version, row.recompute_cursor) == (2, ids[1])
    found = await deadlines(client, ids)
    assert [found[i][0] for i in ids[:4]] == ["quicker"] * 4  # two batches done, one recorded
    assert found[ids[4]][0] == "default"

    successor = Recompute(service, sessions, events, interval=60, batch=2)
    assert await successor.tick() == 0  # the dead worker's lease still holds
    await asyncio.sleep(0.4)
    assert await successor.tick() == 3  # from the recorded cursor: the unrecorded batch again, then the rest
    assert await all_under(client, ids, "quicker")
    assert (await marker(client)).recompute_version is None
    assert await successor.tick() == 0  # done once


async def test_a_restart_mid_recompute_still_finishes(
    tmp_path: Path, database: Database, aiohttp_client: AppClient, password_hash: str
) -> None:
    settings = make_settings(tmp_path, database)
    first = await aiohttp_client(create_app(settings))
    staff = await seed_staff(first.app, password_hash)
    ids = await open_many(first, staff, 4)
    await first.app[sla_recompute_key].stop()  # "down" before it got to the work
    headers = await auth_headers(first, "lead")
    assert (await first.put("/api/v1/sla/policies", json=QUICKER, headers=headers)).status == 202
    assert await all_under(first, ids[:1], "default")
    await first.close()

    second = await aiohttp_client(create_app(settings))
    await eventually(lambda: all_under(second, ids, "quicker"))

    async def finished() -> bool:
        return (await marker(second)).recompute_version is None

    await eventually(finished)
    await second.close()
