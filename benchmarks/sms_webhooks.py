"""SMS webhook idempotency and throughput against one `lines serve`.

    python benchmarks/sms_webhooks.py --messages 1000 [--database-url postgresql+asyncpg://...]

Sends --messages distinct signed Twilio-compatible inbound webhooks from --phones numbers, each
delivered 1-5 times (random) in shuffled order with --concurrency requests in flight, as a gateway
retrying does. Reports the requests/s, the stored-messages/s, the p50/p99 webhook latency and
whether exactly --messages messages were stored. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.webchat import free_port, postgres, wait_http
from lines.channels.sms.providers.twilio import signature

TOKEN = "bench-twilio-token"  # noqa: S105 - a throwaway signing key for the local server


async def count_messages(url: str, schema: str) -> int:
    from sqlalchemy import text

    from lines.console.db import create_engine

    engine = create_engine(url, schema)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM messages"))).scalar_one())
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="lines-sms-bench-"))
    port = free_port()
    schema = f"bench_{uuid.uuid4().hex[:8]}" if args.database_url else ""
    url = args.database_url or f"sqlite+aiosqlite:///{work / 'lines.db'}"
    if schema:
        await postgres(url, f'CREATE SCHEMA "{schema}"')
    config = work / "lines.toml"
    base = f"http://127.0.0.1:{port}"
    config.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
public_url = "{base}"
secret_key = "bench-secret-key-0123456789"
[storage]
data_dir = "{work / "data"}"
database_url = "{url}"
database_schema = "{schema}"
[[channels.sms]]
name = "bench"
provider = "twilio"
number = "+15005550006"
api_base_url = "http://127.0.0.1:9"
account_sid = "AC{"0" * 32}"
auth_token = "{TOKEN}"
"""
    )
    env = {**os.environ, "LINES_CONFIG": str(config), "LINES_LOG_LEVEL": "WARNING"}
    env.pop("LINES_DATABASE_URL", None)
    env.pop("LINES_REDIS_URL", None)
    lines = [sys.executable, "-m", "lines.console.cli"]
    subprocess.run([*lines, "user", "add", "bench", "--password", "bench-pass", "--role", "admin"], env=env, check=True)
    proc = subprocess.Popen([*lines, "serve"], env=env)
    try:
        await wait_http(base + "/healthz")
        inbound = base + "/channels/sms/bench/inbound"
        phones = [f"+7916{i:07d}" for i in range(args.phones)]
        deliveries: list[dict[str, str]] = []
        for i in range(args.messages):
            params = {"MessageSid": f"SM{i:032d}", "From": random.choice(phones), "To": "+15005550006", "Body": f"m{i}"}
            deliveries += [params] * random.randint(1, 5)
        random.shuffle(deliveries)
        queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        for d in deliveries:
            queue.put_nowait(d)
        latencies: list[float] = []
        statuses: dict[int, int] = {}

        async def worker(http: aiohttp.ClientSession) -> None:
            while not queue.empty():
                params = queue.get_nowait()
                headers = {"X-Twilio-Signature": signature(TOKEN, inbound, params.items())}
                t0 = time.perf_counter()
                async with http.post(inbound, data=params, headers=headers) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                latencies.append(time.perf_counter() - t0)

        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as http:
            t0 = time.perf_counter()
            await asyncio.gather(*(worker(http) for _ in range(args.concurrency)))
            elapsed = time.perf_counter() - t0
        stored = await count_messages(url, schema)
        latencies.sort()
        target = "postgresql" if schema else "sqlite"
        print(
            f"{target}: {len(deliveries)} webhook POSTs for {args.messages} messages from {args.phones} phones, "
            f"{args.concurrency} in flight: {elapsed:.1f}s = {len(deliveries) / elapsed:.0f} req/s, "
            f"{args.messages / elapsed:.0f} messages/s; latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms; statuses {statuses}; "
            f"stored {stored} (expected {args.messages})"
        )
    finally:
        proc.terminate()
        proc.wait(15)
        if schema:
            await postgres(url, f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default="")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
