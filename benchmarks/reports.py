"""Report rollups: how fast the change processor counts conversations, and how long reports take.

Seeds N conversations over 90 days (random channel, team, touchpoint, response and resolution times)
straight into a fresh store, counts each through `Rollups.count` (what the change processor does per
job), then times `report()` and `touchpoint_map()` over 30 and 366 days. Reports read only the
rollup counters, so their time depends on days x keys, not on the number of conversations.

    .venv/bin/python benchmarks/reports.py --conversations 5000
    .venv/bin/python benchmarks/reports.py --conversations 5000 --database-url postgresql+asyncpg://...
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from lines.channels import CHANNELS as CHANNEL_KINDS
from lines.console.customers.reports import report, touchpoint_map
from lines.console.customers.rollups import Rollups
from lines.console.db import create_engine, session_maker
from lines.console.models import Contact, Conversation, Team
from lines.console.schema import metadata

CHANNELS = tuple(CHANNEL_KINDS)
PAGES = [f"https://shop.example/p{i}" for i in range(20)]


async def seed(sessions: object, count: int, end: datetime) -> list[int]:
    rng = random.Random(7)
    ids: list[int] = []
    async with sessions() as session, session.begin():  # type: ignore[operator]
        teams = [Team(name=f"team{i}") for i in range(5)]
        session.add_all(teams)
        await session.flush()
        for n in range(count):
            contact = Contact(name=f"c{n}")
            session.add(contact)
            await session.flush()
            created = end - timedelta(days=rng.uniform(0, 90))
            frt = rng.expovariate(1 / 900) if rng.random() < 0.9 else None
            resolved = rng.expovariate(1 / 7200) if rng.random() < 0.8 else None
            conversation = Conversation(
                contact_id=contact.id,
                channel=rng.choice(CHANNELS),
                inbox="main",
                team_id=rng.choice(teams).id,
                status="resolved" if resolved else "open",
                source={"url": rng.choice(PAGES)} if rng.random() < 0.6 else {},
                created_at=created,
                last_message_at=created,
                first_response_at=created + timedelta(seconds=frt) if frt else None,
                resolved_at=created + timedelta(seconds=resolved) if resolved else None,
                sla_state=rng.choice(("met", "breached", "ok", None)),
            )
            session.add(conversation)
            await session.flush()
            ids.append(conversation.id)
    return ids


async def timed(runs: int, coro_factory: object) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await coro_factory()  # type: ignore[operator]
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        schema = f"bench_{uuid.uuid4().hex[:8]}" if url.startswith("postgresql") else ""
        if schema:
            admin = create_engine(url)
            async with admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            await admin.dispose()
        engine = create_engine(url, schema)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = session_maker(engine)
        end = datetime.now(UTC)
        ids = await seed(sessions, args.conversations, end)
        rollups = Rollups(sessions)
        start = time.perf_counter()
        for conversation_id in ids:
            await rollups.count(conversation_id)
        counting = time.perf_counter() - start
        async with sessions() as session:
            rows = (await session.execute(text("SELECT count(*) FROM report_counters"))).scalar_one()
            today = end.date()
            results = {}
            for days in (30, 366):
                first = today - timedelta(days=days - 1)
                results[f"report by channel, {days} days"] = await timed(
                    20, lambda f=first: report(session, "channel", f, today)
                )
                results[f"report by touchpoint, {days} days"] = await timed(
                    20, lambda f=first: report(session, "touchpoint", f, today)
                )
                results[f"touchpoint map, {days} days"] = await timed(
                    20, lambda f=first: touchpoint_map(session, f, today)
                )
        await engine.dispose()
        if schema:
            admin = create_engine(url)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()
    print(f"database: {url.split(':')[0]}; conversations: {len(ids)}; counter rows: {rows}")
    print(f"rollup counting: {len(ids) / counting:.0f} conversations/s ({counting * 1000 / len(ids):.2f} ms each)")
    for name, ms in results.items():
        print(f"{name}: median {ms:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
