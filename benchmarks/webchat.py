"""Web-chat load: N concurrent widget connections against one `lines serve`, and a bare relay as the floor.

    python benchmarks/webchat.py --conns 1000 --conns 5000

For each N, against each target (Lines, then the bare aiohttp relay):
  * opens N widget WebSockets (hello -> welcome) and one operator events socket;
  * latency phase: messages from random visitors at a fixed offered rate; the latency of each is
    the time from the visitor's send to the operator's `message.created` event (p50/p99);
  * throughput phase: every visitor sends --burst messages back to back (each after its ack);
    messages/s = messages / time until the operator has seen them all;
  * server peak RSS (VmHWM) and RSS per open connection.
The relay floor speaks the same frames but only parses and forwards (no storage, no auth), so the
ratio Lines/relay shows what storing, threading and access control cost.
Results go to stdout and, with --json, to a file. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int, field_name: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


@dataclass
class Result:
    target: str
    conns: int
    connect_seconds: float = 0.0
    rss_idle_mib: float = 0.0
    kib_per_conn: float = 0.0
    latency_msgs: int = 0
    offered_rate: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    throughput_msgs: int = 0
    msgs_per_s: float = 0.0
    peak_rss_mib: float = 0.0
    lost: int = 0
    notes: list[str] = field(default_factory=list)


class Target:
    name: str
    ws_url: str
    events_url: str
    pid: int
    proc: subprocess.Popen[bytes]
    origin = "http://bench.example"

    async def stop(self) -> None:
        self.proc.terminate()
        try:
            await asyncio.to_thread(self.proc.wait, 15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        schema, url = getattr(self, "schema", ""), getattr(self, "database_url", "")
        if schema:
            await postgres(url, f'DROP SCHEMA "{schema}" CASCADE')


async def wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with s.get(url) as r:
                    if r.status < 500:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class LinesTarget(Target):
    name = "lines"

    def __init__(self, database_url: str = "") -> None:
        """On SQLite in the data dir by default; with `database_url`, PostgreSQL in a fresh schema."""
        self.database_url = database_url
        self.schema = f"bench_{uuid.uuid4().hex[:8]}" if database_url else ""
        if database_url:
            self.name = "lines-postgres"

    async def start(self, work: Path) -> None:
        port = free_port()
        if self.schema:
            await postgres(self.database_url, f'CREATE SCHEMA "{self.schema}"')
        config = work / "lines.toml"
        config.write_text(
            f"""
[server]
host = "127.0.0.1"
port = {port}
secret_key = "bench-secret-key-0123456789"
[storage]
data_dir = "{work / "data"}"
database_url = "{self.database_url}"
database_schema = "{self.schema}"
[[channels.webchat]]
site_key = "bench"
origins = ["*"]
team = "support"
messages_per_minute = 100000
new_conversations_per_ip_per_hour = 0
"""
        )
        env = {**os.environ, "LINES_CONFIG": str(config), "LINES_LOG_LEVEL": "WARNING"}
        env.pop("LINES_DATABASE_URL", None)
        env.pop("LINES_REDIS_URL", None)
        lines = [sys.executable, "-m", "lines.console.cli"]
        subprocess.run(
            [*lines, "user", "add", "bench", "--password", "bench-pass", "--role", "admin"],
            env=env,
            check=True,
            capture_output=True,
        )
        self.proc = subprocess.Popen([*lines, "serve"], env=env)
        self.pid = self.proc.pid
        base = f"http://127.0.0.1:{port}"
        await wait_http(base + "/healthz")
        credentials = {"login": "bench", "password": "bench-pass"}
        async with aiohttp.ClientSession() as s, s.post(base + "/api/v1/auth/login", json=credentials) as r:
            token = (await r.json())["token"]
        self.ws_url = f"ws://127.0.0.1:{port}/webchat/bench/ws"
        self.events_url = f"ws://127.0.0.1:{port}/api/v1/events?token={token}"


async def postgres(url: str, statement: str) -> None:
    from sqlalchemy import text

    from lines.console.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


class RelayTarget(Target):
    name = "bare-relay"

    async def start(self, work: Path) -> None:
        port = free_port()
        self.proc = subprocess.Popen([sys.executable, str(HERE / "relay_floor.py"), "--port", str(port)])
        self.pid = self.proc.pid
        await wait_http(f"http://127.0.0.1:{port}/info")
        self.ws_url = f"ws://127.0.0.1:{port}/ws"
        self.events_url = f"ws://127.0.0.1:{port}/events"


class Operator:
    """The operator's events socket: resolves the waiter of each message by its marker text."""

    def __init__(self) -> None:
        self.waiters: dict[str, asyncio.Future[float]] = {}

    async def run(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame.get("type") != "message.created":
                continue
            text = frame.get("data", {}).get("text", "")
            waiter = self.waiters.pop(text, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter())


class Visitor:
    """One widget. Like the real one, it resends a message the server could not take yet, same client_id."""

    resends = 0

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.acks: dict[str, asyncio.Future[None]] = {}
        self.sent: dict[str, str] = {}
        self.reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame.get("type") == "ack":
                self.sent.pop(frame.get("client_id"), None)
                waiter = self.acks.pop(frame.get("client_id"), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
            elif frame.get("type") == "error" and frame.get("code") in ("unavailable", "rate_limited"):
                client_id = frame.get("client_id")
                if client_id in self.sent:
                    Visitor.resends += 1
                    asyncio.get_running_loop().call_later(float(frame.get("retry_after") or 1), self._resend, client_id)

    def _resend(self, client_id: str) -> None:
        frame = {"type": "message", "client_id": client_id, "text": self.sent[client_id]}
        asyncio.get_running_loop().create_task(self.ws.send_str(json.dumps(frame)))

    async def send(self, operator: Operator, ack: bool) -> tuple[float, asyncio.Future[float]]:
        client_id = str(uuid.uuid4())
        text = f"bench {client_id}"
        seen = asyncio.get_running_loop().create_future()
        operator.waiters[text] = seen
        acked = asyncio.get_running_loop().create_future()
        self.acks[client_id] = acked
        self.sent[client_id] = text
        start = time.perf_counter()
        await self.ws.send_str(json.dumps({"type": "message", "client_id": client_id, "text": text}))
        if ack:
            await asyncio.wait_for(acked, 120)
        return start, seen


async def open_visitor(session: aiohttp.ClientSession, target: Target) -> Visitor:
    ws = await session.ws_connect(target.ws_url, headers={"Origin": target.origin}, heartbeat=None, max_msg_size=0)
    page = {"url": "http://bench.example/p", "referrer": "", "utm": {}}
    await ws.send_str(json.dumps({"type": "hello", "visitor": None, "last_seen": None, "page": page}))
    welcome = json.loads((await ws.receive(timeout=120)).data)
    if welcome.get("type") != "welcome":
        raise RuntimeError(f"expected welcome, got {welcome}")
    visitor = Visitor(ws)
    visitor.reader = asyncio.create_task(visitor.read())
    return visitor


async def run_one(target: Target, conns: int, args: argparse.Namespace) -> Result:
    result = Result(target.name, conns)
    base_rss = proc_status(target.pid, "VmRSS")
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        events = await session.ws_connect(
            target.events_url,
            heartbeat=None,
            max_msg_size=0,
            headers={"Origin": target.events_url.replace("ws://", "http://").split("/api")[0]},
        )
        operator = Operator()
        op_task = asyncio.create_task(operator.run(events))
        t0 = time.perf_counter()
        visitors: list[Visitor] = []
        for i in range(0, conns, 100):
            visitors += await asyncio.gather(*(open_visitor(session, target) for _ in range(min(100, conns - i))))
        result.connect_seconds = round(time.perf_counter() - t0, 2)
        await asyncio.sleep(1)
        idle = proc_status(target.pid, "VmRSS")
        result.rss_idle_mib = round(idle / 1024, 1)
        result.kib_per_conn = round((idle - base_rss) / conns, 1)

        # Latency at a fixed offered rate, from random visitors.
        latencies: list[float] = []
        pending: list[asyncio.Task[None]] = []

        async def one(visitor: Visitor) -> None:
            start, seen = await visitor.send(operator, ack=False)
            try:
                latencies.append((await asyncio.wait_for(seen, 60)) - start)
            except TimeoutError:
                result.lost += 1

        interval = 1.0 / args.rate
        next_at = time.perf_counter()
        for _ in range(args.latency_msgs):
            pending.append(asyncio.create_task(one(random.choice(visitors))))
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.gather(*pending)
        latencies.sort()
        result.latency_msgs = len(latencies)
        result.offered_rate = args.rate
        if latencies:
            result.p50_ms = round(statistics.median(latencies) * 1000, 1)
            result.p99_ms = round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1)

        # Throughput: every visitor sends --burst messages, each after the previous one's ack.
        seen_all: list[asyncio.Future[float]] = []

        async def burst(visitor: Visitor) -> None:
            for _ in range(args.burst):
                _, seen = await visitor.send(operator, ack=True)
                seen_all.append(seen)

        t0 = time.perf_counter()
        await asyncio.gather(*(burst(v) for v in visitors))
        done, not_done = await asyncio.wait(seen_all, timeout=120)
        elapsed = max(f.result() for f in done) - t0 if done else float("nan")
        result.lost += len(not_done)
        result.throughput_msgs = len(done)
        result.msgs_per_s = round(len(done) / elapsed, 1) if done else 0.0
        result.peak_rss_mib = round(proc_status(target.pid, "VmHWM") / 1024, 1)
        if Visitor.resends:
            result.notes.append(f"{Visitor.resends} messages resent after 'unavailable' (server overloaded)")
            Visitor.resends = 0

        for visitor in visitors:
            await visitor.ws.close()
            if visitor.reader:
                visitor.reader.cancel()
        await events.close()
        op_task.cancel()
    return result


def raise_fd_limit() -> None:
    """Each connection is a file descriptor on both sides; the server inherits this limit."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def main() -> None:
    raise_fd_limit()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conns", type=int, action="append", help="concurrent widgets (repeatable)")
    parser.add_argument("--rate", type=float, default=100.0, help="offered messages/s in the latency phase")
    parser.add_argument("--latency-msgs", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=2, help="messages per visitor in the throughput phase")
    parser.add_argument("--targets", default="lines,bare-relay", help="lines, lines-postgres, bare-relay")
    parser.add_argument(
        "--postgres",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        help="database of the lines-postgres target (a schema is created and dropped)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    conns_list = args.conns or [1000, 5000]
    results: list[Result] = []
    for conns in conns_list:
        for name in args.targets.split(","):
            target: Target = (
                LinesTarget(args.postgres if name == "lines-postgres" else "")
                if name.startswith("lines")
                else RelayTarget()
            )
            with tempfile.TemporaryDirectory(prefix="lines-bench-") as work:
                await target.start(Path(work))
                try:
                    res = await run_one(target, conns, args)
                finally:
                    await target.stop()
            results.append(res)
            print(json.dumps(asdict(res)), flush=True)
    print(f"\nmachine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print("| target | conns | connect s | KiB/conn | p50 ms | p99 ms (at msg/s) | msgs/s | peak RSS MiB | lost |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.target} | {r.conns} | {r.connect_seconds} | {r.kib_per_conn} | {r.p50_ms} | "
            f"{r.p99_ms} ({r.offered_rate:g}) | {r.msgs_per_s} | {r.peak_rss_mib} | {r.lost} |"
        )
    by = {(r.target, r.conns): r for r in results}
    for conns in conns_list:
        floor = by.get(("bare-relay", conns))
        for name in ("lines", "lines-postgres"):
            lines = by.get((name, conns))
            if lines and floor and floor.msgs_per_s:
                print(
                    f"{conns} conns: {name}/relay throughput {lines.msgs_per_s / floor.msgs_per_s:.3f}, "
                    f"p50 latency x{lines.p50_ms / max(floor.p50_ms, 0.001):.1f}, "
                    f"peak RSS x{lines.peak_rss_mib / max(floor.peak_rss_mib, 0.001):.1f}"
                )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    asyncio.run(main())
