"""Browser fixtures: a real Lines server in-process on a free port, and headless Chromium.

The server can be stopped and started again on the same port and data directory, which is how the
reconnect tests simulate a restart. Chromium is the system one (/usr/bin/chromium); Playwright never
downloads a browser here. Without it the tests skip, or fail under LINES_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from lines.console.app import create_app
from lines.console.db import create_engine
from lines.console.schema import metadata
from lines.console.settings import Settings
from tests.conftest import PASSWORD, REQUIRE_SERVICES, Database, Staff, make_settings, seed_staff

CHROMIUM = os.environ.get("LINES_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """`lines` on 127.0.0.1:`port` with its SQLite file under `data_dir`; restartable."""

    def __init__(self, settings: Settings, port: int) -> None:
        self.settings = settings
        self.port = port
        self.app: web.Application | None = None
        self.staff: Staff | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> web.Application:
        app = create_app(self.settings, demo=True)  # the browser tests chat on the demo shop page
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
        self.app, self._runner = app, runner
        return app

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        self.app, self._runner = None, None


async def start_server(directory: Path, password_hash: str) -> LiveServer:
    """A fresh SQLite store under `directory`, the app started on a free port, the staff seeded."""
    database = Database("sqlite", f"sqlite+aiosqlite:///{directory / 'lines.db'}")
    engine = create_engine(database.url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    live = LiveServer(make_settings(directory, database), free_port())
    app = await live.start()
    live.staff = await seed_staff(app, password_hash)
    return live


@pytest.fixture
async def server(tmp_path: Path, password_hash: str) -> AsyncIterator[LiveServer]:
    live = await start_server(tmp_path, password_hash)
    yield live
    await live.stop()


EXPECT_CEILING_MS = 20_000
"""How long an `expect(...)` waits before it fails: the suite's one ceiling (`eventually()`'s 20 s).
A passing assertion returns as soon as it holds; Playwright's own 5 s made live updates that queue
behind the change processors flaky on a loaded machine."""


@pytest.fixture(autouse=True, scope="session")
def patient_expect() -> None:
    expect.set_options(timeout=EXPECT_CEILING_MS)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        await launched.close()


async def new_context(browser: Browser, locale: str = "en-US", **kwargs: Any) -> BrowserContext:
    context = await browser.new_context(
        locale=locale,
        extra_http_headers={"Accept-Language": f"{locale},{locale.split('-')[0]};q=0.9"},
        viewport={"width": 1280, "height": 800},
        **kwargs,
    )
    context.set_default_timeout(10_000)
    return context


async def sign_in(context: BrowserContext, server: LiveServer, login: str, path: str = "/") -> Page:
    """Log in through the login form and land on `path`, with the events socket connected."""
    page = await context.new_page()
    await page.goto(f"{server.url}/login?next={path}")
    await page.get_by_test_id("login").fill(login)
    await page.get_by_test_id("password").fill(PASSWORD)
    await page.get_by_test_id("submit").click()
    await page.wait_for_url(f"{server.url}{path}")
    await page.wait_for_function("() => document.body.dataset.connected === 'true'")
    return page
