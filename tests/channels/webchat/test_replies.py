"""Replies reach the visitor live and after a reconnect; notes never do; typing goes both ways."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import select

from lines.channels.base import ContactInfo, OutboundMessage, PermanentDeliveryError
from lines.channels.webchat.adapter import WebchatChannel
from lines.channels.webchat.hub import WEBCHAT_TOPIC
from lines.console.events import EVENTS_TOPIC, Audience
from lines.console.keys import bus_key, channels_key, events_key, sessions_key
from lines.console.models import DeliveryStatus, Message
from tests.api.helpers import eventually
from tests.channels.webchat.conftest import (
    Client,
    hello,
    nothing_more,
    receive,
    reply,
    say,
)
from tests.conftest import Staff


def cid() -> str:
    return str(uuid.uuid4())


async def delivered(client: Client, message_id: int) -> bool:
    async with client.app[sessions_key]() as session:
        message = await session.get(Message, message_id, populate_existing=True)
    return message is not None and message.delivery_status == DeliveryStatus.SENT


async def test_a_reply_reaches_the_connected_visitor(client: Client, staff: Staff) -> None:
    ws, _ = await hello(client)
    ack = await say(ws, "Where is my order?", cid())
    async with client.app[sessions_key]() as session:
        conversation_id = (await session.get(Message, ack["id"])).conversation_id  # type: ignore[union-attr]
    reply_id = await reply(client, staff, conversation_id, "It ships <b>today</b>!")
    frame = await receive(ws, "message")
    assert frame == {
        "type": "message",
        "id": reply_id,
        "author": "operator",
        "name": "Anna Ivanova",
        "text": "It ships <b>today</b>!",
        "at": frame["at"],
    }
    await eventually(lambda: delivered(client, reply_id))
    await ws.close()


async def test_every_tab_of_the_visitor_gets_the_reply(client: Client, staff: Staff) -> None:
    one, welcome = await hello(client)
    ack = await say(one, "hi", cid())
    two, _ = await hello(client, visitor=welcome["visitor"])
    other, _ = await hello(client)  # another visitor sees nothing
    async with client.app[sessions_key]() as session:
        conversation_id = (await session.get(Message, ack["id"])).conversation_id  # type: ignore[union-attr]
    reply_id = await reply(client, staff, conversation_id, "Hello!")
    assert (await receive(one, "message"))["id"] == reply_id
    assert (await receive(two, "message"))["id"] == reply_id
    await nothing_more(other)
    for ws in (one, two, other):
        await ws.close()


async def test_what_one_tab_sends_shows_in_the_others(client: Client, staff: Staff) -> None:
    one, welcome = await hello(client)
    two, _ = await hello(client, visitor=welcome["visitor"])
    client_id = cid()
    ack = await say(one, "from tab one", client_id)
    echo = await receive(two, "message")
    assert echo["id"] == ack["id"] and echo["author"] == "contact" and echo["client_id"] == client_id
    assert echo["text"] == "from tab one"
    await nothing_more(one)
    await one.close()
    await two.close()


async def test_a_reconnect_with_last_seen_gets_exactly_the_missed_replies(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client)
    ack = await say(ws, "Can I change the address?", cid())
    async with client.app[sessions_key]() as session:
        conversation_id = (await session.get(Message, ack["id"])).conversation_id  # type: ignore[union-attr]
    first = await reply(client, staff, conversation_id, "Let me check.")
    assert (await receive(ws, "message"))["id"] == first
    await ws.close()

    # Offline: two replies and a private note.
    second = await reply(client, staff, conversation_id, "Yes, it is changed.")
    note = await reply(client, staff, conversation_id, "customer seemed annoyed", private=True)
    third = await reply(client, staff, conversation_id, "Anything else?")
    await eventually(lambda: delivered(client, third))

    ws, again = await hello(client, visitor=welcome["visitor"], last_seen=first)
    assert again["conversation"] == conversation_id
    assert [(m["id"], m["author"], m["name"], m["text"]) for m in again["history"]] == [
        (second, "operator", "Anna Ivanova", "Yes, it is changed."),
        (third, "operator", "Anna Ivanova", "Anything else?"),
    ]
    assert note not in [m["id"] for m in again["history"]]
    await nothing_more(ws)  # replies already in the welcome are not pushed again
    await ws.close()


async def test_a_private_note_never_reaches_the_visitor(client: Client, staff: Staff) -> None:
    ws, welcome = await hello(client)
    ack = await say(ws, "hi", cid())
    async with client.app[sessions_key]() as session:
        conversation_id = (await session.get(Message, ack["id"])).conversation_id  # type: ignore[union-attr]
    await reply(client, staff, conversation_id, "internal: VIP customer", private=True)
    public = await reply(client, staff, conversation_id, "Hello!")
    frame = await receive(ws, "message")
    assert frame["id"] == public and "VIP" not in frame["text"]
    await nothing_more(ws)
    await ws.close()
    ws, again = await hello(client, visitor=welcome["visitor"])
    assert [m["text"] for m in again["history"]] == ["hi", "Hello!"]
    await ws.close()


async def test_the_channel_refuses_notes_and_recipientless_messages(client: Client, staff: Staff) -> None:
    channel = client.app[channels_key][("webchat", "demo")]
    assert isinstance(channel, WebchatChannel)
    base: dict[str, Any] = {
        "message_id": 1,
        "conversation_id": 1,
        "channel": "webchat",
        "inbox": "demo",
        "text": "x",
        "author_kind": "operator",
        "author_name": "Anna",
    }
    for message in (
        OutboundMessage(**base, recipient=ContactInfo("visitor:abc"), direction="note"),
        OutboundMessage(**base, recipient=ContactInfo("")),
    ):
        try:
            await channel.deliver(message)
        except PermanentDeliveryError:
            continue
        raise AssertionError(f"{message.direction} to {message.recipient.external_id!r} was sent")


async def test_delivery_publishes_the_frame_on_the_webchat_topic(client: Client, staff: Staff) -> None:
    seen: list[dict[str, Any]] = []
    got = asyncio.Event()

    async def collect(payload: dict[str, Any]) -> None:
        seen.append(payload)
        got.set()

    client.app[bus_key].subscribe(WEBCHAT_TOPIC, collect)
    channel = client.app[channels_key][("webchat", "demo")]
    receipt = await channel.deliver(
        OutboundMessage(
            message_id=7,
            conversation_id=3,
            channel="webchat",
            inbox="demo",
            recipient=ContactInfo("user:42", verified=True),
            text="Your parcel is out for delivery",
            author_kind="bot",
            author_name="Shop bot",
        )
    )
    assert receipt.status == "sent"
    await asyncio.wait_for(got.wait(), 5)
    assert seen[0]["site"] == "demo" and seen[0]["visitor"] == "user:42" and seen[0]["conversation_id"] == 3
    assert seen[0]["frame"]["author"] == "bot" and seen[0]["frame"]["id"] == 7


async def test_operator_typing_reaches_the_visitor_but_not_while_writing_a_note(client: Client, staff: Staff) -> None:
    ws, _ = await hello(client)
    ack = await say(ws, "hi", cid())
    async with client.app[sessions_key]() as session:
        conversation_id = (await session.get(Message, ack["id"])).conversation_id  # type: ignore[union-attr]
    events = client.app[events_key]
    audience = Audience(team_id=staff.support)
    await events.send("conversation.typing", {"conversation_id": conversation_id, "who": "contact"}, audience)
    await events.send(
        "conversation.typing", {"conversation_id": conversation_id, "who": "operator", "private": True}, audience
    )
    await events.send("conversation.typing", {"conversation_id": conversation_id + 1, "who": "operator"}, audience)
    await nothing_more(ws)
    await events.send("conversation.typing", {"conversation_id": conversation_id, "who": "operator"}, audience)
    assert await receive(ws) == {"type": "typing"}
    await ws.close()


async def test_visitor_typing_is_published_to_operators_at_most_every_two_seconds(client: Client, staff: Staff) -> None:
    seen: list[dict[str, Any]] = []

    async def collect(event: dict[str, Any]) -> None:
        if event["type"] == "conversation.typing":
            seen.append(event)

    client.app[bus_key].subscribe(EVENTS_TOPIC, collect)
    ws, _ = await hello(client)
    ack = await say(ws, "hi", cid())
    for _ in range(5):
        await ws.send_json({"type": "typing"})
    await eventually(lambda: _has(seen))
    await asyncio.sleep(0.3)
    assert len(seen) == 1
    async with client.app[sessions_key]() as session:
        message = await session.scalar(select(Message).where(Message.id == ack["id"]))
    assert message is not None
    assert seen[0]["data"]["conversation_id"] == message.conversation_id and seen[0]["data"]["who"] == "contact"
    assert seen[0]["audience"]["team_id"] == staff.support
    await ws.close()


async def _has(items: list[Any]) -> bool:
    return bool(items)
