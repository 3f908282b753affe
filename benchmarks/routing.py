"""Routing speed: assignment decisions per second and decision latency, and the what-if simulator.

    .venv/bin/python benchmarks/routing.py                       # embedded (SQLite) + simulator
    .venv/bin/python benchmarks/routing.py --postgres URL        # also PostgreSQL, four worker processes

World: 1,000 operators in 20 teams of 50 (capacity 5 chats each, so 5,000 slots), 10,000 waiting
web chats spread over the teams by a `source` rule per team. All operators come online; the
waiting queue is served (arrivals), then conversations are resolved one at a time and the next in
line is routed (releases). A decision is one `Router.route` call: lock, classify, load candidates
with their loads, choose, recount under the operator's lock, write the assignment, its explanation
and the system message, commit, publish.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from lines.console import app as _app  # noqa: F401  (loads the channels before the inbox)
from lines.console.bus import MemoryBus
from lines.console.bus.redis import RedisBus
from lines.console.db import create_engine, session_maker
from lines.console.events import CHANGES_QUEUE, Events
from lines.console.models import Contact, Conversation, Operator, Presence, Status, Team, operator_teams, utcnow
from lines.console.schema import metadata
from lines.routing.engine import Router
from lines.routing.models import RoutingRulesVersion
from lines.routing.rules import parse_rules
from lines.routing.simulate import SimOperator, generate, simulate

TEAMS, PER_TEAM, CAPACITY, WAITING = 20, 50, 5, 10_000


def rules_document() -> dict[str, Any]:
    return {
        "lead_types": [{"id": f"t{i}", "priority": i, "when": {"source": {"inbox": f"team{i}"}}} for i in range(TEAMS)],
        "routes": [{"lead_type": f"t{i}", "team": f"team{i}", "strategy": "least_loaded"} for i in range(TEAMS)],
        "sticky": {"enabled": True, "within_days": 30},
    }


async def seed(url: str, schema: str) -> None:
    engine = create_engine(url, schema)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = session_maker(engine)
    async with sessions() as session, session.begin():
        await session.execute(insert(Team), [{"name": f"team{i}", "title": f"Team {i}"} for i in range(TEAMS)])
        teams = dict((await session.execute(select(Team.name, Team.id))).all())
        now = utcnow()
        await session.execute(
            insert(Operator),
            [
                {
                    "login": f"op{i}",
                    "name": f"Operator {i}",
                    "password_hash": "-",
                    "capacity": {"chat": CAPACITY, "email": 10},
                    "skills": {},
                    "presence": Presence.OFFLINE,
                    "created_at": now,
                }
                for i in range(TEAMS * PER_TEAM)
            ],
        )
        operators = dict((await session.execute(select(Operator.login, Operator.id))).all())
        await session.execute(
            insert(operator_teams),
            [
                {"operator_id": operators[f"op{i}"], "team_id": teams[f"team{i // PER_TEAM}"]}
                for i in range(TEAMS * PER_TEAM)
            ],
        )
        await session.execute(insert(Contact), [{"name": f"c{i}", "created_at": now} for i in range(WAITING)])
        contacts = (await session.scalars(select(Contact.id).order_by(Contact.id))).all()
        rng = random.Random(7)
        await session.execute(
            insert(Conversation),
            [
                {
                    "contact_id": contact,
                    "channel": "webchat",
                    "inbox": f"team{rng.randrange(TEAMS)}",
                    "created_at": now,
                    "last_message_at": now,
                }
                for contact in contacts
            ],
        )
        session.add(RoutingRulesVersion(rules=rules_document(), author_name="bench", comment=""))
        await session.execute(update(Operator).values(presence=Presence.ONLINE, presence_changed_at=now))
    await engine.dispose()


def quiet() -> None:
    pass


def make_events(redis_url: str | None, prefix: str) -> Events:
    """Events on Redis (as `lines serve` in scaled mode publishes them) or in memory."""
    return Events(RedisBus(redis_url, prefix) if redis_url else MemoryBus())


async def close_events(events: Events) -> None:
    if isinstance(events.bus, RedisBus):
        await events.bus.redis.aclose()


def count_statements(engine: AsyncEngine) -> list[int]:
    """A one-element counter of the SQL statements sent through `engine` from now on."""
    count = [0]

    def record(*_args: Any) -> None:
        count[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return count


async def drain(url: str, schema: str, seed_: int, redis_url: str | None = None) -> tuple[list[float], int]:
    """Serve the waiting queue until a pass assigns nothing; latency of every decision that assigned,
    and the statements sent (including the attempts that found a team full)."""
    engine = create_engine(url, schema)
    events = make_events(redis_url, f"bench-{schema or 'sqlite'}")
    router = Router(session_maker(engine), events, quiet, arrival_grace=timedelta(0))
    statements = count_statements(engine)
    latencies: list[float] = []
    rng = random.Random(seed_)
    while True:
        waiting = list(await router.waiting(400))
        rng.shuffle(waiting)
        made = 0
        for conversation_id in waiting:
            start = time.perf_counter()
            outcome = await router.route(conversation_id)
            if outcome is not None and outcome.operator_id is not None:
                latencies.append(time.perf_counter() - start)
                made += 1
        if made == 0:
            break
    await close_events(events)
    await engine.dispose()
    return latencies, statements[0]


async def releases(url: str, schema: str, count: int, redis_url: str | None = None) -> tuple[list[float], int]:
    """Resolve an assigned conversation, then serve the queue (one decision): latency of that, and the
    statements `serve_queue` sent."""
    engine = create_engine(url, schema)
    sessions = session_maker(engine)
    events = make_events(redis_url, f"bench-{schema or 'sqlite'}")
    router = Router(sessions, events, quiet, arrival_grace=timedelta(0))
    latencies = []
    statements = 0
    counter = count_statements(engine)
    async with sessions() as session:
        assigned = list(
            (await session.scalars(select(Conversation.id).where(Conversation.assignee_id.is_not(None)))).all()
        )
    random.Random(3).shuffle(assigned)
    for conversation_id in assigned[:count]:
        async with sessions() as session, session.begin():
            await session.execute(
                update(Conversation).where(Conversation.id == conversation_id).values(status=Status.RESOLVED)
            )
        before = counter[0]
        start = time.perf_counter()
        await router.serve_queue(limit=1)
        latencies.append(time.perf_counter() - start)
        statements += counter[0] - before
    await close_events(events)
    await engine.dispose()
    return latencies, statements


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else float("nan")


def report(label: str, latencies: list[float], wall: float, statements: int) -> None:
    print(
        f"| {label} | {len(latencies):,} | {len(latencies) / wall:,.0f} | "
        f"{pct(latencies, 0.5):.1f} | {pct(latencies, 0.99):.1f} | "
        f"{statements / max(len(latencies), 1):,.1f} | {wall:,.0f} |",
        flush=True,
    )


def _worker(url: str, schema: str, index: int, redis_url: str | None, out: Any) -> None:
    out.put(asyncio.run(drain(url, schema, index, redis_url)))


async def embedded() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'lines.db'}"
        await seed(url, "")
        start = time.perf_counter()
        latencies, statements = await drain(url, "", 1)
        report("SQLite, one process: arrivals", latencies, time.perf_counter() - start, statements)
        start = time.perf_counter()
        latencies, statements = await releases(url, "", 1000)
        report("SQLite, one process: release + next", latencies, time.perf_counter() - start, statements)


async def postgres(url: str, workers: int, redis_url: str | None) -> None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        await seed(url, schema)
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        processes = [context.Process(target=_worker, args=(url, schema, i, redis_url, out)) for i in range(workers)]
        start = time.perf_counter()
        for process in processes:
            process.start()
        results = [out.get() for _ in processes]
        wall = time.perf_counter() - start
        for process in processes:
            process.join()
        latencies = [value for values, _ in results for value in values]
        bus = " + Redis" if redis_url else ""
        report(f"PostgreSQL{bus}, {workers} worker processes: arrivals", latencies, wall, sum(n for _, n in results))
        start = time.perf_counter()
        latencies, statements = await releases(url, schema, 1000, redis_url)
        report(f"PostgreSQL{bus}, one process: release + next", latencies, time.perf_counter() - start, statements)
    finally:
        if redis_url:
            redis = Redis.from_url(redis_url)
            await redis.delete(RedisBus(redis_url, f"bench-{schema}").stream(CHANGES_QUEUE))
            await redis.aclose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def simulator() -> None:
    rules = parse_rules(
        {
            "lead_types": [
                {"id": "sales", "priority": 2, "when": {"keywords_any": ["купить", "price"]}},
                {"id": "support", "priority": 9, "when": {}},
            ],
            "routes": [
                {"lead_type": "sales", "team": "sales", "strategy": "round_robin"},
                {"lead_type": "support", "team": "support", "strategy": "least_loaded"},
            ],
        }
    )
    staff = [
        SimOperator(i, f"op{i}", frozenset({"sales" if i < 15 else "support"}), {}, {"chat": 3, "email": 10})
        for i in range(50)
    ]
    arrivals = generate(
        hours=168,
        arrivals_per_hour={"webchat": 120, "telegram": 40, "email": 20},
        handle_minutes=12,
        texts=["Хочу купить диван", "где мой заказ", "what is the price", "help please", "не работает оплата"],
    )
    start = time.perf_counter()
    result = simulate(rules, staff, arrivals)
    elapsed = time.perf_counter() - start
    print(
        f"| simulator: 50 operators, one week, {len(arrivals):,} arrivals | {result['simulated_hours']:.0f} h "
        f"in {elapsed:.2f} s | {result['simulated_hours'] / elapsed:,.0f} simulated hours/s |"
    )


def main() -> None:
    global TEAMS, WAITING
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="PostgreSQL URL (postgresql+asyncpg://...) for the scaled figures")
    parser.add_argument("--redis", help="Redis URL: the workers publish events and queue changes on it")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--teams", type=int, default=TEAMS, help="teams of 50 operators (default 20: 1,000 operators)")
    parser.add_argument("--waiting", type=int, default=WAITING, help="waiting conversations (default 10,000)")
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    TEAMS, WAITING = args.teams, args.waiting
    print(f"{TEAMS * PER_TEAM:,} operators, {WAITING:,} waiting")
    print(
        "| setup | decisions | decisions/s | p50 (ms) | p99 (ms) | statements/decision | wall (s) |\n"
        "|---|---|---|---|---|---|---|",
        flush=True,
    )
    if not args.skip_embedded:
        asyncio.run(embedded())
    if args.postgres:
        asyncio.run(postgres(args.postgres, args.workers, args.redis))
    simulator()


if __name__ == "__main__":
    main()
