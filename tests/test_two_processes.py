"""Scaled mode end to end: `lines serve` processes sharing PostgreSQL and Redis.

A visitor chats with process A; operator anna is connected to process B. Her console gets the
message live, her reply (sent through B) reaches the visitor's socket on A, and after B's
connections to Redis are dropped her console is told to resync and keeps receiving.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from redis.asyncio import Redis
from sqlalchemy import text

from lines.console.db import create_engine
from tests.conftest import need

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres, pytest.mark.redis]

START_TIMEOUT = 60.0
EVENT_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


@dataclass
class Installation:
    """One scaled-mode installation: a PostgreSQL schema, a Redis key prefix, a config and its env."""

    config: Path
    env: dict[str, str]
    prefix: str
    tmp: Path

    async def lines(self, *args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lines.console.cli",
            *args,
            "--config",
            str(self.config),
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        assert process.returncode == 0, out.decode(errors="replace")
        return out.decode()

    def serve(self, name: str) -> Server:
        port = free_port()
        log = self.tmp / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "lines.console.cli", "serve", "--port", str(port), "--config", str(self.config)],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return Server(name, port, process, log)


@pytest.fixture
async def installation(tmp_path: Path) -> AsyncIterator[Installation]:
    database_url = need("LINES_TEST_DATABASE_URL", "PostgreSQL")
    redis_url = need("LINES_TEST_REDIS_URL", "Redis")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    prefix = f"t{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    config = tmp_path / "lines.toml"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
[storage]
database_schema = "{schema}"
[bus]
key_prefix = "{prefix}"
[outbox]
poll_seconds = 0.2
[[channels.webchat]]
site_key = "demo"
origins = ["*"]
team = "support"
""",
        encoding="utf-8",
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LINES_")},
        "LINES_DATABASE_URL": database_url,
        "LINES_REDIS_URL": redis_url,
        "LINES_DATA_DIR": str(tmp_path / "data"),
        "LINES_SECRET_KEY": "two-processes-share-this-secret-0123456789",
        "LINES_LOG_LEVEL": "INFO",
    }
    try:
        yield Installation(config, env, prefix, tmp_path)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
        async with Redis.from_url(redis_url) as redis:
            keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
            if keys:
                await redis.delete(*keys)


async def wait_healthy(http: aiohttp.ClientSession, server: Server) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_TIMEOUT
    while loop.time() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"{server.name} exited with {server.process.returncode}:\n{server.output()}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(f"{server.url}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)
    pytest.fail(f"{server.name} was not healthy within {START_TIMEOUT}s:\n{server.output()}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture
async def servers(installation: Installation) -> AsyncIterator[tuple[Server, Server]]:
    await installation.lines("user", "add", "anna", "--password", "demo", "--team", "support", "--name", "Anna")
    started = [installation.serve("a"), installation.serve("b")]
    try:
        async with aiohttp.ClientSession() as http:
            for server in started:
                await wait_healthy(http, server)
        yield started[0], started[1]
    finally:
        for server in started:
            stop(server)


async def next_frame(
    ws: aiohttp.ClientWebSocketResponse, matches: Callable[[dict[str, Any]], bool], servers: tuple[Server, ...]
) -> dict[str, Any]:
    """The first frame for which `matches` holds, skipping others; fail with the servers' logs."""
    try:
        async with asyncio.timeout(EVENT_TIMEOUT):
            while True:
                frame = await ws.receive_json()
                if matches(frame):
                    return frame
    except (TimeoutError, TypeError) as err:
        logs = "\n".join(f"--- {s.name}\n{s.output()}" for s in servers)
        pytest.fail(f"expected frame not received ({err!r})\n{logs}")


async def test_a_message_received_by_one_process_reaches_an_operator_on_the_other(
    servers: tuple[Server, Server], installation: Installation
) -> None:
    a, b = servers
    both = (a, b)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{b.url}/api/v1/auth/login", json={"login": "anna", "password": "demo"}) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["token"]
        operator = await http.ws_connect(f"{b.ws_url}/api/v1/events?token={token}")
        await next_frame(operator, lambda f: f["type"] == "hello", both)

        visitor = await http.ws_connect(f"{a.ws_url}/webchat/demo/ws")
        await visitor.send_json(
            {"type": "hello", "visitor": None, "last_seen": None, "page": {"url": "https://shop.example/cart"}}
        )
        welcome = await next_frame(visitor, lambda f: f["type"] == "welcome", both)
        assert welcome["visitor"]
        client_id = str(uuid.uuid4())
        await visitor.send_json({"type": "message", "client_id": client_id, "text": "Где мой заказ? (from A)"})
        ack = await next_frame(visitor, lambda f: f["type"] == "ack", both)
        assert ack["client_id"] == client_id

        # Received by A, pushed to anna's console on B.
        created = await next_frame(
            operator,
            lambda f: f["type"] == "message.created" and f["data"]["text"] == "Где мой заказ? (from A)",
            both,
        )
        assert created["data"]["direction"] == "in"
        conversation_id = created["data"]["conversation_id"]

        # Anna answers through B; the reply reaches the visitor's socket on A.
        async with http.post(
            f"{b.url}/api/v1/conversations/{conversation_id}/messages",
            json={"text": "Уже в пути (from B)", "private": False},
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status in (200, 201), await response.text()
        reply = await next_frame(visitor, lambda f: f["type"] == "message", both)
        assert reply["text"] == "Уже в пути (from B)"
        assert reply["author"] == "operator"

        # Redis drops B's connections: the console is told to resync, and live updates go on.
        async with Redis.from_url(installation.env["LINES_REDIS_URL"], decode_responses=True) as redis:
            clients = await redis.client_list(_type="pubsub")  # type: ignore[arg-type]
            ours = [c["id"] for c in clients if f"-{b.process.pid}-" in c.get("name", "")]
            assert ours, clients
            for client_id in ours:
                await redis.client_kill_filter(_id=client_id)
        await next_frame(operator, lambda f: f["type"] == "resync", both)
        await visitor.send_json({"type": "message", "client_id": str(uuid.uuid4()), "text": "still there? (from A)"})
        await next_frame(
            operator,
            lambda f: f["type"] == "message.created" and f["data"]["text"] == "still there? (from A)",
            both,
        )
        await visitor.close()
        await operator.close()


async def test_serve_with_two_workers_shares_one_port_and_stops_them_all(installation: Installation) -> None:
    await installation.lines("user", "add", "anna", "--password", "demo", "--team", "support", "--name", "Anna")
    port = free_port()
    log = installation.tmp / "workers.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lines.console.cli",
                "serve",
                "--workers",
                "2",
                "--port",
                str(port),
                "--config",
                str(installation.config),
            ],
            env=installation.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server("workers", port, process, log)
    try:
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, server)
            workers = psutil.Process(process.pid).children()
            assert len(workers) == 2, server.output()
            async with http.post(f"{server.url}/api/v1/auth/login", json={"login": "anna", "password": "demo"}) as r:
                token = (await r.json())["token"]
            operator = await http.ws_connect(f"{server.ws_url}/api/v1/events?token={token}")
            await next_frame(operator, lambda f: f["type"] == "hello", (server,))
            visitor = await http.ws_connect(f"{server.ws_url}/webchat/demo/ws")
            await visitor.send_json({"type": "hello", "visitor": None, "last_seen": None, "page": {}})
            await next_frame(visitor, lambda f: f["type"] == "welcome", (server,))
            await visitor.send_json({"type": "message", "client_id": str(uuid.uuid4()), "text": "via workers"})
            event = await next_frame(
                operator, lambda f: f["type"] == "message.created" and f["data"]["text"] == "via workers", (server,)
            )
            assert event["data"]["direction"] == "in"
            await visitor.close()
            await operator.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, server.output()
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    finally:
        stop(server)
