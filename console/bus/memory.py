"""In-process bus for the embedded mode: asyncio queues, no server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from lines.console.bus.base import EventBus, Handler, Payload

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


class MemoryBus(EventBus):
    def __init__(self, retry_delay: float = 1.0) -> None:
        super().__init__()
        self._fanout: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._queues: dict[str, asyncio.Queue[tuple[str, int]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._retry_delay = retry_delay

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._dispatch(), name="bus-fanout"))
        for queue, handler in self._consumers.items():
            self._tasks.append(asyncio.create_task(self._work(queue, handler), name=f"bus-queue-{queue}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def publish(self, topic: str, payload: Payload) -> None:
        await self._fanout.put((topic, json.dumps(payload)))

    async def enqueue(self, queue: str, payload: Payload) -> None:
        await self._queue(queue).put((json.dumps(payload), 1))

    def _queue(self, name: str) -> asyncio.Queue[tuple[str, int]]:
        return self._queues.setdefault(name, asyncio.Queue())

    async def _dispatch(self) -> None:
        while True:
            topic, raw = await self._fanout.get()
            for handler in self.handlers(topic):
                try:
                    await handler(json.loads(raw))
                except Exception:
                    log.exception("subscriber of %s failed", topic)

    async def _work(self, name: str, handler: Handler) -> None:
        queue = self._queue(name)
        while True:
            raw, attempt = await queue.get()
            try:
                await handler(json.loads(raw))
            except Exception:
                log.exception("consumer of %s failed (attempt %d)", name, attempt)
                if attempt < MAX_ATTEMPTS:
                    asyncio.get_running_loop().call_later(
                        self._retry_delay * attempt, queue.put_nowait, (raw, attempt + 1)
                    )
