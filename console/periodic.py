"""A background job that runs every few seconds in each process, started and stopped with the app."""

from __future__ import annotations

import abc
import asyncio
import logging

log = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task[object], patience: float = 1.0) -> None:
    """Cancel `task` and wait until it has ended.

    Cancelling once is not always enough on Python 3.11: `asyncio.wait_for` inside the task can
    swallow the cancellation when its inner awaitable finishes at the same moment, and a loop then
    carries on. So cancel again until the task is done, and never wait on it unbounded.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=patience)
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s ended with an error", task.get_name(), exc_info=task.exception())


class Periodic(abc.ABC):
    """Calls `tick()` every `interval` seconds; a failing tick is logged and the next one still runs."""

    name = "periodic"

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("%s failed", self.name)
            await asyncio.sleep(self._interval)

    @abc.abstractmethod
    async def tick(self) -> object:
        """One round of the job."""
