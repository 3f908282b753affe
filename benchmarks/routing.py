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

from sqlalchemy import insert, select, text, update

from lines.console import app as _app  # noqa: F401  (loads the channels before the inbox)
from lines.console.bus import MemoryBus
from lines.console.db import create_engine, session_maker
from lines.console.events import Events
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


async def drain(url: str, schema: str, seed_: int) -> list[float]:
    """Serve the waiting queue until a pass assigns nothing; latency of every decision that assigned."""
    engine = create_engine(url, schema)
    router = Router(session_maker(engine), Events(MemoryBus()), quiet, arrival_grace=timedelta(0))
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
    await engine.dispose()
    return latencies


async def releases(url: str, schema: str, count: int) -> list[float]:
    """Resolve an assigned conversation, then route the next in line: latency of that decision."""
    engine = create_engine(url, schema)
    sessions = session_maker(engine)
    router = Router(sessions, Events(MemoryBus()), quiet, arrival_grace=timedelta(0))
    latencies = []
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
        start = time.perf_counter()
        await router.serve_queue(limit=1)
        latencies.append(time.perf_counter() - start)
    await engine.dispose()
    return latencies


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000 if ordered else float("nan")


def report(label: str, latencies: list[float], wall: float) -> None:
    print(
        f"| {label} | {len(latencies):,} | {len(latencies) / wall:,.0f} | "
        f"{pct(latencies, 0.5):.1f} | {pct(latencies, 0.99):.1f} |"
    )


def _worker(url: str, schema: str, index: int, out: Any) -> None:
    out.put(asyncio.run(drain(url, schema, index)))


async def embedded() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'lines.db'}"
        await seed(url, "")
        start = time.perf_counter()
        latencies = await drain(url, "", 1)
        report("SQLite, one process: arrivals", latencies, time.perf_counter() - start)
        start = time.perf_counter()
        latencies = await releases(url, "", 1000)
        report("SQLite, one process: release + next", latencies, time.perf_counter() - start)


async def postgres(url: str, workers: int) -> None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        await seed(url, schema)
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        processes = [context.Process(target=_worker, args=(url, schema, i, out)) for i in range(workers)]
        start = time.perf_counter()
        for process in processes:
            process.start()
        latencies = [value for _ in processes for value in out.get()]
        wall = time.perf_counter() - start
        for process in processes:
            process.join()
        report(f"PostgreSQL, {workers} worker processes: arrivals", latencies, wall)
        start = time.perf_counter()
        latencies = await releases(url, schema, 1000)
        report("PostgreSQL, one process: release + next", latencies, time.perf_counter() - start)
    finally:
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
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--teams", type=int, default=TEAMS, help="teams of 50 operators (default 20: 1,000 operators)")
    parser.add_argument("--waiting", type=int, default=WAITING, help="waiting conversations (default 10,000)")
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    TEAMS, WAITING = args.teams, args.waiting
    print(f"{TEAMS * PER_TEAM:,} operators, {WAITING:,} waiting")
    print("| setup | decisions | decisions/s | p50 (ms) | p99 (ms) |\n|---|---|---|---|---|")
    if not args.skip_embedded:
        asyncio.run(embedded())
    if args.postgres:
        asyncio.run(postgres(args.postgres, args.workers))
    simulator()


if __name__ == "__main__":
    main()
