"""Four `lines serve` workers on PostgreSQL + Redis racing on one queue: each conversation once.

Sixty customers wait; four operators (capacity 5 each) come online through different workers. Every
worker serves the queue on presence changes and on its sweep at the same time; in the end exactly
twenty conversations are assigned, each by one decision, and nobody holds more than five.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import aiohttp
import pytest

from lines.console.db import create_engine, session_maker
from tests.api.helpers import eventually
from tests.routing import scenario
from tests.test_two_processes import Installation, Server, free_port, installation, stop, wait_healthy

pytestmark = [pytest.mark.multiprocess, pytest.mark.postgres, pytest.mark.redis]
__all__ = ["installation"]

OPERATORS = 4
CAPACITY = 5


async def test_four_workers_assign_each_waiting_conversation_exactly_once(installation: Installation) -> None:
    rules = installation.tmp / "routing.json"
    rules.write_text(json.dumps(scenario.RULES), encoding="utf-8")
    with installation.config.open("a", encoding="utf-8") as config:
        config.write(f'\n[routing]\nrules_file = "{rules}"\nsweep_seconds = 0.3\narrival_grace_seconds = 0\n')
    schema = re.search(r'database_schema = "(\w+)"', installation.config.read_text()).group(1)  # type: ignore[union-attr]
    for i in range(OPERATORS):
        await installation.lines("user", "add", f"op{i}", "--password", "demo-password", "--team", "support")
    server = serve_workers(installation, 4)
    engine = create_engine(installation.env["LINES_DATABASE_URL"], schema)
    sessions = session_maker(engine)
    try:
        async with aiohttp.ClientSession() as http:
            await wait_healthy(http, server)
            await scenario.arrive(sessions, "crowd", 60)
            tokens = []
            for i in range(OPERATORS):
                async with http.post(
                    f"{server.url}/api/v1/auth/login", json={"login": f"op{i}", "password": "demo-password"}
                ) as response:
                    assert response.status == 200, await response.text()
                    tokens.append((await response.json())["token"])
            await asyncio.gather(
                *(
                    http.put(
                        f"{server.url}/api/v1/me/presence",
                        json={"status": "online"},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    for token in tokens
                )
            )

            async def all_taken() -> bool:
                return len(await scenario.assignments_per_conversation(sessions)) >= OPERATORS * CAPACITY

            await eventually(all_taken, timeout=30)
            await asyncio.sleep(1.5)  # several more sweeps by every worker
        once = await scenario.assignments_per_conversation(sessions)
        assert len(once) == OPERATORS * CAPACITY and set(once.values()) == {1}
        assert await scenario.over_capacity(sessions) == {}
    finally:
        stop(server)
        await engine.dispose()


def serve_workers(installation: Installation, workers: int) -> Server:
    """`lines serve --workers N` on a free port: N processes sharing it, as in production."""
    port = free_port()
    log = installation.tmp / "pool.log"
    command = [sys.executable, "-m", "lines.console.cli", "serve", "--workers", str(workers), "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--config", str(installation.config)], env=installation.env, stdout=out, stderr=subprocess.STDOUT
        )
    return Server("pool", port, process, log)
