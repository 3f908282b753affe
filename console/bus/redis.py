"""Redis bus for the scaled mode: pub/sub fan-out, Streams work queues, shared rate limits.

Names (``<p>`` is ``bus.key_prefix``, default ``lines``). Each carries a Redis Cluster hash tag
``{...}`` around the one thing it belongs to, so every command touches a single slot and different
queues and counters spread over the cluster:

- ``<p>:ev:{<topic>}``: pub/sub channel of a topic (``PUBLISH``). Each process listens with one
  ``PSUBSCRIBE <p>:ev:{*}`` and hands messages to its local subscribers, so a topic subscribed to
  after ``start()`` is live at once.
- ``<p>:q:{<queue>}``: stream of a work queue (``XADD ... MAXLEN ~ maxlen``, field ``job``); consumer
  group ``workers``; consumers named ``<host>-<pid>-<random>``.
- ``<p>:rl:{<key>}``: fixed-window rate-limit counter (``INCR`` + ``EXPIRE NX`` + ``PTTL`` in one MULTI).

Delivery. Pub/sub is at-most-once: after every re-subscription (a reconnect, whoever did it) the bus
delivers ``{"reason": "reconnected"}`` on ``RESYNC_TOPIC`` to its local subscribers, which reload from
the database (docs/reliability.md#reconnect-resync). Queue jobs are at-least-once: ``XACK`` only after
the handler returns. A job whose handler raised, or whose consumer died, stays pending and is taken
over with ``XAUTOCLAIM`` once idle for ``claim_idle`` seconds (so that is also the retry delay); after
``max_attempts`` deliveries it is dropped with an error log: the database stays the source of truth
(docs/reliability.md#redis-down). Handlers must therefore be idempotent. ``MAXLEN ~`` trimming bounds
the stream; a backlog larger than ``maxlen`` loses its oldest jobs. Needs Redis >= 7.0 (``EXPIRE NX``,
``XAUTOCLAIM``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import secrets
import socket
import time
from typing import Any, TypeAlias, cast
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from lines.console.bus.base import RESYNC_TOPIC, EventBus, Handler, Payload
from lines.console.bus.memory import MAX_ATTEMPTS
from lines.console.ratelimit import RateLimiter, Verdict

log = logging.getLogger(__name__)

GROUP = "workers"
BATCH = 10
BACKOFF_MIN, BACKOFF_MAX = 0.1, 2.0  # back within 2 s of Redis returning
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError)
Job: TypeAlias = tuple[str, dict[str, str] | None, int]  # entry id, fields, delivery number


class BusUnavailable(ConnectionError):
    """Redis cannot be reached. What the caller committed to the database stays; consoles resync later."""


def redact(url: str) -> str:
    """The Redis URL without credentials, for messages and logs."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


class RedisBus(EventBus):
    """The `EventBus` on Redis: every process sees every topic; each queue job goes to one consumer."""

    def __init__(
        self,
        url: str,
        prefix: str = "lines",
        *,
        claim_idle: float = 60.0,
        max_attempts: int = MAX_ATTEMPTS,
        maxlen: int = 100_000,
        block: float = 1.0,
        connect_timeout: float = 5.0,
        stop_grace: float = 5.0,
    ) -> None:
        """Args:
        url: ``redis://[:password@]host:port/db``.
        prefix: the first part of every key and channel.
        claim_idle: seconds a pending job waits before another consumer takes it over (retry delay).
        max_attempts: deliveries of a job before it is dropped.
        maxlen: approximate length each stream is trimmed to.
        block: longest wait of one ``XREADGROUP``.
        connect_timeout: how long ``start()`` waits for the first subscription.
        stop_grace: how long ``stop()`` lets running jobs finish before cancelling them.
        """
        super().__init__()
        self.prefix = prefix
        self.consumer_name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        self.where = redact(url)
        self.redis: Redis = Redis.from_url(
            url,
            decode_responses=True,
            client_name=f"lines-{self.consumer_name}",  # CLIENT LIST shows which process holds what
            socket_connect_timeout=connect_timeout,
            socket_timeout=max(5.0, block + 5.0),
            socket_keepalive=True,
            health_check_interval=15,
            # One quick retry replaces a pooled connection that died with a restarted server; longer
            # outages surface at once (publish raises) and the loops below back off themselves.
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
        )
        self._claim_idle = claim_idle
        self._max_attempts = max_attempts
        self._maxlen = maxlen
        self._block_ms = max(1, int(min(block, claim_idle / 2) * 1000))
        self._connect_timeout = connect_timeout
        self._stop_grace = stop_grace
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._waiting: set[asyncio.Task[Any]] = set()
        self._stopping = False

    def channel(self, topic: str) -> str:
        return f"{self.prefix}:ev:{{{topic}}}"

    def stream(self, queue: str) -> str:
        return f"{self.prefix}:q:{{{queue}}}"

    def shared_redis(self) -> Redis:
        return self.redis

    def rate_limiter(self) -> RedisRateLimiter:
        """A limiter whose windows every process shares, on this bus's connection pool."""
        return RedisRateLimiter(self.redis, self.prefix)

    async def ping(self) -> bool:
        """True when Redis answers."""
        try:
            return bool(await self.redis.ping())
        except UNAVAILABLE:
            return False

    async def start(self) -> None:
        """Subscribe and start the consumers; wait up to `connect_timeout` for the subscription."""
        if self._tasks:
            return
        self._stopping = False
        self._tasks.append(asyncio.create_task(self._listen(), name="redis-bus-fanout"))
        for queue, handler in self._consumers.items():
            self._tasks.append(asyncio.create_task(self._work(queue, handler), name=f"redis-bus-queue-{queue}"))
        try:
            await asyncio.wait_for(self._subscribed.wait(), self._connect_timeout)
        except TimeoutError:
            # Serve anyway (ingest commits to the database); the first late subscription resyncs.
            log.error("Redis at %s is unreachable; the bus keeps retrying in the background", self.where)
            self._subscribed.set()

    async def stop(self) -> None:
        """Let running jobs finish (up to `stop_grace`), stop the loops, close the connections."""
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        listener, workers = tasks[:1], tasks[1:]
        for task in [*listener, *(w for w in workers if w in self._waiting)]:
            task.cancel()
        if workers:
            await asyncio.wait(workers, timeout=self._stop_grace)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if tasks:
            for queue in self._consumers:
                await self._forget_consumer(queue)
        await self.redis.aclose()

    async def publish(self, topic: str, payload: Payload) -> None:
        data = json.dumps(payload)
        try:
            await self.redis.publish(self.channel(topic), data)
        except UNAVAILABLE as err:
            raise BusUnavailable(f"cannot publish on {topic!r}: Redis at {self.where} is unreachable ({err})") from err

    async def enqueue(self, queue: str, payload: Payload) -> None:
        data = json.dumps(payload)
        try:
            await self.redis.xadd(self.stream(queue), {"job": data}, maxlen=self._maxlen, approximate=True)
        except UNAVAILABLE as err:
            raise BusUnavailable(f"cannot enqueue on {queue!r}: Redis at {self.where} is unreachable ({err})") from err

    # Fan-out

    async def _listen(self) -> None:
        pattern = self.channel("*")
        head = len(self.channel("")) - 1  # "<p>:ev:{": the topic follows, then "}"
        delay = BACKOFF_MIN
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(pattern)
                while True:
                    # A timeout (not a blocking read) lets redis-py send its health-check PINGs.
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        # redis-py re-subscribes by itself after a dropped connection; either way
                        # anything published meanwhile is lost, so tell the subscribers to resync.
                        delay = BACKOFF_MIN
                        if self._subscribed.is_set():
                            log.warning("Redis pub/sub at %s re-subscribed; announcing resync", self.where)
                            await self._deliver(RESYNC_TOPIC, '{"reason": "reconnected"}')
                        self._subscribed.set()
                    elif message["type"] == "pmessage":
                        await self._deliver(message["channel"][head:-1], message["data"])
            except UNAVAILABLE as err:
                log.warning("Redis pub/sub at %s lost (%s); reconnecting in %.1fs", self.where, err, delay)
            except Exception:
                log.exception("Redis pub/sub at %s failed; reconnecting in %.1fs", self.where, delay)
            finally:
                with contextlib.suppress(*UNAVAILABLE):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _deliver(self, topic: str, raw: str) -> None:
        for handler in self.handlers(topic):
            try:
                await handler(json.loads(raw))
            except Exception:
                log.exception("subscriber of %s failed", topic)

    # Work queues

    async def _work(self, queue: str, handler: Handler) -> None:
        stream = self.stream(queue)
        me = asyncio.current_task()
        assert me is not None
        delay = BACKOFF_MIN
        while not self._stopping:
            try:
                await self._ensure_group(stream)
                next_claim = 0.0
                while not self._stopping:
                    jobs: list[Job] = []
                    if time.monotonic() >= next_claim:
                        jobs = await self._claim(stream)
                        next_claim = time.monotonic() + self._claim_idle / 2
                    if not jobs:
                        self._waiting.add(me)
                        try:
                            jobs = await self._read(stream)
                        finally:
                            self._waiting.discard(me)
                    for job in jobs:
                        await self._run(queue, handler, *job)
                    delay = BACKOFF_MIN
                return
            except ResponseError as err:
                if "NOGROUP" in str(err):  # the stream vanished (e.g. Redis restarted without data)
                    continue
                log.exception("queue %s: Redis refused a command", queue)
            except UNAVAILABLE as err:
                log.warning("queue %s: Redis at %s unreachable (%s); retrying in %.1fs", queue, self.where, err, delay)
            except Exception:
                log.exception("queue %s: consumer loop failed; restarting in %.1fs", queue, delay)
            self._waiting.add(me)
            try:
                await asyncio.sleep(delay)
            finally:
                self._waiting.discard(me)
            delay = min(delay * 2, BACKOFF_MAX)

    async def _ensure_group(self, stream: str) -> None:
        try:
            # From id 0, not $: jobs enqueued before the first consumer started are not skipped.
            await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise

    async def _read(self, stream: str) -> list[Job]:
        raw = await self.redis.xreadgroup(GROUP, self.consumer_name, {stream: ">"}, count=BATCH, block=self._block_ms)
        # redis-py types the reply of both protocol versions; this client speaks RESP2 with decoded strings.
        reply = cast(list[tuple[str, list[tuple[str, dict[str, str] | None]]]] | None, raw)
        return [(entry_id, fields, 1) for _name, entries in reply or [] for entry_id, fields in entries]

    async def _claim(self, stream: str) -> list[Job]:
        """Take over jobs pending longer than `claim_idle`: failed ones and those of dead consumers."""
        reply = await self.redis.xautoclaim(
            stream, GROUP, self.consumer_name, int(self._claim_idle * 1000), "0-0", count=BATCH
        )
        jobs: list[Job] = []
        for entry_id, fields in reply[1]:
            pending = await self.redis.xpending_range(stream, GROUP, entry_id, entry_id, 1)
            jobs.append((entry_id, fields, int(pending[0]["times_delivered"]) if pending else 1))
        return jobs

    async def _run(
        self, queue: str, handler: Handler, entry_id: str, fields: dict[str, str] | None, attempt: int
    ) -> None:
        stream = self.stream(queue)
        raw = (fields or {}).get("job")
        if raw is None or attempt > self._max_attempts:
            # Deleted or trimmed while pending, or it killed its consumers every time.
            log.error("queue %s: dropping job %s (delivery %d): %.500s", queue, entry_id, attempt, raw)
            await self.redis.xack(stream, GROUP, entry_id)
            return
        try:
            await handler(json.loads(raw))
        except Exception:
            if attempt < self._max_attempts:
                log.exception(
                    "queue %s: job %s failed (attempt %d of %d); retrying in %.0fs",
                    *(queue, entry_id, attempt, self._max_attempts, self._claim_idle),
                )
                return
            log.exception("queue %s: job %s failed %d times; dropped: %.500s", queue, entry_id, attempt, raw)
        await self.redis.xack(stream, GROUP, entry_id)

    async def _forget_consumer(self, queue: str) -> None:
        """Leave the group tidy: remove this consumer unless it still holds jobs for others to claim."""
        stream = self.stream(queue)
        with contextlib.suppress(*UNAVAILABLE, ResponseError, TimeoutError):
            async with asyncio.timeout(2):
                if not await self.redis.xpending_range(stream, GROUP, "-", "+", 1, consumername=self.consumer_name):
                    await self.redis.xgroup_delconsumer(stream, GROUP, self.consumer_name)


REFUND_SCRIPT = (
    "if redis.call('GET', KEYS[1]) and tonumber(redis.call('GET', KEYS[1])) > 0 then "
    "return redis.call('DECR', KEYS[1]) end return 0"
)


class RedisRateLimiter(RateLimiter):
    """`MemoryRateLimiter`'s fixed windows, shared by every process.

    The window starts at a key's first hit (``EXPIRE NX``); the count is incremented before it is
    compared, in one MULTI, so concurrent hits cannot pass the limit. While Redis is unreachable every
    hit is allowed (with a warning): refusing customers' messages during an outage would lose them.
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._warned_at = -math.inf

    def key(self, key: str) -> str:
        return f"{self._prefix}:rl:{{{key}}}"

    async def hit(self, key: str, limit: int, window_seconds: int) -> Verdict:
        name = self.key(key)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, window_seconds, nx=True)
                pipe.pttl(name)
                count, _, ttl_ms = await pipe.execute()
        except UNAVAILABLE as err:
            self._warn(err)
            return Verdict(True, 0)
        if count > limit:
            return Verdict(False, max(1, math.ceil(ttl_ms / 1000)), count)
        return Verdict(True, 0, count)

    async def count(self, key: str) -> int:
        try:
            value = await self._redis.get(self.key(key))
        except UNAVAILABLE as err:
            self._warn(err)
            return 0
        return int(value or 0)

    async def reset(self, key: str) -> None:
        try:
            await self._redis.delete(self.key(key))
        except UNAVAILABLE as err:
            self._warn(err)

    async def refund(self, key: str) -> None:
        # DECR only an existing counter: a refund after the window expired must not go negative.
        name = self.key(key)
        try:
            await self._redis.eval(REFUND_SCRIPT, 1, name)
        except UNAVAILABLE as err:
            self._warn(err)

    def _warn(self, err: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 30:
            self._warned_at = now
            log.warning("rate limits are not enforced: Redis unreachable (%s)", err)
