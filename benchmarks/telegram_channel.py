"""Telegram channel: webhook ingest rate and latency, and outbound pacing, against the test Bot API stand-in.

    .venv/bin/python benchmarks/telegram_channel.py [--updates 2000] [--concurrency 20] [--replies 200] [--database URL]

One process: a Lines app (aiohttp TestServer, SQLite file by default) with one webhook bot whose
`api_base_url` points at the stand-in from tests/channels/telegram/botapi.py. Webhook: N text
updates from N/10 users POSTed with C in flight; each latency is the POST's round trip (the update
is committed before the 200). Outbound: R replies spread over R/4 chats go through the outbox;
sends/s is bounded by the per-bot (30/s) and per-chat (1/s) limits.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lines.console.app import create_app
from lines.console.automated import send_automated
from lines.console.db import create_engine
from lines.console.keys import events_key, outbox_key, sessions_key
from lines.console.models import Conversation, DeliveryStatus, Message
from lines.console.schema import metadata
from lines.console.settings import parse_settings
from tests.channels.telegram import updates
from tests.channels.telegram.botapi import TOKEN, BotApi

SECRET = "bench-secret"  # noqa: S105 (a throwaway value for a local run)


async def prepare(url: str, schema: str) -> None:
    if schema:
        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
    engine = create_engine(url, schema)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="lines-tg-bench-"))
    url = args.database or f"sqlite+aiosqlite:///{data / 'lines.db'}"
    schema = f"bench_{uuid.uuid4().hex[:8]}" if url.startswith("postgresql") else ""
    await prepare(url, schema)
    api = BotApi()
    api_server = TestServer(api.app())
    await api_server.start_server()
    settings = parse_settings(
        {
            "storage": {"data_dir": str(data), "database_url": url, "database_schema": schema},
            "outbox": {"poll_seconds": 0.05},
            "channels": {
                "telegram": [
                    {
                        "name": "bench",
                        "token": TOKEN,
                        "mode": "webhook",
                        "webhook_url": "https://lines.example",
                        "secret_token": SECRET,
                        "api_base_url": str(api_server.make_url("/bot")),
                        "inbound_per_minute": 10_000,
                    }
                ]
            },
        },
        env={},
    )
    app = create_app(settings)
    server = TestServer(app)
    await server.start_server()
    hook = str(server.make_url("/channels/telegram/bench/webhook"))
    users = [{**updates.USER, "id": 900_000 + n, "username": f"u{n}"} for n in range(max(1, args.updates // 10))]
    batch = [updates.text(f"message {n}", user=users[n % len(users)]) for n in range(args.updates)]
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(args.concurrency)
    async with ClientSession() as http:

        async def post(update: dict[str, Any]) -> None:
            async with semaphore:
                start = time.perf_counter()
                async with http.post(hook, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as r:
                    assert r.status == 200, await r.text()
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(post(u) for u in batch))
        ingest_seconds = time.perf_counter() - began
    sessions = app[sessions_key]
    async with sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(Message))
        conversation_ids = list((await session.scalars(select(Conversation.id).order_by(Conversation.id))).all())
    chats = conversation_ids[: max(1, args.replies // 4)]
    began = time.perf_counter()
    ids = [
        await send_automated(sessions, app[events_key], app[outbox_key].notify, chats[n % len(chats)], f"reply {n}")
        for n in range(args.replies)
    ]
    while True:
        async with sessions() as session:
            done = await session.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.id.in_(ids), Message.delivery_status == DeliveryStatus.SENT)
            )
        if done == len(ids):
            break
        await asyncio.sleep(0.05)
    send_seconds = time.perf_counter() - began
    await server.close()
    await api_server.close()
    latencies.sort()
    return {
        "database": "postgresql" if schema else "sqlite",
        "updates": args.updates,
        "stored": stored,
        "concurrency": args.concurrency,
        "updates_per_s": round(args.updates / ingest_seconds, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "replies": args.replies,
        "chats": len(chats),
        "sent_per_s": round(args.replies / send_seconds, 1),
        "sent_to_stand_in": len(api.sent),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--database", default="")
    print(asyncio.run(main(parser.parse_args())))
