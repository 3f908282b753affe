"""Replies leave through the outbox: delivered, retried with backoff, or failed loudly; notes never leave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from lines.channels.base import DeliveryReceipt, OutboundMessage
from lines.console.events import EVENTS_TOPIC
from lines.console.keys import bus_key, channels_key, sessions_key
from lines.console.models import Conversation, Message, OutboxItem
from lines.console.settings import Settings
from tests.api.helpers import Client, auth_headers, eventually, open_conversation
from tests.conftest import Database, Staff, make_settings
from tests.loopback import LoopbackChannel

MAX_ATTEMPTS = 4


class RecordingLoopback(LoopbackChannel):
    """Also remembers when each attempt was made, failed or not."""

    kind: ClassVar[str] = "loopback"

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[float] = []

    async def _send(self, message: OutboundMessage) -> DeliveryReceipt:
        self.attempts.append(time.monotonic())
        return await super()._send(message)


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(
        tmp_path,
        database,
        outbox={"max_attempts": MAX_ATTEMPTS, "backoff_base_seconds": 0.1, "backoff_max_seconds": 1.0},
    )


@pytest.fixture
def loopback(app: web.Application) -> RecordingLoopback:
    channel = RecordingLoopback()
    app[channels_key][(channel.kind, channel.name)] = channel
    return channel


@pytest.fixture
async def client(
    app: web.Application,
    loopback: RecordingLoopback,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(app)


async def reply(client: Client, conversation: int, text: str = "On its way!", private: bool = False) -> int:
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": text, "private": private},
        headers=await auth_headers(client, "anna"),
    )
    assert response.status == 201, await response.text()
    return int((await response.json())["id"])


async def message(client: Client, message_id: int) -> Message:
    async with client.app[sessions_key]() as session:
        found = await session.get(Message, message_id)
    assert found is not None
    return found


async def outbox_rows(client: Client) -> list[OutboxItem]:
    async with client.app[sessions_key]() as session:
        return list((await session.scalars(select(OutboxItem))).all())


def delivery_status(client: Client, message_id: int, wanted: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await message(client, message_id)).delivery_status == wanted

    return check


async def test_a_reply_reaches_the_conversations_channel(
    client: Client, staff: Staff, loopback: RecordingLoopback
) -> None:
    conversation = await open_conversation(client, staff.support, sender="vera")
    sent_id = await reply(client, conversation)
    await eventually(delivery_status(client, sent_id, "delivered"))
    assert [(m.message_id, m.text, m.recipient.external_id) for m in loopback.sent] == [
        (sent_id, "On its way!", "vera")
    ]
    stored = await message(client, sent_id)
    assert (stored.external_id, stored.sent_at is not None) == (f"loop-{sent_id}", True)
    assert [(row.message_id, row.status, row.attempts) for row in await outbox_rows(client)] == [(sent_id, "done", 1)]


async def test_the_delivery_is_announced_to_the_console(client: Client, staff: Staff) -> None:
    updates: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        if event["type"] == "message.updated":
            updates.append(event["data"])

    client.app[bus_key].subscribe(EVENTS_TOPIC, collect)
    sent_id = await reply(client, await open_conversation(client, staff.support))

    async def announced() -> bool:
        return any(u["id"] == sent_id and u["delivery_status"] == "delivered" for u in updates)

    await eventually(announced)


async def test_a_temporary_failure_is_retried_with_backoff_then_delivered(
    client: Client, staff: Staff, loopback: RecordingLoopback
) -> None:
    loopback.fail_temporarily = 2
    sent_id = await reply(client, await open_conversation(client, staff.support))
    await eventually(delivery_status(client, sent_id, "delivered"))
    assert len(loopback.attempts) == 3 and len(loopback.sent) == 1
    first_wait, second_wait = (b - a for a, b in zip(loopback.attempts, loopback.attempts[1:], strict=False))
    assert first_wait >= 0.09 and second_wait >= 0.19  # base, then twice the base
    assert (await message(client, sent_id)).delivery_error is None


async def test_a_permanent_failure_fails_the_message_notes_it_and_reopens(
    client: Client, staff: Staff, loopback: RecordingLoopback
) -> None:
    conversation = await open_conversation(client, staff.support)
    headers = await auth_headers(client, "anna")
    await client.post(f"/api/v1/conversations/{conversation}/status", json={"status": "pending"}, headers=headers)
    loopback.fail_permanently = True
    sent_id = await reply(client, conversation)
    await eventually(delivery_status(client, sent_id, "failed"))
    assert len(loopback.attempts) == 1
    failed = await message(client, sent_id)
    assert failed.delivery_error == "recipient does not exist"
    async with client.app[sessions_key]() as session:
        notes = (await session.scalars(select(Message).where(Message.direction == "system"))).all()
        state = await session.get(Conversation, conversation)
    assert len(notes) == 1 and f"#{sent_id}" in notes[0].text and "recipient does not exist" in notes[0].text
    assert state is not None and state.status == "open"


async def test_a_message_fails_once_its_attempts_are_used_up(
    client: Client, staff: Staff, loopback: RecordingLoopback
) -> None:
    loopback.fail_temporarily = 100
    sent_id = await reply(client, await open_conversation(client, staff.support))
    await eventually(delivery_status(client, sent_id, "failed"))
    await asyncio.sleep(0.3)  # no further attempt comes
    assert len(loopback.attempts) == MAX_ATTEMPTS
    assert [(row.status, row.attempts) for row in await outbox_rows(client)] == [("failed", MAX_ATTEMPTS)]


async def test_a_private_note_never_reaches_the_outbox(
    client: Client, staff: Staff, loopback: RecordingLoopback
) -> None:
    note_id = await reply(client, await open_conversation(client, staff.support), "internal: VIP", private=True)
    await asyncio.sleep(0.3)  # several outbox polls
    assert await outbox_rows(client) == []
    assert loopback.attempts == [] and loopback.sent == []
    stored = await message(client, note_id)
    assert (stored.direction, stored.delivery_status) == ("note", "sent")


async def test_each_reply_gets_exactly_one_outbox_row(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    ids = [await reply(client, conversation, f"part {i}") for i in range(3)]
    for sent_id in ids:
        await eventually(delivery_status(client, sent_id, "delivered"))
    async with client.app[sessions_key]() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxItem)) == 3
