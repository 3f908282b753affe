"""Shared by the API, operator socket and outbox tests: logins, sessions, conversations, waiting."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeAlias

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from lines.channels.base import Automatic, ContactInfo, InboundMessage
from lines.console.auth import COOKIE_NAME, token_hash
from lines.console.keys import inbox_key, sessions_key
from lines.console.models import AuthSession, Conversation, utcnow
from tests.conftest import PASSWORD

Client: TypeAlias = TestClient[web.Request, web.Application]
JSON: TypeAlias = dict[str, Any]


async def login(client: Client, who: str, password: str = PASSWORD) -> str:
    """A bearer token for `who`."""
    response = await client.post("/api/v1/auth/login", json={"login": who, "password": password})
    assert response.status == 200, await response.text()
    return str((await response.json())["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def auth_headers(client: Client, who: str) -> dict[str, str]:
    return bearer(await login(client, who))


async def cookie_session(client: Client, operator_id: int, hours: float = 1.0) -> tuple[dict[str, str], str]:
    """A browser session made directly in the store: the Cookie header and the CSRF token."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    async with client.app[sessions_key]() as session, session.begin():
        session.add(
            AuthSession(
                token_hash=token_hash(token),
                operator_id=operator_id,
                kind="cookie",
                csrf_token=csrf,
                expires_at=utcnow() + timedelta(hours=hours),
            )
        )
    return {"Cookie": f"{COOKIE_NAME}={token}"}, csrf


async def expire_sessions(client: Client, operator_id: int) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(AuthSession)
            .where(AuthSession.operator_id == operator_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


def inbound(
    text: str = "hello", sender: str = "visitor-1", name: str = "Vera", channel: str = "loopback", inbox: str = "test"
) -> InboundMessage:
    return InboundMessage(
        channel=channel,
        inbox=inbox,
        external_id=uuid.uuid4().hex,
        sender=ContactInfo(external_id=sender, name=name),
        text=text,
    )


def inbound_email(text: str, html: str | None = None, subject: str = "Order", **extra: Any) -> InboundMessage:
    """An email from Ivan to the `support` mailbox as the email adapter hands it over; `extra` adds the
    adapter's flags (`quoted`, `unreadable`, `too_large`); `auto` is the adapter's `automatic` kind."""
    auto = extra.pop("auto", None)
    return InboundMessage(
        channel="email",
        inbox="support",
        external_id=f"<{uuid.uuid4().hex}@x.org>",
        sender=ContactInfo(external_id="ivan@x.org", name="Ivan", email="ivan@x.org"),
        text=text,
        html=html,
        subject=subject,
        extra={"message_id": "m@x.org", "headers": {"from": "ivan@x.org"}, **extra},
        automatic=Automatic(auto) if auto else Automatic.NONE,
    )


async def open_conversation(
    client: Client,
    team_id: int | None,
    assignee_id: int | None = None,
    text: str = "hello",
    sender: str | None = None,
    name: str = "Vera",
) -> int:
    """A loopback conversation with a new customer message, placed in `team_id` (and assigned)."""
    result = await client.app[inbox_key].ingest(inbound(text, sender or uuid.uuid4().hex, name))
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == result.conversation_id)
            .values(team_id=team_id, assignee_id=assignee_id)
        )
    return result.conversation_id


async def say(client: Client, conversation_sender: str, text: str) -> int:
    """Another customer message from `conversation_sender`; returns its conversation id."""
    result = await client.app[inbox_key].ingest(inbound(text, conversation_sender))
    return result.conversation_id


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Wait until `check()` holds (background work such as the outbox), or fail.

    The timeout is only a ceiling for a failing test: a passing one returns as soon as the check
    holds. It is generous because CI machines are shared and a loaded one runs background work late."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def error_of(response: Any) -> tuple[int, str]:
    """Status and error code, checking the error shape on the way."""
    body = await response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return response.status, body["error"]["code"]
