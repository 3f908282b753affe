"""Leases: one holder per name in Redis and PostgreSQL, takeover after the holder dies or stops."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from lines.console.db import create_engine
from lines.console.leadership import Leadership, Leases, LocalLeases, PostgresLeases, RedisLeases
from lines.console.settings import ConfigError, parse_settings
from tests.conftest import need

# A separate process takes the lease, says so, and sleeps until it is SIGKILLed (never releases it).
HOLDER = """
import asyncio, sys
from redis.asyncio import Redis
from lines.console.leadership import RedisLeases

async def main() -> None:
    leases = RedisLeases(Redis.from_url(sys.argv[1]), sys.argv[2])
    assert await leases.acquire("email:support", "dead-holder", float(sys.argv[3]))
    print("held", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


@pytest.fixture
async def redis_leases() -> AsyncIterator[RedisLeases]:
    redis = Redis.from_url(need("LINES_TEST_REDIS_URL", "Redis"), decode_responses=True)
    yield RedisLeases(redis, f"t{uuid.uuid4().hex[:10]}")
    await redis.aclose()


@pytest.fixture
async def pg_leases() -> AsyncIterator[PostgresLeases]:
    engine = create_engine(need("LINES_TEST_DATABASE_URL", "PostgreSQL"))
    yield PostgresLeases(engine, f"t_{uuid.uuid4().hex[:12]}")
    await engine.dispose()


class Reader:
    """Work that counts how often it runs and is running."""

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.starts = 0

    async def __call__(self) -> None:
        self.starts += 1
        self.running.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.running.clear()


async def only_one_leads(leases: Leases, ttl: float) -> None:
    first, second = Reader(), Reader()
    one = asyncio.create_task(Leadership(leases, ttl).run("email:support", first))
    await asyncio.wait_for(first.running.wait(), 5)
    two = asyncio.create_task(Leadership(leases, ttl).run("email:support", second))
    await asyncio.sleep(ttl * 2)  # several renewals and retries: the holder keeps it
    assert first.running.is_set() and not second.running.is_set()
    one.cancel()  # the holder stops: it releases, the other takes over at its next try
    await asyncio.gather(one, return_exceptions=True)
    await asyncio.wait_for(second.running.wait(), ttl * 2)
    assert not first.running.is_set() and (first.starts, second.starts) == (1, 1)
    two.cancel()
    await asyncio.gather(two, return_exceptions=True)


@pytest.mark.redis
async def test_redis_lease_has_one_holder_and_passes_on_when_it_stops(redis_leases: RedisLeases) -> None:
    await only_one_leads(redis_leases, 0.6)


@pytest.mark.postgres
async def test_postgres_advisory_lock_has_one_holder_and_passes_on_when_it_stops(pg_leases: PostgresLeases) -> None:
    await only_one_leads(pg_leases, 0.6)


@pytest.mark.redis
async def test_a_killed_holder_s_lease_expires_and_another_process_takes_over(redis_leases: RedisLeases) -> None:
    ttl = 1.5
    url = need("LINES_TEST_REDIS_URL", "Redis")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, redis_leases._prefix, str(ttl)], stdout=subprocess.PIPE
    )
    try:
        line = await asyncio.to_thread(holder.stdout.readline)  # type: ignore[union-attr]
        assert line.strip() == b"held"
        reader = Reader()
        task = asyncio.create_task(Leadership(redis_leases, ttl).run("email:support", reader))
        await asyncio.sleep(0.5)
        assert not reader.running.is_set()  # the other process holds it
        os.kill(holder.pid, signal.SIGKILL)
        await asyncio.wait_for(reader.running.wait(), ttl * 3)  # expired, taken over
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await redis_leases._redis.get(redis_leases.key("email:support")) is None  # released on stop
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.redis
async def test_a_holder_whose_lease_is_taken_stops_its_work(redis_leases: RedisLeases) -> None:
    reader = Reader()
    task = asyncio.create_task(Leadership(redis_leases, 0.6).run("email:support", reader))
    await asyncio.wait_for(reader.running.wait(), 5)
    # Someone else holds it now (as after a long pause of this process): renewal is refused.
    await redis_leases._redis.set(redis_leases.key("email:support"), "other", px=5000)
    for _ in range(50):
        if not reader.running.is_set():
            break
        await asyncio.sleep(0.05)
    assert not reader.running.is_set()
    assert await redis_leases._redis.get(redis_leases.key("email:support")) == "other"  # not released by us
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.postgres
async def test_a_postgres_holder_that_dies_frees_the_lock(pg_leases: PostgresLeases) -> None:
    assert await pg_leases.acquire("telegram:bot", "a", 1)
    assert not await pg_leases.acquire("telegram:bot", "b", 1)
    [connection] = pg_leases._held.values()
    pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    await connection.commit()
    engine = create_engine(need("LINES_TEST_DATABASE_URL", "PostgreSQL"))
    async with engine.begin() as admin:  # the holder's session dies (a killed worker)
        await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await engine.dispose()
    assert not await pg_leases.renew("telegram:bot", "a", 1)
    assert await pg_leases.acquire("telegram:bot", "b", 1)
    await pg_leases.release("telegram:bot", "b")


async def test_embedded_mode_always_holds() -> None:
    reader = Reader()
    task = asyncio.create_task(Leadership(LocalLeases(), 0.3).run("email:support", reader))
    await asyncio.wait_for(reader.running.wait(), 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_work_that_ends_ends_the_lease_and_its_error_is_raised() -> None:
    async def broken() -> None:
        raise RuntimeError("token refused")

    with pytest.raises(RuntimeError, match="token refused"):
        await Leadership(LocalLeases(), 0.3).run("telegram:bot", broken)


def test_a_bad_lease_time_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="lease_seconds"):
        parse_settings({"bus": {"lease_seconds": 0}}, env={})
