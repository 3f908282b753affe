"""Two `lines serve` processes on PostgreSQL and Redis: the mailbox's reader is SIGKILLed, the other
takes over once its lease expires, and every mail is stored exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from sqlalchemy import select

from lines.console.db import create_engine
from lines.console.models import Message
from tests.channels.email.conftest import compose
from tests.channels.email.servers import Dovecot, mailbox_toml
from tests.test_two_processes import Installation, Server, installation, stop, wait_healthy

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres, pytest.mark.redis]
__all__ = ["installation"]  # the fixture, imported for this module
LEASE = 2.0
READS = "leadership: this process now reads email:support"


@pytest.fixture
async def mail_servers(
    installation: Installation, dovecot: Dovecot, mail_user: tuple[str, str]
) -> AsyncIterator[tuple[Server, Server]]:
    config = installation.config.read_text(encoding="utf-8")
    config = config.replace("[bus]\n", f"[bus]\nlease_seconds = {LEASE}\n")
    config += "\n" + mailbox_toml(
        dovecot,
        *mail_user,
        team="support",
        idle_seconds=5,
        poll_seconds=0.2,
        reconnect_min_seconds=0.1,
        reconnect_max_seconds=0.5,
    )
    installation.config.write_text(config, encoding="utf-8")
    await installation.lines("user", "add", "anna", "--password", "demo", "--team", "support", "--name", "Anna")
    started = [installation.serve("a"), installation.serve("b")]
    try:
        async with aiohttp.ClientSession() as http:
            for server in started:
                await wait_healthy(http, server)
        yield started[0], started[1]
    finally:
        for server in started:
            stop(server)


async def stored_ids(installation: Installation) -> list[str]:
    schema = installation.config.read_text().split('database_schema = "', 1)[1].split('"', 1)[0]
    engine = create_engine(installation.env["LINES_DATABASE_URL"], schema)
    try:
        async with engine.connect() as conn:
            rows = await conn.scalars(select(Message.external_id).where(Message.direction == "in"))
            return sorted(str(row) for row in rows)
    finally:
        await engine.dispose()


async def until(
    check: Callable[[], Awaitable[bool]], what: str, servers: tuple[Server, ...], patience: float = 20.0
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while not await check():
        if loop.time() > deadline:
            logs = "\n".join(f"--- {s.name}\n{s.output()}" for s in servers)
            pytest.fail(f"{what} did not happen in time\n{logs}")
        await asyncio.sleep(0.2)


async def test_a_killed_reader_is_replaced_and_nothing_is_lost_or_doubled(
    installation: Installation, mail_servers: tuple[Server, Server], dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    a, b = mail_servers

    async def one_reads() -> bool:
        return [READS in s.output() for s in (a, b)].count(True) == 1

    await until(one_reads, "one process reading the mailbox", (a, b))
    holder, other = (a, b) if READS in a.output() else (b, a)

    dovecot.append(*mail_user, *(compose(f"c{i}@example.org", "Hi", f"m{i}", message_id=f"m{i}@x") for i in range(3)))

    def count(wanted: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(await stored_ids(installation)) == wanted

        return check

    await until(count(3), "the first mails stored", (a, b))
    assert READS not in other.output()

    os.kill(holder.process.pid, signal.SIGKILL)  # no release: the lease must expire
    holder.process.wait()
    dovecot.append(*mail_user, *(compose(f"d{i}@example.org", "Hi", f"n{i}", message_id=f"n{i}@x") for i in range(3)))

    async def took_over() -> bool:
        return READS in other.output()

    await until(took_over, "the other process taking the mailbox over", (other,), patience=LEASE * 5)
    await until(count(6), "the later mails stored", (other,))
    await asyncio.sleep(1.0)
    assert await stored_ids(installation) == sorted([f"m{i}@x" for i in range(3)] + [f"n{i}@x" for i in range(3)])
