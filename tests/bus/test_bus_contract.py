"""The EventBus contract, run on MemoryBus and on RedisBus (Redis when LINES_TEST_REDIS_URL is set).

A "peer" is a second bus of the same installation: another process for Redis (a second RedisBus with
the same key prefix), the same bus for the in-process MemoryBus, which has no other process.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from lines.console.bus import EventBus, MemoryBus
from lines.console.bus.base import RESYNC_TOPIC, Payload
from lines.console.bus.redis import GROUP, BusUnavailable, RedisBus
from lines.console.ratelimit import MemoryRateLimiter, RateLimiter
from tests.conftest import REQUIRE_SERVICES, need

CLAIM_IDLE = 0.3


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


@dataclass
class Buses:
    """Makes buses of one kind; stops them and deletes their Redis keys afterwards."""

    kind: str
    redis_url: str = ""
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    made: list[EventBus] = field(default_factory=list)

    def new(self, **options: Any) -> EventBus:
        bus: EventBus
        if self.kind == "memory":
            bus = MemoryBus(retry_delay=0.05)
        else:
            options = {"claim_idle": CLAIM_IDLE, "block": 0.1, **options}
            bus = RedisBus(self.redis_url, self.prefix, **options)
        self.made.append(bus)
        return bus

    def peer(self, bus: EventBus, **options: Any) -> EventBus:
        """Another process's bus (Redis), or the same bus when there is no other process (memory)."""
        return bus if self.kind == "memory" else self.new(**options)

    def redis(self) -> Redis:
        return Redis.from_url(self.redis_url, decode_responses=True)

    async def close(self) -> None:
        for bus in self.made:
            await bus.stop()
        if self.kind == "redis":
            async with self.redis() as redis:
                keys = [key async for key in redis.scan_iter(f"{self.prefix}:*")]
                if keys:
                    await redis.delete(*keys)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[Buses]:
    url = need("LINES_TEST_REDIS_URL", "Redis") if request.param == "redis" else ""
    made = Buses(request.param, url)
    yield made
    await made.close()


@pytest.fixture
async def redis_buses() -> AsyncIterator[Buses]:
    made = Buses("redis", need("LINES_TEST_REDIS_URL", "Redis"))
    yield made
    await made.close()


def collector() -> tuple[list[Payload], Callable[[Payload], Any]]:
    got: list[Payload] = []

    async def handler(payload: Payload) -> None:
        got.append(payload)

    return got, handler


# Fan-out


async def test_publish_reaches_every_subscriber_in_every_process(buses: Buses) -> None:
    bus = buses.new()
    peer = buses.peer(bus)
    first, second, remote = collector(), collector(), collector()
    bus.subscribe("events", first[1])
    bus.subscribe("events", second[1])
    peer.subscribe("events", remote[1])
    others, other_handler = collector()
    bus.subscribe("other", other_handler)
    await bus.start()
    await peer.start()

    payload = {"type": "message.created", "data": {"id": 7, "text": "Привет <b>", "tags": [1, None, True]}}
    await bus.publish("events", payload)
    await until(lambda: len(first[0]) == len(second[0]) == 1 and len(remote[0]) >= 1)
    assert first[0] == second[0] == [payload]
    assert remote[0][-1] == payload
    assert others == []


async def test_a_topic_subscribed_after_start_is_live_at_once(buses: Buses) -> None:
    bus = buses.new()
    await bus.start()
    got, handler = collector()
    bus.subscribe("late", handler)
    await buses.peer(bus).start()
    await buses.peer(bus).publish("late", {"n": 1})
    await until(lambda: got == [{"n": 1}])


async def test_unsubscribe_stops_delivery(buses: Buses) -> None:
    bus = buses.new()
    gone, gone_handler = collector()
    kept, kept_handler = collector()
    unsubscribe = bus.subscribe("events", gone_handler)
    bus.subscribe("events", kept_handler)
    await bus.start()
    await bus.publish("events", {"n": 1})
    await until(lambda: len(kept) == 1)
    unsubscribe()
    unsubscribe()  # idempotent
    await bus.publish("events", {"n": 2})
    await until(lambda: len(kept) == 2)
    assert gone == [{"n": 1}]


async def test_a_failing_subscriber_does_not_break_delivery(buses: Buses, caplog: pytest.LogCaptureFixture) -> None:
    bus = buses.new()
    calls = 0

    async def broken(payload: Payload) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("subscriber bug")

    got, handler = collector()
    bus.subscribe("events", broken)
    bus.subscribe("events", handler)
    await bus.start()
    await bus.publish("events", {"n": 1})
    await bus.publish("events", {"n": 2})
    await until(lambda: len(got) == 2)
    assert got == [{"n": 1}, {"n": 2}]
    assert calls == 2
    assert "subscriber of events failed" in caplog.text


async def test_payloads_are_copies(buses: Buses) -> None:
    bus = buses.new()
    first, second = collector(), collector()

    async def vandal(payload: Payload) -> None:
        payload["data"]["text"] = "changed"
        first[0].append(payload)

    bus.subscribe("events", vandal)
    bus.subscribe("events", second[1])
    jobs, job_handler = collector()
    bus.consume("jobs", job_handler)
    await bus.start()

    payload: Payload = {"data": {"text": "original"}}
    await bus.publish("events", payload)
    await bus.enqueue("jobs", payload)
    payload["data"]["text"] = "publisher changed it"
    await until(lambda: len(second[0]) == 1 and len(jobs) == 1)
    assert second[0] == [{"data": {"text": "original"}}]
    assert jobs == [{"data": {"text": "original"}}]
    assert first[0][0] is not second[0][0]


async def test_payloads_must_be_json(buses: Buses) -> None:
    bus = buses.new()
    await bus.start()
    with pytest.raises(TypeError):
        await bus.publish("events", {"when": object()})


# Work queues


async def test_each_job_is_handled_by_exactly_one_consumer(buses: Buses) -> None:
    bus = buses.new()
    peer = buses.peer(bus)
    handled: list[tuple[str, int]] = []

    def consumer(name: str) -> Callable[[Payload], Any]:
        async def handle(payload: Payload) -> None:
            handled.append((name, payload["n"]))
            await asyncio.sleep(0.001)

        return handle

    bus.consume("inbound", consumer("a"))
    if peer is not bus:
        peer.consume("inbound", consumer("b"))
    await bus.start()
    await peer.start()
    for n in range(40):
        await bus.enqueue("inbound", {"n": n})
    await until(lambda: len(handled) >= 40)
    await asyncio.sleep(CLAIM_IDLE * 2)  # nothing is handled twice, not even by a late claim
    assert sorted(n for _, n in handled) == list(range(40))


async def test_a_queue_has_one_consumer_per_bus(buses: Buses) -> None:
    bus = buses.new()
    _, handler = collector()
    bus.consume("inbound", handler)
    with pytest.raises(ValueError, match="already has a consumer"):
        bus.consume("inbound", handler)


async def test_jobs_enqueued_before_the_consumer_started_are_handled(buses: Buses) -> None:
    bus = buses.new()
    producer = buses.peer(bus)
    await producer.enqueue("inbound", {"n": 1})
    got, handler = collector()
    bus.consume("inbound", handler)
    await bus.start()
    await until(lambda: got == [{"n": 1}])


async def test_a_failing_job_is_retried_until_it_succeeds(buses: Buses) -> None:
    bus = buses.new()
    attempts: list[Payload] = []

    async def flaky(payload: Payload) -> None:
        attempts.append(payload)
        if len(attempts) < 3:
            raise ConnectionError("database away")

    bus.consume("inbound", flaky)
    await bus.start()
    await bus.enqueue("inbound", {"n": 1})
    await until(lambda: len(attempts) == 3)
    await asyncio.sleep(CLAIM_IDLE * 2)
    assert attempts == [{"n": 1}] * 3


async def test_a_job_that_always_fails_is_dropped_with_an_error(buses: Buses, caplog: pytest.LogCaptureFixture) -> None:
    bus = buses.new()
    attempts = 0

    async def broken(payload: Payload) -> None:
        nonlocal attempts
        attempts += 1
        raise RuntimeError("poison")

    got, handler = collector()
    bus.consume("inbound", broken)
    bus.consume("next", handler)
    await bus.start()
    with caplog.at_level(logging.ERROR):
        await bus.enqueue("inbound", {"n": 1})
        await until(lambda: attempts == 5, timeout=10)
        await asyncio.sleep(CLAIM_IDLE * 2)
    assert attempts == 5
    last_error = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR][-1]
    assert "inbound" in last_error and "5" in last_error
    await bus.enqueue("next", {"n": 2})  # the bus goes on
    await until(lambda: got == [{"n": 2}])


# Redis only: two processes, crashes, dropped connections, key names


@pytest.mark.redis
async def test_a_crashed_consumers_job_is_taken_over(redis_buses: Buses) -> None:
    crashed = redis_buses.new(stop_grace=0.05)
    started = asyncio.Event()
    finished = False

    async def hang(payload: Payload) -> None:
        nonlocal finished
        started.set()
        await asyncio.sleep(3600)
        finished = True

    crashed.consume("inbound", hang)
    await crashed.start()
    await crashed.enqueue("inbound", {"n": 1})
    await asyncio.wait_for(started.wait(), 5)
    await crashed.stop()  # the handler is cancelled mid-job: the entry stays pending, un-acked

    survivor = redis_buses.new()
    got, handler = collector()
    survivor.consume("inbound", handler)
    await survivor.start()
    await until(lambda: got == [{"n": 1}])
    assert not finished
    assert isinstance(survivor, RedisBus)
    async with redis_buses.redis() as redis:
        for _ in range(100):  # acknowledged right after the handler returned
            if (await redis.xpending(survivor.stream("inbound"), GROUP))["pending"] == 0:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the job was never acknowledged")


@pytest.mark.redis
async def test_a_clean_stop_leaves_no_consumer_behind(redis_buses: Buses) -> None:
    bus = redis_buses.new()
    got, handler = collector()
    bus.consume("inbound", handler)
    await bus.start()
    await bus.enqueue("inbound", {"n": 1})
    await until(lambda: len(got) == 1)
    await bus.stop()
    assert isinstance(bus, RedisBus)
    async with redis_buses.redis() as redis:
        assert await redis.xinfo_consumers(bus.stream("inbound"), GROUP) == []


async def kill_connections(redis: Redis, bus: RedisBus, kind: str = "") -> int:
    """Drop this bus's connections from the server side, as a Redis restart or failover would."""
    clients = await redis.client_list(_type=kind or None)  # type: ignore[arg-type]
    ids = [c["id"] for c in clients if c.get("name") == f"lines-{bus.consumer_name}"]
    for client_id in ids:
        await redis.client_kill_filter(_id=client_id)
    return len(ids)


@pytest.mark.redis
async def test_fanout_survives_a_dropped_connection_and_announces_resync(redis_buses: Buses) -> None:
    bus = redis_buses.new()
    publisher = redis_buses.new()
    got, handler = collector()
    resyncs, resync_handler = collector()
    bus.subscribe("events", handler)
    bus.subscribe(RESYNC_TOPIC, resync_handler)
    await bus.start()
    await publisher.publish("events", {"n": 1})
    await until(lambda: len(got) == 1)
    assert resyncs == []

    assert isinstance(bus, RedisBus)
    async with redis_buses.redis() as redis:
        assert await kill_connections(redis, bus, "pubsub") == 1
    await until(lambda: len(resyncs) == 1)
    assert resyncs == [{"reason": "reconnected"}]
    await publisher.publish("events", {"n": 2})
    await until(lambda: len(got) == 2)
    assert got == [{"n": 1}, {"n": 2}]


@pytest.mark.redis
async def test_consumers_survive_dropped_connections(redis_buses: Buses) -> None:
    bus = redis_buses.new()
    got, handler = collector()
    bus.consume("inbound", handler)
    resyncs, resync_handler = collector()
    bus.subscribe(RESYNC_TOPIC, resync_handler)
    await bus.start()
    await bus.enqueue("inbound", {"n": 1})
    await until(lambda: len(got) == 1)
    assert isinstance(bus, RedisBus)
    async with redis_buses.redis() as redis:
        for _ in range(3):  # kill whatever connections it holds, several times over
            await kill_connections(redis, bus)
            await asyncio.sleep(0.05)
    await bus.enqueue("inbound", {"n": 2})
    await until(lambda: len(got) == 2)
    assert got == [{"n": 1}, {"n": 2}]
    await until(lambda: len(resyncs) >= 1)
    assert await bus.ping()


@pytest.mark.redis
async def test_queues_recover_when_redis_loses_the_stream(redis_buses: Buses) -> None:
    bus = redis_buses.new()
    got, handler = collector()
    bus.consume("inbound", handler)
    await bus.start()
    await bus.enqueue("inbound", {"n": 1})
    await until(lambda: len(got) == 1)
    assert isinstance(bus, RedisBus)
    async with redis_buses.redis() as redis:
        await redis.delete(bus.stream("inbound"))  # as after a restart without persistence
    await bus.enqueue("inbound", {"n": 2})
    await until(lambda: len(got) == 2)


@pytest.mark.redis
async def test_keys_are_prefixed_and_hash_tagged(redis_buses: Buses) -> None:
    bus = redis_buses.new()
    assert isinstance(bus, RedisBus)
    _, handler = collector()
    bus.consume("inbound", handler)
    await bus.start()
    await bus.enqueue("inbound", {"n": 1})
    await bus.rate_limiter().hit("login:anna", 5, 60)
    assert bus.channel("events") == f"{redis_buses.prefix}:ev:{{events}}"
    async with redis_buses.redis() as redis:
        keys = sorted([key async for key in redis.scan_iter(f"{redis_buses.prefix}:*")])
        assert keys == [f"{redis_buses.prefix}:q:{{inbound}}", f"{redis_buses.prefix}:rl:{{login:anna}}"]
        assert all(re.fullmatch(r"[a-z0-9]+:(q|rl):\{[^{}]+\}", key) for key in keys)


class RedisServer:
    """A private redis-server on a free port, which a test may stop and start again."""

    def __init__(self, binary: str, workdir: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(self._command, cwd=self._workdir, stdout=subprocess.DEVNULL)
        async with Redis.from_url(self.url) as redis:
            for _ in range(200):
                try:
                    if await redis.ping():
                        return
                except Exception:
                    await asyncio.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    need("LINES_TEST_REDIS_URL", "Redis")
    binary = shutil.which("redis-server")
    if binary is None:
        message = "the Redis restart test needs the redis-server binary"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(binary, tmp_path)
    await server.start()
    yield server
    server.stop()


@pytest.mark.redis
async def test_a_redis_restart_is_survived(private_redis: RedisServer) -> None:
    """Redis goes away and comes back empty; the bus recovers by itself."""
    bus = RedisBus(private_redis.url, "t", claim_idle=CLAIM_IDLE, block=0.1, stop_grace=0.1)
    got, handler = collector()
    resyncs, resync_handler = collector()
    jobs, job_handler = collector()
    bus.subscribe("events", handler)
    bus.subscribe(RESYNC_TOPIC, resync_handler)
    bus.consume("inbound", job_handler)
    try:
        await bus.start()
        await bus.publish("events", {"n": 1})
        await bus.enqueue("inbound", {"n": 1})
        await until(lambda: len(got) == len(jobs) == 1)

        private_redis.stop()
        with pytest.raises(BusUnavailable):
            await bus.publish("events", {"n": "lost"})
        assert await bus.ping() is False
        await asyncio.sleep(1)  # the loops notice and back off
        await private_redis.start()

        await until(lambda: len(resyncs) == 1, timeout=15)
        await bus.publish("events", {"n": 2})
        await bus.enqueue("inbound", {"n": 2})  # the stream and its group are gone: both are recreated
        await until(lambda: len(got) == len(jobs) == 2, timeout=15)
        assert got == jobs == [{"n": 1}, {"n": 2}]
    finally:
        await bus.stop()


async def test_publish_without_redis_is_a_clear_error() -> None:
    """Runs without a server: nothing listens on port 1."""
    bus = RedisBus("redis://:secret@127.0.0.1:1/0", "t", connect_timeout=0.2, stop_grace=0.1)
    _, handler = collector()
    bus.consume("inbound", handler)
    try:
        await bus.start()  # serves anyway; the loops retry in the background
        with pytest.raises(BusUnavailable, match=r"'events'.*redis://127\.0\.0\.1:1/0 is unreachable") as err:
            await bus.publish("events", {"n": 1})
        assert "secret" not in str(err.value)
        with pytest.raises(BusUnavailable, match="cannot enqueue on 'inbound'"):
            await bus.enqueue("inbound", {"n": 1})
        assert await bus.ping() is False
        verdict = await bus.rate_limiter().hit("k", 1, 60)
        assert verdict.allowed  # fail open: an outage must not refuse customers' messages
    finally:
        await bus.stop()


# Rate limits


@pytest.fixture
async def limiter(buses: Buses) -> RateLimiter:
    if buses.kind == "memory":
        return MemoryRateLimiter()
    bus = buses.new()
    assert isinstance(bus, RedisBus)
    return bus.rate_limiter()


async def test_rate_limit_refuses_over_the_limit(limiter: RateLimiter) -> None:
    verdicts = [await limiter.hit("ip:1", 3, 60) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert all(v.retry_after == 0 for v in verdicts[:3])
    assert all(1 <= v.retry_after <= 60 for v in verdicts[3:])
    assert (await limiter.hit("ip:2", 3, 60)).allowed  # keys are independent


async def test_rate_limit_window_resets(limiter: RateLimiter) -> None:
    assert (await limiter.hit("k", 1, 1)).allowed
    refused = await limiter.hit("k", 1, 1)
    assert not refused.allowed and refused.retry_after == 1
    await asyncio.sleep(1.1)
    assert (await limiter.hit("k", 1, 1)).allowed


async def test_rate_limit_reset_forgets_the_key(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("login:anna", 2, 60)
    assert not (await limiter.hit("login:anna", 2, 60)).allowed
    await limiter.reset("login:anna")
    assert (await limiter.hit("login:anna", 2, 60)).allowed


async def test_concurrent_hits_cannot_exceed_the_limit(limiter: RateLimiter) -> None:
    verdicts = await asyncio.gather(*(limiter.hit("burst", 10, 60) for _ in range(100)))
    assert sum(v.allowed for v in verdicts) == 10


async def test_a_refund_takes_back_one_counted_event(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("ip:3", 3, 60)
    await limiter.refund("ip:3")
    assert (await limiter.hit("ip:3", 3, 60)).allowed
    assert not (await limiter.hit("ip:3", 3, 60)).allowed


async def test_a_refund_of_an_unknown_key_does_not_go_negative(limiter: RateLimiter) -> None:
    await limiter.refund("ip:4")
    verdicts = [(await limiter.hit("ip:4", 1, 60)).allowed for _ in range(2)]
    assert verdicts == [True, False]


async def test_a_limiter_tells_how_many_were_counted_without_counting(limiter: RateLimiter) -> None:
    assert await limiter.count("ip:5") == 0
    assert [(await limiter.hit("ip:5", 1, 60)).count for _ in range(3)] == [1, 2, 3]
    assert await limiter.count("ip:5") == 3
    assert await limiter.count("ip:5") == 3
    await limiter.hit("short", 5, 1)
    await asyncio.sleep(1.1)
    assert await limiter.count("short") == 0
