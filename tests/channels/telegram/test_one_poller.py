"""Two workers on one PostgreSQL and Redis: one polls the bot (no 409), the other takes over when it stops."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from lines.console.app import create_app
from tests.api.helpers import eventually
from tests.channels.telegram import updates
from tests.channels.telegram.botapi import BotApi
from tests.channels.telegram.conftest import Client, bot_config, channel, messages
from tests.conftest import Database, make_settings, need, seed_staff

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
LEASE = 1.0


def pollers(*clients: Client) -> list[Client]:
    return [client for client in clients if channel(client).polling.is_set()]


async def test_one_worker_polls_and_another_takes_over_when_it_stops(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    botapi: BotApi,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    if database.kind != "postgresql":
        pytest.skip("several workers share PostgreSQL and Redis")
    redis_url = need("LINES_TEST_REDIS_URL", "Redis")
    settings = make_settings(
        tmp_path,
        database,
        channels={"telegram": [bot_config(botapi, "polling")]},
        bus={"redis_url": redis_url, "lease_seconds": LEASE},
    )
    first = await aiohttp_client(create_app(settings))
    await seed_staff(first.app, password_hash)
    second = await aiohttp_client(create_app(settings))

    async def one_poller() -> bool:
        return len(pollers(first, second)) == 1

    await eventually(one_poller)
    for text in ("one", "two", "three"):
        botapi.push(updates.text(text))
    for _ in range(int(LEASE * 3 / 0.05)):  # across several renewals, never both
        assert len(pollers(first, second)) == 1
        await asyncio.sleep(0.05)
    [holder] = pollers(first, second)
    other = second if holder is first else first

    def stored(wanted: list[str]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return [m.text for m in await messages(other)] == wanted

        return check

    await eventually(stored(["one", "two", "three"]), timeout=10)
    assert botapi.conflicts == 0  # Telegram never saw two pollers

    await holder.close()
    for text in ("four", "five"):
        botapi.push(updates.text(text))
    await asyncio.wait_for(channel(other).polling.wait(), LEASE * 5)
    await eventually(stored(["one", "two", "three", "four", "five"]), timeout=10)
    await asyncio.sleep(1.5)  # a few more polls: nothing is stored twice
    assert [m.text for m in await messages(other)] == ["one", "two", "three", "four", "five"]
