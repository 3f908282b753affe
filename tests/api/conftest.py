"""API tests run with a loopback channel, so replies have somewhere to go."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from lines.console.keys import channels_key
from tests.loopback import LoopbackChannel


@pytest.fixture
def loopback(app: web.Application) -> LoopbackChannel:
    channel = LoopbackChannel()
    app[channels_key][(channel.kind, channel.name)] = channel
    return channel


@pytest.fixture
async def client(
    app: web.Application,
    loopback: LoopbackChannel,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> TestClient[web.Request, web.Application]:
    """Started after the loopback channel is registered.

    `aiohttp_client` comes last so it is torn down first: the app stops before its database
    schema is dropped (otherwise DROP SCHEMA can deadlock with the outbox's poll on PostgreSQL).
    """
    return await aiohttp_client(app)
