"""The inbox: contact resolution, threading, idempotent ingest, events after commit."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from lines.channels.base import ContactInfo, InboundMessage
from lines.console.events import EVENTS_TOPIC
from lines.console.keys import bus_key, inbox_key, sessions_key
from lines.console.models import Contact, Conversation, Message, Status
from tests.conftest import Staff

Client = TestClient[web.Request, web.Application]


def inbound(external_id: str, text: str = "hello", sender: str = "visitor-1", **kw: Any) -> InboundMessage:
    return InboundMessage(
        channel="webchat",
        inbox="demo",
        external_id=external_id,
        sender=ContactInfo(external_id=sender, name="Vera"),
        text=text,
        **kw,
    )


async def count(client: Client, model: Any) -> int:
    async with client.app[sessions_key]() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_the_same_inbound_twice_is_stored_once(client: Client, staff: Staff) -> None:
    first = await client.app[inbox_key].ingest(inbound("m-1"))
    again = await client.app[inbox_key].ingest(inbound("m-1"))
    assert first.created and not again.created
    assert again.message_id == first.message_id
    assert await count(client, Message) == 1


async def test_a_new_contact_opens_a_conversation_in_the_sites_team(client: Client, staff: Staff) -> None:
    result = await client.app[inbox_key].ingest(inbound("m-1", source={"url": "https://shop/x"}))
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, result.conversation_id)
    assert conversation is not None
    assert result.conversation_created
    assert conversation.team_id == staff.support
    assert conversation.status == Status.OPEN
    assert conversation.source == {"url": "https://shop/x"}


async def test_next_messages_thread_into_the_open_conversation(client: Client, staff: Staff) -> None:
    first = await client.app[inbox_key].ingest(inbound("m-1"))
    second = await client.app[inbox_key].ingest(inbound("m-2"))
    assert second.conversation_id == first.conversation_id
    assert not second.conversation_created
    assert await count(client, Contact) == 1


async def test_a_message_after_resolution_opens_a_new_conversation(client: Client, staff: Staff) -> None:
    first = await client.app[inbox_key].ingest(inbound("m-1"))
    async with client.app[sessions_key]() as session, session.begin():
        conversation = await session.get(Conversation, first.conversation_id)
        assert conversation is not None
        conversation.status = Status.RESOLVED
    second = await client.app[inbox_key].ingest(inbound("m-2"))
    assert second.conversation_id != first.conversation_id
    assert second.contact_id == first.contact_id


async def test_a_customer_reply_reopens_a_pending_conversation(client: Client, staff: Staff) -> None:
    first = await client.app[inbox_key].ingest(inbound("m-1"))
    async with client.app[sessions_key]() as session, session.begin():
        conversation = await session.get(Conversation, first.conversation_id)
        assert conversation is not None
        conversation.status = Status.PENDING
    await client.app[inbox_key].ingest(inbound("m-2"))
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, first.conversation_id)
    assert conversation is not None and conversation.status == Status.OPEN


async def test_nul_bytes_are_stripped_and_the_rest_kept(client: Client, staff: Staff) -> None:
    result = await client.app[inbox_key].ingest(inbound("m-1", text="a\x00b"))
    async with client.app[sessions_key]() as session:
        message = await session.get(Message, result.message_id)
    assert message is not None and message.text == "ab"


async def test_html_is_sanitised_before_it_is_stored(client: Client, staff: Staff) -> None:
    html = '<p onclick="x()">hi<script>alert(1)</script><a href="javascript:alert(1)">l</a></p>'
    result = await client.app[inbox_key].ingest(inbound("m-1", html=html))
    async with client.app[sessions_key]() as session:
        message = await session.get(Message, result.message_id)
    assert message is not None and message.html is not None
    assert "script" not in message.html and "onclick" not in message.html and "javascript:" not in message.html


async def test_a_burst_from_a_new_contact_lands_in_one_conversation(client: Client, staff: Staff) -> None:
    results = await asyncio.gather(*(client.app[inbox_key].ingest(inbound(f"m-{i}")) for i in range(20)))
    assert len({r.conversation_id for r in results}) == 1
    assert await count(client, Message) == 20


async def test_events_announce_the_conversation_and_the_message(client: Client, staff: Staff) -> None:
    seen: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def collect(event: dict[str, Any]) -> None:
        seen.append(event)
        if event["type"] == "message.created":
            done.set()

    client.app[bus_key].subscribe(EVENTS_TOPIC, collect)
    await client.app[inbox_key].ingest(inbound("m-1", text="where is my order?"))
    await asyncio.wait_for(done.wait(), 5)
    assert [e["type"] for e in seen] == ["conversation.created", "message.created"]
    assert seen[1]["data"]["text"] == "where is my order?"
    assert seen[1]["audience"]["team_id"] == staff.support


async def test_a_bus_outage_after_the_commit_still_reports_the_message_stored(
    client: Client, staff: Staff, monkeypatch: Any
) -> None:
    async def down(*_args: Any) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(client.app[bus_key], "publish", down)
    monkeypatch.setattr(client.app[bus_key], "enqueue", down)
    result = await client.app[inbox_key].ingest(inbound("m-1", text="still here"))
    assert result.created
    async with client.app[sessions_key]() as session:
        message = await session.get(Message, result.message_id)
    assert message is not None and message.text == "still here"
