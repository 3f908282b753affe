"""`/api/v1/sla/policies` and `/api/v1/sla/report`: leads manage, everyone else is refused."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from lines.console.keys import sessions_key
from lines.console.models import Conversation
from lines.console.settings import Settings
from lines.sla.keys import sla_key
from lines.sla.policies import load_seed
from tests.api.helpers import Client, auth_headers, error_of, eventually, open_conversation
from tests.conftest import Database, Staff, make_settings


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    """The packaged seed, config/sla.json, as a fresh installation has it."""
    return make_settings(tmp_path, database, sla={"policies_file": ""})


async def test_leads_read_the_seeded_policies(client: Client, staff: Staff) -> None:
    response = await client.get("/api/v1/sla/policies", headers=await auth_headers(client, "lead"))
    assert response.status == 200
    body = await response.json()
    assert [p["id"] for p in body["policies"]] == ["vip", "default"]
    assert [c["id"] for c in body["calendars"]] == ["msk-office", "24x7"]


async def test_operators_may_not_read_or_change_policies(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "anna")
    assert await error_of(await client.get("/api/v1/sla/policies", headers=headers)) == (403, "forbidden")
    response = await client.put("/api/v1/sla/policies", json=load_seed(), headers=headers)
    assert await error_of(response) == (403, "forbidden")


async def test_saving_policies_recomputes_open_conversations(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support)
    headers = await auth_headers(client, "lead")

    async def has_sla() -> bool:
        response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)
        body: dict[str, Any] = await response.json()
        return body.get("conversation", body)["sla"] is not None

    await eventually(has_sla)
    document = load_seed()
    document["policies"][1]["calendar"] = "24x7"
    document["policies"][1]["first_response_seconds"] = 7
    response = await client.put("/api/v1/sla/policies", json=document, headers=headers)
    assert response.status == 202, await response.text()
    assert (await response.json())["recomputing"] is True

    async def seven_seconds() -> bool:  # recomputed in the background (tests/sla/test_recompute.py)
        response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)
        body = await response.json()
        sla = body.get("conversation", body)["sla"]
        due = datetime.fromisoformat(sla["due_at"])
        return due - datetime.fromisoformat(body["created_at"]) == timedelta(seconds=7)

    await eventually(seven_seconds)


async def test_a_policy_naming_an_unknown_calendar_is_refused(client: Client, staff: Staff) -> None:
    document = copy.deepcopy(load_seed())
    document["policies"][0]["calendar"] = "mars"
    response = await client.put("/api/v1/sla/policies", json=document, headers=await auth_headers(client, "admin"))
    status, code = await error_of(response)
    assert (status, code) == (422, "validation_error")


async def test_a_calendar_with_a_bad_shift_is_refused(client: Client, staff: Staff) -> None:
    document = copy.deepcopy(load_seed())
    document["calendars"][0]["week"]["mon"] = ["nine-to-five"]
    response = await client.put("/api/v1/sla/policies", json=document, headers=await auth_headers(client, "admin"))
    assert await error_of(response) == (422, "validation_error")


async def test_the_report_counts_conversations_per_team(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support)
    headers = await auth_headers(client, "lead")

    async def counted() -> bool:
        response = await client.get("/api/v1/sla/report", headers=headers)
        assert response.status == 200, await response.text()
        groups = (await response.json())["compliance"]["groups"]
        return any(g["key"] == "support" and g["total"] == 1 for g in groups["team"])

    await eventually(counted)
    response = await client.get("/api/v1/sla/report", headers=headers)
    body = await response.json()
    assert body["breaches"] == []
    assert conversation_id > 0


async def test_the_report_refuses_a_reversed_range(client: Client, staff: Staff) -> None:
    response = await client.get(
        "/api/v1/sla/report?date_from=2026-11-20&date_to=2026-11-01", headers=await auth_headers(client, "lead")
    )
    assert await error_of(response) == (422, "validation_error")


async def test_the_list_sorts_by_the_nearest_sla_deadline(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "lead")
    document = load_seed()
    document["policies"] = [
        {"id": "vip", "applies_to": {"lead_types": ["vip"]}, "calendar": "24x7", "first_response_seconds": 60},
        {"id": "rest", "applies_to": {}, "calendar": "24x7", "first_response_seconds": 3600},
    ]
    assert (await client.put("/api/v1/sla/policies", json=document, headers=headers)).status == 202
    urgent = await open_conversation(client, staff.support)  # older, so last by recent activity
    relaxed = await open_conversation(client, staff.support)
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Conversation).where(Conversation.id == urgent).values(lead_type="vip"))
    await client.app[sla_key].recompute_all()

    response = await client.get("/api/v1/conversations?sort=sla", headers=headers)
    assert response.status == 200
    ids = [c["id"] for c in (await response.json())["conversations"]]
    assert ids.index(urgent) < ids.index(relaxed)
    response = await client.get("/api/v1/conversations?sla_state=breached", headers=headers)
    assert (await response.json())["conversations"] == []
