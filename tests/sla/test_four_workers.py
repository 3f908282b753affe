"""Scaled mode: four `lines serve` processes on PostgreSQL + Redis fire each SLA timer exactly once,
and send each escalation email exactly once (to an aiosmtpd sink)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from lines.console.db import create_engine
from tests.channels.email.servers import Sink
from tests.conftest import need
from tests.sla.test_app import QUICK
from tests.test_two_processes import Server, free_port, stop, wait_healthy

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres, pytest.mark.redis]

WORKERS = 4
CONVERSATIONS = 12


class Site:
    def __init__(self, tmp: Path, schema: str, prefix: str, database_url: str, redis_url: str, smtp_port: int) -> None:
        self.tmp, self.schema, self.prefix = tmp, schema, prefix
        self.redis_url = redis_url
        self.config = tmp / "lines.toml"
        policies = tmp / "sla.json"
        policies.write_text(json.dumps(QUICK), encoding="utf-8")
        self.config.write_text(
            f"""
[server]
host = "127.0.0.1"
public_url = "https://lines.example"
[storage]
database_schema = "{schema}"
[bus]
key_prefix = "{prefix}"
[sla]
policies_file = "{policies}"
timer_tick_seconds = 0.05
sweep_seconds = 0.5
[notifications.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
smtp_tls = "none"
from_address = "lines@shop.example"
poll_seconds = 0.1
""",
            encoding="utf-8",
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LINES_")},
            "LINES_DATABASE_URL": database_url,
            "LINES_REDIS_URL": redis_url,
            "LINES_DATA_DIR": str(tmp / "data"),
            "LINES_SECRET_KEY": "four-workers-share-this-secret-0123456789",
        }

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "lines.console.cli", *args, "--config", str(self.config)]

    def run(self, *args: str) -> None:
        done = subprocess.run(self.command(*args), env=self.env, capture_output=True, check=False)
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()

    def serve(self, name: str) -> Server:
        port, log = free_port(), self.tmp / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*self.command("serve", "--no-migrate", "--port", str(port))],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return Server(name, port, process, log)


@pytest.fixture
async def site(tmp_path: Path, sink: Sink) -> AsyncIterator[Site]:
    database_url = need("LINES_TEST_DATABASE_URL", "PostgreSQL")
    redis_url = need("LINES_TEST_REDIS_URL", "Redis")
    schema, prefix = f"t_{uuid.uuid4().hex[:12]}", f"t{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Site(tmp_path, schema, prefix, database_url, redis_url, sink.port)  # type: ignore[attr-defined]
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
        async with Redis.from_url(redis_url) as redis:
            keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
            if keys:
                await redis.delete(*keys)


async def seed_conversations(site: Site) -> list[int]:
    """Open conversations already in the store, as after ingest, without SLA clocks yet."""
    engine = create_engine(need("LINES_TEST_DATABASE_URL", "PostgreSQL"), site.schema)
    now = datetime.now(UTC)
    ids = []
    async with engine.begin() as conn:
        for n in range(CONVERSATIONS):
            contact = await conn.scalar(
                text(
                    "INSERT INTO contacts (name, attributes, tags, blocked, created_at, updated_at) "
                    "VALUES (:name, '{}', '[]', false, :now, :now) RETURNING id"
                ),
                {"name": f"c{n}", "now": now},
            )
            ids.append(
                await conn.scalar(
                    text(
                        "INSERT INTO conversations (contact_id, channel, inbox, status, priority, subject, source,"
                        " created_at, updated_at, last_message_at) VALUES (:contact, 'webchat', 'demo', 'open',"
                        " 'normal', '', '{}', :now, :now, :now) RETURNING id"
                    ),
                    {"contact": contact, "now": now},
                )
            )
    await engine.dispose()
    return ids


async def test_four_workers_fire_each_warning_and_breach_exactly_once(site: Site, sink: Sink) -> None:
    site.run("db", "upgrade")
    site.run(
        "user", "add", "lena", "--password", "demo", "--role", "lead", "--name", "Lena", "--email", "lena@shop.example"
    )
    conversation_ids = await seed_conversations(site)
    servers = [site.serve(f"w{n}") for n in range(WORKERS)]
    fired: Counter[tuple[str, int]] = Counter()
    redis = Redis.from_url(site.redis_url, decode_responses=True)
    pubsub = redis.pubsub()
    await pubsub.subscribe(f"{site.prefix}:ev:{{events}}")
    try:
        async with aiohttp.ClientSession() as http:
            for server in servers:
                await wait_healthy(http, server)
            async with http.post(
                f"{servers[0].url}/api/v1/auth/login", json={"login": "lena", "password": "demo"}
            ) as r:
                token = (await r.json())["token"]
            async with http.put(
                f"{servers[0].url}/api/v1/sla/policies", json=QUICK, headers={"Authorization": f"Bearer {token}"}
            ) as response:
                assert response.status == 202, await response.text()
                assert (await response.json())["recomputing"] is True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        expected = 2 * CONVERSATIONS + 1  # and one sla.recomputed
        quiet_until = None
        while loop.time() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is not None:
                event = json.loads(message["data"])
                if event["type"] in ("sla.warning", "sla.breached"):
                    fired[(event["type"], event["data"]["conversation_id"])] += 1
                elif event["type"] == "sla.recomputed":
                    fired[(event["type"], event["data"]["version"])] += 1
            if sum(fired.values()) >= expected and len(sink.messages) >= CONVERSATIONS and quiet_until is None:
                quiet_until = loop.time() + 2.0  # keep listening: a duplicate would arrive now
            if quiet_until is not None and loop.time() > quiet_until:
                break
    finally:
        for server in servers:
            stop(server)
        await pubsub.aclose()
        await redis.aclose()
    logs = "\n".join(f"--- {s.name}\n{s.output()}" for s in servers)
    recomputed = {key for key in fired if key[0] == "sla.recomputed"}
    assert len(recomputed) == 1, logs  # one worker recomputed the new version, and said so once
    fired_timers = set(fired) - recomputed
    assert fired_timers == {(kind, i) for kind in ("sla.warning", "sla.breached") for i in conversation_ids}, logs
    assert set(fired.values()) == {1}, fired
    # The breach rule notifies the leads (every lead: these conversations have no team), by email too;
    # the warning rule names the assignee, and there is none.
    assert [rcpt for rcpt, _ in sink.messages] == [["lena@shop.example"]] * CONVERSATIONS, logs
    mailed = Counter(int(mail["Subject"].split("#")[1].split(",")[0]) for _, mail in sink.messages)
    assert mailed == dict.fromkeys(conversation_ids, 1), mailed
    assert len({mail["Message-ID"] for _, mail in sink.messages}) == CONVERSATIONS
