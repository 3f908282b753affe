"""Scaled mode in one test process: two apps share the database and Redis; the visitor sits on one."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from lines.console.app import create_app
from lines.console.events import Audience
from lines.console.keys import events_key, sessions_key
from lines.console.models import Message
from tests.channels.webchat.conftest import Client, hello, receive, reply, say
from tests.conftest import Database, make_settings, need, seed_staff

pytestmark = pytest.mark.redis


async def test_replies_and_typing_from_another_process_reach_the_visitor(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    settings = make_settings(tmp_path, database, redis_url=need("LINES_TEST_REDIS_URL", "Redis"))
    worker_a = await aiohttp_client(create_app(settings))
    worker_b = await aiohttp_client(create_app(settings))
    staff = await seed_staff(worker_a.app, password_hash)

    ws, _ = await hello(worker_b)
    ack = await say(ws, "hello from B", str(uuid.uuid4()))
    async with worker_a.app[sessions_key]() as session:
        message = await session.get(Message, ack["id"])
    assert message is not None

    await worker_a.app[events_key].send(
        "conversation.typing",
        {"conversation_id": message.conversation_id, "who": "operator"},
        Audience(team_id=staff.support),
    )
    assert await receive(ws) == {"type": "typing"}
    reply_id = await reply(worker_a, staff, message.conversation_id, "answered on A")
    frame = await receive(ws, "message")
    assert frame["id"] == reply_id and frame["text"] == "answered on A"
    await ws.close()
