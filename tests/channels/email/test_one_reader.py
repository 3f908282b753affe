"""Two workers on one PostgreSQL and Redis: only one reads the mailbox; when it stops the other takes over."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from lines.console.app import create_app
from lines.console.keys import sessions_key
from lines.console.models import Message
from tests.api.helpers import eventually
from tests.channels.email.conftest import Client, channel_of, compose, mailbox
from tests.channels.email.servers import Dovecot, Sink
from tests.conftest import Database, make_settings, need, seed_staff

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
LEASE = 1.0


def readers(*clients: Client) -> list[Client]:
    return [client for client in clients if channel_of(client).connected.is_set()]


async def inbound_ids(client: Client) -> list[str]:
    async with client.app[sessions_key]() as session:
        rows = await session.scalars(select(Message.external_id).where(Message.direction == "in"))
        return sorted(str(row) for row in rows)


async def test_one_worker_reads_the_mailbox_and_another_takes_over_when_it_stops(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    dovecot: Dovecot,
    mail_user: tuple[str, str],
    sink: Sink,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    if database.kind != "postgresql":
        pytest.skip("several workers share PostgreSQL and Redis")
    redis_url = need("LINES_TEST_REDIS_URL", "Redis")
    settings = make_settings(
        tmp_path,
        database,
        channels={"email": [mailbox(dovecot, mail_user, sink)]},
        bus={"redis_url": redis_url, "lease_seconds": LEASE},
    )
    first = await aiohttp_client(create_app(settings))
    await seed_staff(first.app, password_hash)
    second = await aiohttp_client(create_app(settings))

    async def one_reader() -> bool:
        return len(readers(first, second)) == 1

    await eventually(one_reader)
    for _ in range(int(LEASE * 3 / 0.05)):  # across several renewals, never both
        assert len(readers(first, second)) == 1
        await asyncio.sleep(0.05)
    [holder] = readers(first, second)
    other = second if holder is first else first

    dovecot.append(*mail_user, *(compose(f"c{i}@example.org", "Hi", f"m{i}", message_id=f"m{i}@x") for i in range(3)))

    def stored(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(await inbound_ids(other)) == count

        return check

    await eventually(stored(3), timeout=10)
    assert not channel_of(other).connected.is_set()

    await holder.close()  # the holder stops (releases its lease); mail keeps arriving meanwhile
    dovecot.append(*mail_user, *(compose(f"d{i}@example.org", "Hi", f"n{i}", message_id=f"n{i}@x") for i in range(3)))
    await asyncio.wait_for(channel_of(other).connected.wait(), LEASE * 5)
    await eventually(stored(6), timeout=10)
    await asyncio.sleep(0.5)  # nothing arrives twice later either
    assert await inbound_ids(other) == sorted([f"m{i}@x" for i in range(3)] + [f"n{i}@x" for i in range(3)])
