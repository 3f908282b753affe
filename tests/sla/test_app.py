"""End to end inside the app: a 3-second 24x7 policy warns, breaches and escalates, once, across a restart."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from lines.console.app import create_app
from lines.console.changes import ChangeJob, to_payload
from lines.console.keys import bus_key, inbox_key, processors_key, sessions_key
from lines.console.models import Conversation
from lines.console.settings import Settings
from lines.sla.models import SlaEvent
from tests.api.helpers import Client, auth_headers, eventually, inbound, open_conversation
from tests.conftest import Database, Staff, make_settings, seed_staff

AppClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]

QUICK = {
    "calendars": [{"id": "24x7", "timezone": "UTC", "always_open": True}],
    "policies": [
        {
            "id": "quick",
            "applies_to": {},
            "calendar": "24x7",
            "first_response_seconds": 3,
            "warn_at": 0.5,
            "escalations": [
                {"on": "warning", "notify": ["assignee"]},
                {"on": "breached", "notify": ["lead"], "raise_priority": True, "reassign": "team"},
            ],
        }
    ],
}


def quick_settings(tmp_path: Path, database: Database, redis_url: str = "") -> Settings:
    policies = tmp_path / "sla.json"
    policies.write_text(json.dumps(QUICK), encoding="utf-8")
    return make_settings(
        tmp_path,
        database,
        redis_url,
        sla={"policies_file": str(policies), "timer_tick_seconds": 0.05, "sweep_seconds": 0.5},
    )


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return quick_settings(tmp_path, database)


class Recorder:
    """Operator events and change jobs the app produced."""

    def __init__(self, app: web.Application) -> None:
        self.events: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []

        async def on_event(payload: dict[str, Any]) -> None:
            self.events.append(payload)

        async def on_job(job: ChangeJob) -> None:
            self.jobs.append(to_payload(job))

        app[bus_key].subscribe("events", on_event)
        app[processors_key].append(on_job)

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type_]


async def fired(client: Client, conversation_id: int) -> list[tuple[str, str]]:
    async with client.app[sessions_key]() as session:
        rows = await session.execute(
            select(SlaEvent.target, SlaEvent.kind)
            .where(SlaEvent.conversation_id == conversation_id)
            .order_by(SlaEvent.id)
        )
        return [(t, k) for t, k in rows.all()]


async def test_a_three_second_policy_warns_breaches_and_escalates(client: Client, staff: Staff) -> None:
    recorder = Recorder(client.app)
    conversation_id = await open_conversation(client, staff.support, staff.anna)

    async def breached() -> bool:
        return ("first_response", "breached") in await fired(client, conversation_id)

    await eventually(breached)
    await asyncio.sleep(0.3)  # nothing more may fire
    assert await fired(client, conversation_id) == [("first_response", "warning"), ("first_response", "breached")]
    assert len(recorder.of_type("sla.warning")) == 1
    assert len(recorder.of_type("sla.breached")) == 1
    notices = [(n["data"]["kind"], n["audience"]["operator_ids"]) for n in recorder.of_type("notification")]
    assert notices == [("sla.warning", [staff.anna]), ("sla.breached", [staff.lead])]
    requeues = [j for j in recorder.jobs if j["kind"] == "requeue"]
    assert requeues == [
        {"kind": "requeue", "conversation_id": conversation_id, "reason": "sla_breached:first_response"}
    ]
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        assert (conversation.sla_state, conversation.priority) == ("breached", "high")


async def test_the_api_shows_the_deadline_and_state_of_a_conversation(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support, staff.anna)
    headers = await auth_headers(client, "anna")

    async def has_deadline() -> bool:
        response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)
        body = await response.json()
        return body.get("conversation", body).get("sla") is not None

    await eventually(has_deadline)
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=headers)
    body = await response.json()
    sla = body.get("conversation", body)["sla"]
    assert sla["state"] in ("ok", "warning")
    assert sla["due_at"] is not None


async def test_a_deadline_passed_while_down_fires_once_after_restart(
    tmp_path: Path, database: Database, aiohttp_client: AppClient, password_hash: str
) -> None:
    first = await aiohttp_client(create_app(quick_settings(tmp_path, database)))
    staff = await seed_staff(first.app, password_hash)
    conversation_id = await open_conversation(first, staff.support, staff.anna)

    async def warned() -> bool:
        return ("first_response", "warning") in await fired(first, conversation_id)

    await eventually(warned)
    await first.close()
    await asyncio.sleep(2.0)  # the deadline passes while nothing runs

    second = await aiohttp_client(create_app(quick_settings(tmp_path, database)))
    recorder = Recorder(second.app)

    async def breached() -> bool:
        return ("first_response", "breached") in await fired(second, conversation_id)

    await eventually(breached)
    await asyncio.sleep(0.3)
    assert await fired(second, conversation_id) == [("first_response", "warning"), ("first_response", "breached")]
    assert len(recorder.of_type("sla.warning")) == 0
    await second.close()


async def test_a_customer_date_in_2099_does_not_move_the_deadline(client: Client, staff: Staff) -> None:
    """A sender-supplied date never moves an SLA timer."""
    message = replace(inbound("from the future"), received_at=datetime(2099, 1, 1, tzinfo=UTC))
    before = datetime.now(UTC)
    result = await client.app[inbox_key].ingest(message)

    async def due_at() -> datetime | None:
        async with client.app[sessions_key]() as session:
            return await session.scalar(
                select(Conversation.sla_due_at).where(Conversation.id == result.conversation_id)
            )

    async def has_due() -> bool:
        return await due_at() is not None

    await eventually(has_due)
    due = await due_at()
    assert due is not None and before < due < datetime.now(UTC) + timedelta(seconds=4)
