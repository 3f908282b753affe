"""The loop guard (tests/loopguard.py) catches a handler that blocks the event loop."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.loopguard import SLOW_CALLBACK_SECONDS, LoopGuard

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]


async def test_a_handler_reading_a_file_on_the_loop_is_caught_with_its_stack(
    loop_guard: LoopGuard, aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    note = tmp_path / "note.txt"
    note.write_text("hello")
    loop_guard.scan(sys.modules[__name__])  # from here on, this module counts as product code

    async def blocking(request: web.Request) -> web.Response:
        return web.Response(text=note.read_text())

    app = web.Application()
    app.router.add_get("/", blocking)
    client = await aiohttp_client(app)
    response = await client.get("/")

    assert response.status == 500
    problems = loop_guard.take()
    assert problems and problems[0].kind == "blocking call"
    assert "io." in problems[0].what
    assert "in blocking" in problems[0].stack


async def test_a_handler_that_offloads_the_same_read_is_not_caught(
    loop_guard: LoopGuard, aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    note = tmp_path / "note.txt"
    note.write_text("hello")
    loop_guard.scan(sys.modules[__name__])  # from here on, this module counts as product code

    async def offloaded(request: web.Request) -> web.Response:
        return web.Response(text=await asyncio.to_thread(note.read_text))

    app = web.Application()
    app.router.add_get("/", offloaded)
    client = await aiohttp_client(app)
    response = await client.get("/")

    assert await response.text() == "hello"
    assert loop_guard.take() == []


async def test_a_callback_holding_the_loop_past_the_threshold_is_caught(loop_guard: LoopGuard) -> None:
    loop_guard.scan(sys.modules[__name__])
    loop = asyncio.get_running_loop()
    assert loop.get_debug()

    def spin() -> None:
        end = time.thread_time() + SLOW_CALLBACK_SECONDS * 1.5
        while time.thread_time() < end:
            pass

    loop.call_soon(spin)
    await asyncio.sleep(0.1)

    problems = loop_guard.take()
    assert [p.kind for p in problems] == ["slow callback"]
    assert "spin" in problems[0].what
    assert "in spin" in problems[0].stack


async def test_a_test_that_holds_the_loop_itself_is_not_blamed_on_the_product(loop_guard: LoopGuard) -> None:
    def spin() -> None:
        end = time.thread_time() + SLOW_CALLBACK_SECONDS * 1.5
        while time.thread_time() < end:
            pass

    asyncio.get_running_loop().call_soon(spin)
    await asyncio.sleep(0.1)

    assert loop_guard.take() == []
