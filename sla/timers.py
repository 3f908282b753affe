"""Durable SLA timers: the nearest warning or deadline of each conversation, fired when due.

The store is the source of truth (`conversation_sla.next_fire_at`, indexed), so timers survive
restarts and a deadline passed while the system was down fires at start. Embedded mode polls the
store every tick. Scaled mode keeps a Redis sorted set (score = due time) that each worker claims
from with `ZREM` (only one worker gets 1 back); a store sweep every `sweep_seconds` covers Redis
outages and lost entries (docs/reliability.md#redis-down). Either way, firing itself is guarded by the
unique `sla_events` row, so a timer claimed twice still fires once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from lines.console.db import SessionMaker
from lines.console.periodic import stop_task
from lines.sla.models import ConversationSla
from lines.sla.service import SlaService

log = logging.getLogger(__name__)
BATCH = 500
CONCURRENCY = 4  # fires at a time on PostgreSQL
MAX_SWEEP_BATCHES = 100


class RedisTimers:
    """The scaled timer index: a sorted set of conversation ids by due time."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}:sla:timers"

    async def schedule(self, conversation_id: int, at: datetime | None) -> None:
        if at is None:
            await self.redis.zrem(self.key, str(conversation_id))
        else:
            await self.redis.zadd(self.key, {str(conversation_id): at.timestamp()})

    async def schedule_many(self, entries: list[tuple[int, datetime]]) -> None:
        if entries:
            await self.redis.zadd(self.key, {str(i): at.timestamp() for i, at in entries})

    async def claim_due(self, now: datetime) -> list[int]:
        """Due ids this worker won: ZREM returns 1 to exactly one of the workers racing for one."""
        # redis-py types the reply of both protocol versions; this client speaks RESP2 with decoded strings.
        due = cast(list[str], await self.redis.zrangebyscore(self.key, "-inf", now.timestamp(), start=0, num=BATCH))
        if not due:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for member in due:
                pipe.zrem(self.key, member)
            won = await pipe.execute()
        return [int(member) for member, removed in zip(due, won, strict=True) if removed]


class TimerLoop:
    """Fires due SLA timers in one process; start()/stop() are idempotent."""

    def __init__(
        self,
        service: SlaService,
        sessions: SessionMaker,
        tick: float,
        sweep: float,
        redis_timers: RedisTimers | None = None,
        concurrency: int = 1,
    ) -> None:
        self._service = service
        self._sessions = sessions
        self._tick = tick
        self._sweep = sweep
        self.redis = redis_timers
        # SQLite has one connection, so concurrent fires only queue for it: keep 1 there.
        self._concurrency = concurrency
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = float("-inf")
        self.fired = 0

    async def start(self) -> None:
        if self._task is not None:
            return
        await self.sweep()  # what fell due while we were down fires now, once
        if self.redis is not None:
            await self.rebuild()
        self._task = asyncio.create_task(self._run(), name="sla-timers")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)

    async def schedule(self, conversation_id: int, at: datetime | None) -> None:
        """Called after every update: keeps the Redis index in step with the store."""
        if self.redis is None:
            return
        try:
            await self.redis.schedule(conversation_id, at)
        except (RedisError, ConnectionError, OSError) as err:
            log.warning(
                "SLA timer for conversation %s not indexed in Redis (the sweep covers it): %s", conversation_id, err
            )

    async def rebuild(self) -> None:
        """Index every stored timer in Redis (after start or a Redis outage)."""
        assert self.redis is not None
        last = 0
        while True:
            async with self._sessions() as session:
                rows = (
                    await session.execute(
                        select(ConversationSla.conversation_id, ConversationSla.next_fire_at)
                        .where(ConversationSla.next_fire_at.is_not(None), ConversationSla.conversation_id > last)
                        .order_by(ConversationSla.conversation_id)
                        .limit(5000)
                    )
                ).all()
            if not rows:
                return
            try:
                await self.redis.schedule_many([(r[0], r[1]) for r in rows if r[1] is not None])
            except (RedisError, ConnectionError, OSError) as err:
                log.warning("rebuilding the Redis SLA timers failed: %s", err)
                return
            last = rows[-1][0]

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("firing SLA timers failed")
            await asyncio.sleep(self._tick)

    async def tick(self) -> int:
        """One pass: claim what is due (Redis in scaled mode, else the store) and fire it."""
        now = self._service.clock()
        if self.redis is None or time.monotonic() - self._last_sweep >= self._sweep:
            return await self.sweep()
        try:
            ids = await self.redis.claim_due(now)
        except (RedisError, ConnectionError, OSError) as err:
            log.warning("Redis SLA timers unavailable, sweeping the store: %s", err)
            return await self.sweep()
        return await self._fire(ids)

    async def sweep(self) -> int:
        """Fire every timer the store says is due; also picks up policy changes of other workers."""
        self._last_sweep = time.monotonic()
        # The worker that saved a new document recomputes the open conversations; the others only
        # need it for what they fire from now on.
        await self._service.refresh_policies()
        total = 0
        for _ in range(MAX_SWEEP_BATCHES):  # bounded: a row that keeps failing cannot spin it forever
            now = self._service.clock()
            async with self._sessions() as session:
                ids = list(
                    (
                        await session.scalars(
                            select(ConversationSla.conversation_id)
                            .where(ConversationSla.next_fire_at <= now)
                            .order_by(ConversationSla.next_fire_at)
                            .limit(BATCH)
                        )
                    ).all()
                )
            if not ids:
                return total
            total += await self._fire(ids)
            if len(ids) < BATCH:
                return total
        return total

    async def _fire(self, ids: list[int]) -> int:
        """Fire a batch, `concurrency` conversations at a time, each in its own transaction."""
        gate = asyncio.Semaphore(self._concurrency)

        async def one(conversation_id: int) -> int:
            async with gate:
                try:
                    outcome = await self._service.update(conversation_id)  # reschedules via `schedule`
                except Exception:
                    log.exception("firing the SLA timer of conversation %s failed", conversation_id)
                    return 0
                return len(outcome.fired) if outcome is not None else 0

        count = sum(await asyncio.gather(*(one(i) for i in ids)))
        self.fired += count
        return count
