"""The timer loop: the store is the source of truth; Redis only indexes, and its outage loses nothing."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from lines.sla.timers import RedisTimers, TimerLoop
from tests.conftest import need
from tests.sla.test_deadlines import FRIDAY_17, FakeClock, Harness, document


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def started(session_maker_for: Callable[[], Any]) -> tuple[Harness, list[int]]:
    harness = Harness(session_maker_for, FakeClock(FRIDAY_17))
    await harness.start(document(first_response_seconds=100))
    ids = [await harness.conversation() for _ in range(3)]
    return harness, ids


async def test_the_store_sweep_fires_what_is_due(session_maker_for: Callable[[], Any]) -> None:
    harness, ids = await started(session_maker_for)
    loop = TimerLoop(harness.service, harness.sessions, tick=0.05, sweep=30)
    harness.clock.advance(seconds=60)
    assert await loop.sweep() == 3  # three warnings
    assert await loop.sweep() == 0
    harness.clock.advance(seconds=60)
    assert await loop.sweep() == 3  # three breaches
    assert [await harness.fired(i) for i in ids] == [
        [("first_response", "warning"), ("first_response", "breached")]
    ] * 3


async def test_timers_fire_from_the_store_while_redis_is_unreachable(session_maker_for: Callable[[], Any]) -> None:
    harness, ids = await started(session_maker_for)
    redis = Redis.from_url(f"redis://127.0.0.1:{unused_port()}/0", socket_connect_timeout=0.2)
    loop = TimerLoop(harness.service, harness.sessions, tick=0.05, sweep=3600, redis_timers=RedisTimers(redis, "x"))
    await loop.sweep()  # as at start
    harness.clock.advance(seconds=150)
    try:
        assert await loop.tick() == 6
    finally:
        await redis.aclose()
    for conversation_id in ids:
        assert ("first_response", "breached") in await harness.fired(conversation_id)


async def test_two_workers_claiming_from_redis_fire_each_timer_once(session_maker_for: Callable[[], Any]) -> None:
    redis_url = need("LINES_TEST_REDIS_URL", "Redis")
    harness, ids = await started(session_maker_for)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    redis_a, redis_b = (
        Redis.from_url(redis_url, decode_responses=True),
        Redis.from_url(redis_url, decode_responses=True),
    )
    a = TimerLoop(harness.service, harness.sessions, 0.05, 3600, RedisTimers(redis_a, prefix))
    b = TimerLoop(harness.service, harness.sessions, 0.05, 3600, RedisTimers(redis_b, prefix))
    try:
        for loop in (a, b):
            await loop.sweep()
            await loop.rebuild()
        harness.clock.advance(seconds=150)
        counts = await asyncio.gather(a.tick(), b.tick())
        assert sum(counts) == 6
        for conversation_id in ids:
            assert await harness.fired(conversation_id) == [
                ("first_response", "warning"),
                ("first_response", "breached"),
            ]
        kinds = [p["type"] for p in harness.published if p["type"] in ("sla.warning", "sla.breached")]
        assert len(kinds) == 6
    finally:
        await redis_a.delete(f"{prefix}:sla:timers")
        await redis_a.aclose()
        await redis_b.aclose()
