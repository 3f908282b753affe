"""Fixtures for the Telegram tests: the Bot API stand-in on a free port and apps pointed at it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lines.channels.telegram.adapter import TelegramChannel
from lines.console.app import create_app
from lines.console.keys import channels_key, sessions_key
from lines.console.models import Contact, ContactIdentity, Conversation, Message
from tests.channels.telegram.botapi import TOKEN, BotApi
from tests.conftest import Database, make_settings, seed_staff

Client: TypeAlias = TestClient[web.Request, web.Application]
ClientFactory: TypeAlias = Callable[..., Awaitable[Client]]
SECRET = "s3cret-Token_value"
BOT = "support_bot"
WEBHOOK = f"/channels/telegram/{BOT}/webhook"


@pytest.fixture
async def botapi(aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]) -> BotApi:
    api = BotApi()
    server = await aiohttp_server(api.app())
    api.base_url = str(server.make_url("/bot"))  # type: ignore[attr-defined]
    return api


def bot_config(botapi: BotApi, mode: str = "webhook", **overrides: Any) -> dict[str, Any]:
    return {
        "name": BOT,
        "token": TOKEN,
        "mode": mode,
        "webhook_url": "https://lines.example",
        "secret_token": SECRET,
        "api_base_url": botapi.base_url,  # type: ignore[attr-defined]
        "team": "support",
        "poll_timeout": 1,
        **overrides,
    }


@pytest.fixture
def make_client(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    botapi: BotApi,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> ClientFactory:
    """A started app with one bot in `mode` (overrides for the bot block), staff seeded."""

    async def factory(mode: str = "webhook", **overrides: Any) -> Client:
        settings = make_settings(tmp_path, database, channels={"telegram": [bot_config(botapi, mode, **overrides)]})
        client = await aiohttp_client(create_app(settings))
        await seed_staff(client.app, password_hash)
        return client

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> Client:
    return await make_client()


def channel(client: Client) -> TelegramChannel:
    found = client.app[channels_key][("telegram", BOT)]
    assert isinstance(found, TelegramChannel)
    return found


async def post_update(client: Client, update: dict[str, Any], secret: str = SECRET) -> int:
    response = await client.post(WEBHOOK, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": secret})
    return response.status


async def messages(client: Client) -> list[Message]:
    async with client.app[sessions_key]() as session:
        rows = await session.scalars(select(Message).options(selectinload(Message.attachments)).order_by(Message.id))
        return list(rows.all())


async def conversations(client: Client) -> list[Conversation]:
    async with client.app[sessions_key]() as session:
        rows = await session.scalars(
            select(Conversation).options(selectinload(Conversation.contact)).order_by(Conversation.id)
        )
        return list(rows.all())


async def identities(client: Client) -> list[ContactIdentity]:
    async with client.app[sessions_key]() as session:
        return list((await session.scalars(select(ContactIdentity).order_by(ContactIdentity.id))).all())


async def contacts(client: Client) -> list[Contact]:
    async with client.app[sessions_key]() as session:
        return list((await session.scalars(select(Contact).order_by(Contact.id))).all())
