"""A test fails when product code blocks the event loop.

Two detectors, both active in every test:

* Blocking calls. `blockbuster` wraps the blocking functions of the standard library (file reads
  and writes, `os.stat`, `time.sleep`, plain sockets, `sqlite3`, `threading.Lock.acquire`, ...) and
  raises `BlockingError` when one runs on the event loop's thread with product code (`lines.*`) on
  the stack. Test code may block (it reads fixtures, starts servers); code under test may not. The
  error is also recorded, so a caller that swallows it still fails the test at teardown.
* Slow callbacks. The loop runs in asyncio debug mode (`asyncio_debug` in pyproject.toml) and logs
  every callback that held it longer than `slow_callback_duration`; a log handler turns those records
  into a failure when the callback also spent that long on the CPU (wall time alone measures the
  machine's load) and product code was on the stack a watchdog thread sampled while the loop was
  stuck (a test validating a big document in its own body is not the product's doing). The threshold
  is generous (`LINES_TEST_SLOW_CALLBACK_SECONDS`, default 0.5 s) so that legitimate one-off CPU work
  (SQLAlchemy compiling a statement the first time, loading the morphology dictionaries, compiling a
  template) passes; blocking I/O is caught by the first detector however short it is.

Known legitimate blocking spots are allowed in `ALLOWED`, each with its reason. The guard runs on the
tests under `GUARDED`, the folders checked so far for what it finds (`LINES_TEST_LOOP_GUARD=all` runs it
on every test); add a folder once its tests pass with the guard on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType

import blockbuster.blockbuster as bb
import pytest

import lines.bots
import lines.channels
import lines.console
import lines.routing
import lines.sla
import lines.web

SLOW_CALLBACK_SECONDS = float(os.environ.get("LINES_TEST_SLOW_CALLBACK_SECONDS", "0.5"))
PRODUCT: list[ModuleType] = [lines.bots, lines.channels, lines.console, lines.routing, lines.sla, lines.web]

GUARDED = (
    "tests/test_attachments.py",
    "tests/test_loop_guard.py",
    "tests/test_views.py",
)

# (file suffix, functions in that file, reason): any blocking call with one of them on the stack passes.
ALLOWED: list[tuple[str, set[str], str]] = [
    # The app's startup and cleanup contexts run once, before the first request and after the last
    # (data directory, engine, seeding files); nothing is served meanwhile.
    ("aiohttp/web_app.py", {"startup", "cleanup"}, "app startup and cleanup"),
    # Logging to a file or a stream is synchronous everywhere; it is not what this guard hunts.
    ("logging/__init__.py", {"emit", "flush", "acquire", "_acquireLock"}, "log output"),
    # SQLite's file name made absolute when an engine is created: a getcwd() at most, once per engine.
    ("sqlalchemy/dialects/sqlite/pysqlite.py", {"create_connect_args"}, "engine setup"),
    # Babel reads its locale data files on first use and keeps them for the life of the process.
    ("babel/localedata.py", {"load"}, "locale data, once per locale"),
    ("babel/core.py", {"get_global"}, "locale data, once per process"),
    # asyncpg looks for ~/.pgpass and client certificates on each new connection (a stat, rarely a
    # small read); the pool makes new connections rare.
    ("asyncpg/connect_utils.py", {"_parse_connect_dsn_and_args"}, "asyncpg connection setup"),
]


@dataclass
class Problem:
    kind: str
    what: str
    stack: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.what}\n{self.stack}"


@dataclass
class LoopGuard:
    """What blocked the loop during one test; `take()` hands the problems over to a test that wants them."""

    problems: list[Problem] = field(default_factory=list)
    buster: bb.BlockBuster | None = None
    paths: tuple[str, ...] = tuple(module.__path__[0] + os.sep for module in PRODUCT)

    def scan(self, module: ModuleType) -> None:
        """Also catch blocking calls made with `module` on the stack (for the guard's own tests)."""
        assert self.buster is not None
        self.buster.deactivate()
        self.buster = _buster([*PRODUCT, module], self)
        self.buster.activate()
        self.paths += (str(module.__file__),)

    def take(self) -> list[Problem]:
        taken, self.problems = self.problems, []
        return taken


class _SlowCallbacks(logging.Handler):
    """asyncio's debug-mode "Executing <handle> took 0.612 seconds" records, turned into problems."""

    def __init__(self, guard: LoopGuard) -> None:
        super().__init__(logging.WARNING)
        self.guard = guard

    def emit(self, record: logging.LogRecord) -> None:
        if not (record.msg.startswith("Executing ") and "took" in record.msg):
            return
        watchdog = getattr(asyncio.get_running_loop(), "watchdog", None)
        if not isinstance(watchdog, _Watchdog):
            return
        # Wall time on two loaded cores says little; the loop thread's CPU time since the last
        # heartbeat is what the callback itself spent.
        cpu = time.thread_time() - watchdog.beat_cpu
        stack, files = watchdog.take()
        in_product = files is None or any(file.startswith(self.guard.paths) for file in files)
        if cpu >= SLOW_CALLBACK_SECONDS and in_product:
            self.guard.problems.append(Problem("slow callback", f"{record.getMessage()} ({cpu:.3f} s CPU)", stack))


def _buster(modules: list[ModuleType], guard: LoopGuard) -> bb.BlockBuster:
    class Recorded(bb.BlockingError):
        def __init__(self, func: str) -> None:
            super().__init__(func)
            guard.problems.append(Problem("blocking call", func, "".join(traceback.format_stack(limit=25)[:-2])))

    buster = bb.BlockBuster(modules)
    bb.BlockingError = Recorded  # type: ignore[misc]  # the wrappers raise the module's BlockingError
    for function in buster.functions.values():
        for suffix, functions, _reason in ALLOWED:
            function.can_block_in(suffix, functions)
    return buster


@pytest.fixture(autouse=True)
def loop_guard(request: pytest.FixtureRequest) -> Iterator[LoopGuard]:
    """Fails a test under `GUARDED` at teardown with each blocking call's or slow callback's stack."""
    guard = LoopGuard()
    if not request.node.nodeid.startswith(GUARDED) and os.environ.get("LINES_TEST_LOOP_GUARD") != "all":
        yield guard
        return
    original = bb.BlockingError
    guard.buster = _buster(PRODUCT, guard)
    guard.buster.activate()
    handler = _SlowCallbacks(guard)
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(handler)
    try:
        yield guard
    finally:
        asyncio_log.removeHandler(handler)
        guard.buster.deactivate()
        bb.BlockingError = original  # type: ignore[misc]
    if guard.problems:
        pytest.fail(
            "the event loop was blocked:\n\n" + "\n\n".join(map(str, guard.problems)),
            pytrace=False,
        )


class _Watchdog(threading.Thread):
    """Says where a slow callback spent its time: samples the loop thread's stack once the loop's
    heartbeat is later than the threshold (debug mode only says which callback it was)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name="loop-watchdog", daemon=True)
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.beat = time.monotonic()
        self.beat_cpu = time.thread_time()
        self.stack = ""
        self.files: list[str] | None = None
        loop.call_soon(self._heartbeat)

    def _heartbeat(self) -> None:
        self.beat = time.monotonic()
        self.beat_cpu = time.thread_time()
        self.loop.call_later(SLOW_CALLBACK_SECONDS / 4, self._heartbeat)

    def run(self) -> None:
        sampled = 0.0
        while not self.loop.is_closed():
            time.sleep(SLOW_CALLBACK_SECONDS / 4)
            late = time.monotonic() - self.beat
            if late > SLOW_CALLBACK_SECONDS * 0.8 and self.beat != sampled and self.loop.is_running():
                frame = sys._current_frames().get(self.loop_thread)
                if frame is not None:
                    sampled = self.beat
                    self.stack = "where it was:\n" + "".join(traceback.format_stack(frame, limit=15))
                    self.files = [f.f_code.co_filename for f, _ in traceback.walk_stack(frame)]

    def take(self) -> tuple[str, list[str] | None]:
        """The stack sampled during the last stall, and the files on it (None: no sample)."""
        taken = self.stack, self.files
        self.stack, self.files = "", None
        return taken


def guarded_loop() -> asyncio.AbstractEventLoop:
    """The tests' event loop: debug mode (set by pytest-asyncio) reports callbacks over the threshold."""
    loop = asyncio.new_event_loop()
    loop.slow_callback_duration = SLOW_CALLBACK_SECONDS
    watchdog = _Watchdog(loop)
    loop.watchdog = watchdog  # type: ignore[attr-defined]
    watchdog.start()
    return loop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    """One factory, so test ids stay as they are."""
    return {"guarded": guarded_loop}
