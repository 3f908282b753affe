"""Buttons in the web chat: bot messages carry them to the widget, a press comes back as a message."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from lines.bots.kb import load_dir
from lines.bots.store import import_articles
from lines.channels.base import ChannelFeature
from lines.channels.webchat.adapter import WebchatChannel
from lines.console.keys import sessions_key
from lines.console.models import Conversation, Direction, Message
from tests.channels.webchat.conftest import WS, Client, ClientFactory, count, hello, receive, say

KB = Path(__file__).resolve().parents[3] / "config" / "kb"


async def answered(make_client: ClientFactory) -> tuple[Client, WS, dict[str, Any]]:
    client = await make_client()
    await import_articles(client.app[sessions_key], load_dir(KB))
    ws, _ = await hello(client)
    assert (await say(ws, "как вернуть товар", str(uuid.uuid4())))["type"] == "ack"
    frame = await receive(ws, "message")
    return client, ws, frame


def test_the_webchat_channel_declares_buttons() -> None:
    assert WebchatChannel.features & ChannelFeature.BUTTONS


async def test_a_bot_answer_reaches_the_widget_with_its_buttons(make_client: ClientFactory) -> None:
    _, _, frame = await answered(make_client)
    assert frame["author"] == "bot" and "14 дней" in str(frame["text"])
    assert frame["buttons"] == [{"id": "bot:yes", "label": "Да"}, {"id": "bot:operator", "label": "Позвать оператора"}]


async def test_a_press_is_ingested_as_the_visitors_message_with_the_button(make_client: ClientFactory) -> None:
    client, ws, frame = await answered(make_client)
    await ws.send_json({"type": "button", "message_id": frame["id"], "button": "bot:operator"})
    ack = await receive(ws, "ack")
    async with client.app[sessions_key]() as session:
        pressed = await session.get(Message, ack["id"])
        assert pressed is not None
        assert pressed.text == "Позвать оператора" and pressed.direction == Direction.IN
        assert pressed.extra["button"] == {"id": "bot:operator", "message_id": frame["id"]}
    handoff = await receive(ws, "message")
    assert "оператору" in handoff["text"]
    async with client.app[sessions_key]() as session:
        state = await session.scalar(select(Conversation.bot_state))
    assert state == "handed_off"


async def test_repeated_presses_are_stored_once(make_client: ClientFactory) -> None:
    client, ws, frame = await answered(make_client)
    for _ in range(3):
        await ws.send_json({"type": "button", "message_id": frame["id"], "button": "bot:yes"})
        await receive(ws, "ack")
    assert await count(client, Message, Message.text == "Да", Message.direction == Direction.IN) == 1


async def test_a_button_the_message_does_not_have_is_refused(make_client: ClientFactory) -> None:
    _, ws, frame = await answered(make_client)
    await ws.send_json({"type": "button", "message_id": frame["id"], "button": "bot:free-money"})
    error = await receive(ws, "error")
    assert error["code"] == "no_such_button"


async def test_a_button_of_another_visitors_message_is_refused(make_client: ClientFactory) -> None:
    client, _, frame = await answered(make_client)
    other, _ = await hello(client)
    await other.send_json({"type": "button", "message_id": frame["id"], "button": "bot:yes"})
    assert (await receive(other, "error"))["code"] == "no_such_button"


async def test_a_malformed_button_frame_is_a_bad_frame(make_client: ClientFactory) -> None:
    client = await make_client()
    ws, _ = await hello(client)
    await ws.send_json({"type": "button", "message_id": "1", "button": {"$ne": ""}})
    assert (await receive(ws, "error"))["code"] == "bad_frame"
