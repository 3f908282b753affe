"""Snoozed conversations reopen when their time comes, once, with an event."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from lines.console.changes import ChangeJob, to_payload
from lines.console.keys import sessions_key, snooze_key
from lines.console.models import Conversation, Status, utcnow
from tests.api.helpers import Client, open_conversation
from tests.conftest import Staff


async def snooze(client: Client, conversation_id: int, seconds: float) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        conversation.status = Status.SNOOZED
        conversation.snoozed_until = utcnow() + timedelta(seconds=seconds)


async def status_of(client: Client, conversation_id: int) -> str:
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, conversation_id)
    assert conversation is not None
    return conversation.status


async def test_a_conversation_whose_snooze_ended_reopens(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support)
    await snooze(client, conversation_id, -1)
    assert await client.app[snooze_key].wake_due() == [conversation_id]
    assert await status_of(client, conversation_id) == Status.OPEN


async def test_a_conversation_still_snoozed_stays_snoozed(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support)
    await snooze(client, conversation_id, 3600)
    assert await client.app[snooze_key].wake_due() == []
    assert await status_of(client, conversation_id) == Status.SNOOZED


class RecordingEvents:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.changes: list[tuple[str, dict[str, Any]]] = []

    async def send(self, type_: str, data: dict[str, Any], audience: Any) -> None:
        self.sent.append((type_, data))

    async def change(self, job: ChangeJob) -> None:
        data = to_payload(job)
        self.changes.append((data.pop("kind"), data))


async def test_waking_is_announced_once_even_if_two_wakers_race(client: Client, staff: Staff) -> None:
    conversation_id = await open_conversation(client, staff.support)
    await snooze(client, conversation_id, -1)
    waker = client.app[snooze_key]
    announced = RecordingEvents()
    waker._events = announced  # what the waker itself announces, not what the bot or SLA add after
    woken = await asyncio.gather(waker.wake_due(), waker.wake_due())
    assert sorted(len(w) for w in woken) == [0, 1]
    assert [(kind, data["id"], data["status"]) for kind, data in announced.sent] == [
        ("conversation.updated", conversation_id, "open")
    ]
    assert announced.changes == [
        ("status", {"conversation_id": conversation_id, "status": "open", "previous": "snoozed"})
    ]
