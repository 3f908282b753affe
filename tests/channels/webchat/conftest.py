"""Helpers for the web-chat tests: sockets through the public path, replies through the actions."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeAlias

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from lines.console.access import Scope
from lines.console.actions import do_reply
from lines.console.app import create_app
from lines.console.keys import events_key, outbox_key, sessions_key
from lines.console.models import Role
from tests.conftest import Database, Staff, make_settings, seed_staff

Client: TypeAlias = TestClient[web.Request, web.Application]
ClientFactory: TypeAlias = Callable[..., Awaitable[Client]]
WS: TypeAlias = ClientWebSocketResponse

DEMO_SITE: dict[str, Any] = {"site_key": "demo", "origins": ["*"], "team": "support", "identity_secret": "site-secret"}
SHOP_SITE: dict[str, Any] = {"site_key": "shop", "origins": ["https://shop.example"], "team": "sales"}
PAGE = {"url": "https://shop.example/p/1", "referrer": "https://search.example/", "utm": {}}


@pytest.fixture
async def client(app: web.Application, aiohttp_client: Callable[[web.Application], Awaitable[Client]]) -> Client:
    """The suite's `client`, but with `app` (and so `database`) set up before `aiohttp_client`.

    Fixtures are torn down in reverse order of setup: this way the app stops before its PostgreSQL
    schema is dropped, instead of the outbox worker still polling it (a DROP SCHEMA deadlock).
    """
    return await aiohttp_client(app)


@pytest.fixture
def make_client(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> ClientFactory:
    """A started app whose `demo` site has `overrides` (limits, secrets), with the staff seeded.

    `database` comes before `aiohttp_client`, so the apps stop before their schema is dropped.
    """

    async def factory(**overrides: Any) -> Client:
        settings = make_settings(tmp_path, database, channels={"webchat": [{**DEMO_SITE, **overrides}, SHOP_SITE]})
        client = await aiohttp_client(create_app(settings))
        await seed_staff(client.app, password_hash)
        return client

    return factory


async def connect(client: Client, site: str = "demo", origin: str | None = None) -> WS:
    headers = {"Origin": origin} if origin else {}
    return await client.ws_connect(f"/webchat/{site}/ws", headers=headers)


async def receive(ws: WS, kind: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
    """The next frame (of type `kind`, skipping others)."""
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type != WSMsgType.TEXT:
            raise AssertionError(f"expected a text frame, got {msg.type} {msg.data!r} {msg.extra!r}")
        frame: dict[str, Any] = json.loads(msg.data)
        if kind is None or frame["type"] == kind:
            return frame


async def nothing_more(ws: WS, wait: float = 0.3) -> None:
    """Assert that no frame arrives within `wait` seconds."""
    try:
        msg = await ws.receive(timeout=wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected frame {msg.type} {msg.data!r}")


async def hello(
    client: Client,
    *,
    site: str = "demo",
    visitor: str | None = None,
    last_seen: int | None = None,
    identity: dict[str, Any] | None = None,
    page: dict[str, Any] | None = None,
    origin: str | None = None,
) -> tuple[WS, dict[str, Any]]:
    """Open a socket, say hello, return it with the welcome frame."""
    ws = await connect(client, site, origin)
    frame: dict[str, Any] = {"type": "hello", "visitor": visitor, "last_seen": last_seen, "page": page or PAGE}
    if identity is not None:
        frame["identity"] = identity
    await ws.send_json(frame)
    return ws, await receive(ws, "welcome")


async def say(ws: WS, text: str, client_id: str) -> dict[str, Any]:
    """Send a message and return the server's answer to it (ack or error)."""
    await ws.send_json({"type": "message", "client_id": client_id, "text": text})
    while True:
        frame = await receive(ws)
        if frame["type"] in ("ack", "error"):
            return frame


async def count(client: Client, model: Any, *where: Any) -> int:
    async with client.app[sessions_key]() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def anna(staff: Staff) -> Scope:
    return Scope(staff.anna, Role.OPERATOR, frozenset({staff.support}))


async def reply(client: Client, staff: Staff, conversation_id: int, text: str, private: bool = False) -> int:
    """Anna answers through the console's action (and so through the outbox worker)."""
    async with client.app[sessions_key]() as session:
        data = await do_reply(
            session,
            client.app[events_key],
            anna(staff),
            conversation_id,
            text,
            private,
            client.app[outbox_key].notify,
        )
    return int(data["id"])
