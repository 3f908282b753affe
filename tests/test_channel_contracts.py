"""What the core lends adapters beyond ingest: cursors, delivery receipts, reachability, automated sends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from lines.console.app import AppChannelContext
from lines.console.automated import Button, send_automated
from lines.console.changes import ChangeJob, to_payload
from lines.console.keys import channels_key, events_key, outbox_key, processors_key, sessions_key
from lines.console.models import Message
from lines.console.settings import Settings
from tests.api.helpers import Client, auth_headers, eventually, open_conversation
from tests.conftest import Database, Staff, make_settings
from tests.loopback import LoopbackChannel


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database, outbox={"backoff_base_seconds": 0.1, "backoff_max_seconds": 0.5})


@pytest.fixture
def loopback(app: web.Application) -> LoopbackChannel:
    channel = LoopbackChannel()
    app[channels_key][(channel.kind, channel.name)] = channel
    return channel


@pytest.fixture
def jobs(app: web.Application) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def record(job: ChangeJob) -> None:
        seen.append(to_payload(job))

    app[processors_key].append(record)
    return seen


@pytest.fixture
async def client(
    app: web.Application,
    loopback: LoopbackChannel,
    jobs: list[dict[str, Any]],
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(app)


async def stored(client: Client, message_id: int) -> Message:
    async with client.app[sessions_key]() as session:
        found = await session.get(Message, message_id)
    assert found is not None
    return found


async def reply(client: Client, conversation: int, text: str = "On its way") -> int:
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": text, "private": False},
        headers=await auth_headers(client, "anna"),
    )
    assert response.status == 201, await response.text()
    return int((await response.json())["id"])


async def test_a_channel_cursor_survives_in_the_store(client: Client) -> None:
    context = AppChannelContext(client.app)
    assert await context.load_state("email", "support", "cursor") is None
    await context.save_state("email", "support", "cursor", {"uidvalidity": 7, "last_uid": 41})
    await context.save_state("email", "support", "cursor", {"uidvalidity": 7, "last_uid": 42})
    assert await context.load_state("email", "support", "cursor") == {"uidvalidity": 7, "last_uid": 42}
    assert await context.load_state("email", "other", "cursor") is None


async def test_a_delivery_report_moves_a_sent_message_forward_only(
    client: Client, staff: Staff, loopback: LoopbackChannel
) -> None:
    loopback.fail_permanently = False
    conversation = await open_conversation(client, staff.support)
    sent = await reply(client, conversation)

    async def sent_out() -> bool:
        return (await stored(client, sent)).external_id is not None

    await eventually(sent_out)
    context = AppChannelContext(client.app)
    external = (await stored(client, sent)).external_id
    assert external is not None
    assert await context.record_receipt("loopback", "test", external, "read") == sent
    assert await context.record_receipt("loopback", "test", external, "sent") == sent
    assert (await stored(client, sent)).delivery_status == "read"


async def test_a_failure_report_marks_the_message_failed_and_tells_the_operators(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    sent = await reply(client, conversation)

    async def sent_out() -> bool:
        return (await stored(client, sent)).external_id is not None

    await eventually(sent_out)
    external = (await stored(client, sent)).external_id
    assert external is not None
    await AppChannelContext(client.app).record_receipt("loopback", "test", external, "failed", "mailbox full")
    message = await stored(client, sent)
    assert (message.delivery_status, message.delivery_error) == ("failed", "mailbox full")
    async with client.app[sessions_key]() as session:
        notes = (await session.scalars(select(Message.text).where(Message.direction == "system"))).all()
    assert notes == [f"Message #{sent} could not be delivered: mailbox full"]


async def test_a_receipt_for_an_unknown_message_changes_nothing(client: Client) -> None:
    assert await AppChannelContext(client.app).record_receipt("loopback", "test", "nope", "delivered") is None


async def test_the_outbox_refuses_to_write_to_an_opted_out_identity(
    client: Client, staff: Staff, loopback: LoopbackChannel
) -> None:
    conversation = await open_conversation(client, staff.support, sender="+79990001122")
    contact = await AppChannelContext(client.app).set_identity_state(
        "loopback", "test", "+79990001122", "opted_out", "replied STOP"
    )
    assert contact is not None
    sent = await reply(client, conversation)

    async def failed() -> bool:
        return (await stored(client, sent)).delivery_status == "failed"

    await eventually(failed)
    assert loopback.sent == []
    assert (await stored(client, sent)).delivery_error == "the contact is opted out on loopback: replied STOP"


async def test_an_automated_message_goes_out_with_its_buttons_and_is_queued_as_a_bot_reply(
    client: Client, staff: Staff, loopback: LoopbackChannel, jobs: list[dict[str, Any]]
) -> None:
    conversation = await open_conversation(client, staff.support)
    app = client.app
    message_id = await send_automated(
        app[sessions_key],
        app[events_key],
        app[outbox_key].notify,
        conversation,
        "Did this help?",
        buttons=(Button("yes", "Yes"), Button("operator", "Talk to an operator")),
    )

    async def delivered() -> bool:
        return bool(loopback.sent)

    await eventually(delivered)
    sent = loopback.sent[0]
    assert (sent.message_id, sent.author_kind, sent.extra["buttons"]) == (
        message_id,
        "bot",
        [{"id": "yes", "label": "Yes"}, {"id": "operator", "label": "Talk to an operator"}],
    )

    async def queued() -> bool:
        return any(job["kind"] == "reply" and job["message_id"] == message_id for job in jobs)

    await eventually(queued)


async def test_an_automated_message_needs_text(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    app = client.app
    with pytest.raises(ValueError, match="empty"):
        await send_automated(app[sessions_key], app[events_key], app[outbox_key].notify, conversation, "  ")


async def test_operator_actions_are_queued_as_change_jobs(
    client: Client, staff: Staff, jobs: list[dict[str, Any]]
) -> None:
    conversation = await open_conversation(client, staff.support)
    headers = await auth_headers(client, "anna")
    sent = await reply(client, conversation)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/status", json={"status": "resolved"}, headers=headers
    )
    assert response.status == 200, await response.text()

    async def all_queued() -> bool:
        return {job["kind"] for job in jobs} >= {"inbound", "reply", "status"}

    await eventually(all_queued)
    by_kind = {job["kind"]: job for job in jobs}
    assert by_kind["reply"] == {
        "kind": "reply",
        "conversation_id": conversation,
        "message_id": sent,
        "author_kind": "operator",
    }
    assert by_kind["status"] == {
        "kind": "status",
        "conversation_id": conversation,
        "status": "resolved",
        "previous": "open",
    }
