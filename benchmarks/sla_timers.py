"""SLA timers under load: 100,000 active timers, firing lateness, rescheduling rate; embedded and Redis.

    python benchmarks/sla_timers.py --timers 100000 --due 1000 --window 20
    python benchmarks/sla_timers.py --redis-url redis://127.0.0.1:6379/0 \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

Loads `--timers` open conversations with SLA clocks straight into a fresh store (SQLite file, or a
new PostgreSQL schema), of which `--due` fall due spread over the next `--window` seconds and the
rest a day later. Then, in this process:
  * memory: process RSS before and after (embedded keeps no index in memory: the store is the
    index) and, with Redis, the sorted set's `MEMORY USAGE`;
  * lateness: the timer loop runs as in `lines serve`; each fire's lateness is `fired_at - due_at`
    of its `sla_events` row (p50/p99/max);
  * rescheduling: `--reschedule` conversations recomputed one by one (a customer message or a
    policy change does the same work), as updates/s.
Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import insert, select, text

from lines.console.bus import MemoryBus
from lines.console.db import create_engine, session_maker
from lines.console.events import Events
from lines.console.models import Contact, Conversation
from lines.console.schema import metadata
from lines.sla.clocks import new_clocks
from lines.sla.models import ConversationSla, SlaEvent
from lines.sla.policies import PolicySet
from lines.sla.service import SlaService
from lines.sla.timers import RedisTimers, TimerLoop

FIRST_RESPONSE = 3600
DOCUMENT = {
    "calendars": [{"id": "24x7", "timezone": "UTC", "always_open": True}],
    "policies": [
        {
            "id": "bench",
            "applies_to": {},
            "calendar": "24x7",
            "first_response_seconds": FIRST_RESPONSE,
            "warn_at": 1.0,
        }
    ],
}


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def load(sessions: Any, timers: int, due: int, window: float) -> datetime:
    start = datetime.now(UTC) + timedelta(seconds=3)
    async with sessions() as session, session.begin():
        contact_id = (await session.execute(insert(Contact).values(name="bench").returning(Contact.id))).scalar_one()
    rng = random.Random(7)
    chunk = 5000
    for first in range(0, timers, chunk):
        rows, slas = [], []
        for n in range(first, min(first + chunk, timers)):
            if n < due:
                fire = start + timedelta(seconds=rng.uniform(0, window))
            else:
                fire = start + timedelta(days=1, seconds=rng.uniform(0, 86400))
            created = fire - timedelta(seconds=FIRST_RESPONSE)
            rows.append(
                {
                    "id": n + 1,
                    "contact_id": contact_id,
                    "channel": "webchat",
                    "inbox": "bench",
                    "status": "open",
                    "priority": "normal",
                    "subject": "",
                    "source": {},
                    "created_at": created,
                    "updated_at": created,
                    "last_message_at": created,
                    "sla_due_at": fire,
                    "sla_state": "ok",
                }
            )
            slas.append(
                {
                    "conversation_id": n + 1,
                    "policy_id": "bench",
                    "clocks": new_clocks(created, "open"),
                    "deadlines": {},
                    "state": "ok",
                    "breached": False,
                    "next_fire_at": fire,
                    "updated_at": created,
                }
            )
        async with sessions() as session, session.begin():
            await session.execute(insert(Conversation), rows)
            await session.execute(insert(ConversationSla), slas)
    return start


async def run(args: argparse.Namespace) -> dict[str, Any]:
    schema = ""
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    if args.database_url:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    engine = create_engine(url, schema)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = session_maker(engine)
    redis = Redis.from_url(args.redis_url, decode_responses=True) if args.redis_url else None
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    result: dict[str, Any] = {
        "store": "postgresql" if args.database_url else "sqlite",
        "index": "redis" if redis else "store",
        "timers": args.timers,
        "due": args.due,
        "window_s": args.window,
    }
    try:
        began = time.perf_counter()
        start = await load(sessions, args.timers, args.due, args.window)
        result["load_s"] = round(time.perf_counter() - began, 1)
        # Loading takes a while: run the service on a clock shifted back so that the first timers
        # fall due 3 s after the loop starts, as they were planned.
        shift = datetime.now(UTC) - (start - timedelta(seconds=3))
        service = SlaService(sessions, Events(MemoryBus()), clock=lambda: datetime.now(UTC) - shift)
        service.policies = PolicySet.parse(DOCUMENT)
        redis_timers = RedisTimers(redis, prefix) if redis else None
        loop = TimerLoop(service, sessions, args.tick, args.sweep, redis_timers, 4 if args.database_url else 1)
        service.scheduler = loop.schedule
        rss_before = rss_mib()
        began = time.perf_counter()
        await loop.start()  # with Redis: indexes every stored timer
        result["start_s"] = round(time.perf_counter() - began, 2)
        result["rss_mib_before_start"] = round(rss_before, 1)
        result["rss_mib_after_start"] = round(rss_mib(), 1)
        if redis is not None:
            used = await redis.memory_usage(redis_timers.key) if redis_timers else 0
            result["redis_set_mib"] = round((used or 0) / 2**20, 1)
            result["redis_bytes_per_timer"] = round((used or 0) / args.timers, 1)
        deadline = time.monotonic() + args.window + 60
        fired = 0
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            async with sessions() as session:
                fired = (
                    await session.scalar(
                        select(text("count(*)")).select_from(SlaEvent).where(SlaEvent.kind == "breached")
                    )
                    or 0
                )
            if fired >= args.due:
                break
        await loop.stop()
        async with sessions() as session:
            rows = (
                await session.execute(select(SlaEvent.due_at, SlaEvent.fired_at).where(SlaEvent.kind == "breached"))
            ).all()
        lateness = [(f - d).total_seconds() * 1000 for d, f in rows]
        result["fired"] = len(lateness)
        if lateness:
            result["lateness_ms_p50"] = round(statistics.median(lateness), 1)
            result["lateness_ms_p99"] = round(percentile(lateness, 99), 1)
            result["lateness_ms_max"] = round(max(lateness), 1)
        ids = random.Random(3).sample(range(args.due + 1, args.timers + 1), args.reschedule)
        began = time.perf_counter()
        for conversation_id in ids:
            await service.update(conversation_id, rematch=True)
        result["reschedules_per_s"] = round(args.reschedule / (time.perf_counter() - began), 1)
        result["rss_mib_end"] = round(rss_mib(), 1)
    finally:
        if redis is not None:
            await redis.delete(f"{prefix}:sla:timers")
            await redis.aclose()
        await engine.dispose()
        if schema:
            admin = create_engine(url)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()
        tmp.cleanup()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=1000, help="timers falling due during the run")
    parser.add_argument("--window", type=float, default=20.0, help="seconds over which they fall due")
    parser.add_argument("--reschedule", type=int, default=1000)
    parser.add_argument("--tick", type=float, default=0.1, help="[sla] timer_tick_seconds")
    parser.add_argument("--sweep", type=float, default=30.0, help="[sla] sweep_seconds")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
