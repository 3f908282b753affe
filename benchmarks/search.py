"""Search: p50/p99 of `GET /api/v1/search`'s query over 100,000 messages, SQLite and PostgreSQL.

Seeds 15,000 conversations with 100,000 messages (Russian and English sentences from a small
vocabulary, so common words hit thousands of messages and rare ones a few) in 5 teams through the
app's ORM sessions, so the search tables are written by the same flush hook as in production (its
cost is the seeding rate printed). Then runs `lines.console.search.query.search` for an operator of
one team and for an admin: a common word, a rare word, another word form, two words, a contact's
name, a conversation number. Each figure is printed with the machine's load (`uptime`) beside it.

    .venv/bin/python benchmarks/search.py
    .venv/bin/python benchmarks/search.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from lines.console.access import Scope
from lines.console.db import SessionMaker, create_engine, is_sqlite, session_maker
from lines.console.models import Contact, Conversation, Message, Role, Team
from lines.console.schema import metadata
from lines.console.search.query import search

RU = [
    "доставка",
    "заказа",
    "курьер",
    "оплата",
    "карта",
    "возврат",
    "деньги",
    "посылка",
    "адрес",
    "телефон",
    "скидка",
    "товар",
    "склад",
    "чек",
]
EN = [
    "delivery",
    "order",
    "courier",
    "payment",
    "card",
    "refund",
    "money",
    "parcel",
    "address",
    "phone",
    "discount",
    "item",
    "warehouse",
]
RARE = ("бандероль", "parcelforce")
NAMES = ["Вера", "Анна", "Иван", "Пётр", "Мария", "Ольга", "Сергей", "Никита", "Тамара", "Олег"]
QUERIES = {
    "common word (ru)": "доставка",
    "other word form (ru)": "доставки",
    "two words (ru)": "курьер адреса",
    "common word (en)": "deliveries",
    "rare word": "бандероли",
    "contact name": "тамары",
    "conversation number": "#7777",
}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def sentence(rng: random.Random) -> str:
    words = RU if rng.random() < 0.6 else EN
    out = rng.sample(words, 6)
    if rng.random() < 0.001:
        out.append(rng.choice(RARE))
    return " ".join(out).capitalize()


async def seed(sessions: SessionMaker, conversations: int, messages: int) -> int:
    rng = random.Random(7)
    per = messages // conversations
    extra = messages - per * conversations
    async with sessions() as session, session.begin():
        teams = [Team(name=f"team{i}") for i in range(5)]
        session.add_all(teams)
        await session.flush()
        team_ids = [t.id for t in teams]
    batch = 500
    for start in range(0, conversations, batch):
        async with sessions() as session, session.begin():
            for n in range(start, min(start + batch, conversations)):
                contact = Contact(name=f"{rng.choice(NAMES)} {n}", email=f"c{n}@example.org", phone=f"+7916{n:07d}")
                session.add(contact)
                await session.flush()
                conversation = Conversation(
                    contact_id=contact.id, channel="webchat", inbox="demo", team_id=rng.choice(team_ids)
                )
                session.add(conversation)
                await session.flush()
                count = per + (1 if n < extra else 0)
                session.add_all(
                    Message(
                        conversation_id=conversation.id,
                        channel_key="webchat:demo",
                        direction="in" if i % 2 == 0 else "out",
                        author_kind="contact" if i % 2 == 0 else "operator",
                        text=sentence(rng),
                        delivery_status="received",
                    )
                    for i in range(count)
                )
    return team_ids[0]


async def measure(sessions: SessionMaker, scope: Scope, q: str, runs: int) -> tuple[float, float, int]:
    times = []
    found = 0
    for _ in range(runs):
        async with sessions() as session:
            started = time.perf_counter()
            result = await search(session, scope, q)
            times.append((time.perf_counter() - started) * 1000)
            found = len(result["messages"]) + len(result["conversations"])
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], found


async def main(url: str, conversations: int, messages: int, runs: int) -> None:
    schema = "" if is_sqlite(url) else f"bench_{uuid.uuid4().hex[:8]}"
    if schema:
        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    engine = create_engine(url, schema)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = session_maker(engine)
        started = time.perf_counter()
        team = await seed(sessions, conversations, messages)
        took = time.perf_counter() - started
        print(
            f"{engine.dialect.name}: seeded {messages} messages in {took:.0f} s "
            f"({messages / took:.0f}/s) [load {load()}]"
        )
        if not schema:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO search_messages(search_messages) VALUES ('optimize')"))
        else:
            async with engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        who = {
            "operator (1 of 5 teams)": Scope(1, Role.OPERATOR, frozenset({team})),
            "admin": Scope(2, Role.ADMIN, frozenset()),
        }
        print("| query | who | p50 ms | p99 ms | hits on page 1 | load (1/5/15 min) |")
        print("|---|---|---|---|---|---|")
        for label, q in QUERIES.items():
            for name, scope in who.items():
                p50, p99, hits = await measure(sessions, scope, q, runs)
                print(f"| {label} `{q}` | {name} | {p50:.1f} | {p99:.1f} | {hits} | {load()} |")
    finally:
        await engine.dispose()
        if schema:
            admin = create_engine(url)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--conversations", type=int, default=15_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(main(url, args.conversations, args.messages, args.runs))
