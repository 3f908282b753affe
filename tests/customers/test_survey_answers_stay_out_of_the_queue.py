"""A survey answer after resolution is an answer, not a request: no operator and no bot takes it up."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lines.console.changes import ChangeJob, to_payload
from lines.console.keys import processors_key, sessions_key
from lines.console.models import Conversation, Message
from lines.console.settings import Settings
from tests.api.helpers import Client, auth_headers, eventually
from tests.conftest import Database, Staff, make_settings
from tests.customers.conftest import Channels
from tests.customers.helpers import customer_says

EVERYONE_TO_SUPPORT = {
    "lead_types": [{"id": "support", "priority": 9, "when": {}}],
    "routes": [{"lead_type": "support", "team": "support", "strategy": "least_loaded"}],
    "sticky": {"enabled": False, "within_days": 30},
}


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    rules = tmp_path / "routing.json"
    rules.write_text(json.dumps(EVERYONE_TO_SUPPORT), encoding="utf-8")
    return make_settings(
        tmp_path,
        database,
        server={"secret_key": "test-secret-key-0123456789", "public_url": "https://lines.example"},
        customers={"survey": "nps"},
        routing={"rules_file": str(rules)},
    )


async def test_a_typed_survey_answer_is_neither_routed_nor_answered_by_the_bot(
    client: Client, staff: Staff, fakes: Channels
) -> None:
    headers = await auth_headers(client, "anna")
    assert (await client.put("/api/v1/me/presence", json={"status": "online"}, headers=headers)).status == 200
    handled: list[dict[str, Any]] = []

    async def last(job: ChangeJob) -> None:
        handled.append(to_payload(job))

    client.app[processors_key].append(last)  # runs after every part has handled the job
    first = await customer_says(client, "where is my order?", channel="sms", sender="+79004445566")

    async def routed() -> bool:
        async with client.app[sessions_key]() as session:
            return (await session.get(Conversation, first.conversation_id)).assignee_id is not None  # type: ignore[union-attr]

    await eventually(routed)
    response = await client.post(
        f"/api/v1/conversations/{first.conversation_id}/status", json={"status": "resolved"}, headers=headers
    )
    assert response.status == 200

    async def asked() -> bool:
        return any("0" in m.text and "10" in m.text for m in fakes["sms"].sent)

    await eventually(asked)
    answer = await customer_says(client, "9", channel="sms", sender="+79004445566")

    async def fully_handled() -> bool:
        return any(job.get("message_id") == answer.message_id for job in handled)

    await eventually(fully_handled)
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, answer.conversation_id)
        messages = await session.scalar(
            select(func.count()).select_from(Message).where(Message.conversation_id == answer.conversation_id)
        )
    assert conversation is not None
    assert (conversation.status, conversation.assignee_id, conversation.bot_state, messages) == (
        "resolved",
        None,
        None,
        1,
    )
