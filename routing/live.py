"""Tells the leads' live-queue pages that the queue or the operators' loads changed, throttled.

The event carries no data: the page re-reads `GET /api/v1/routing/queue`, which applies the lead's
rights. A burst of changes (a queue being served, an operator going offline with ten chats) becomes
at most one event per `interval` from each process: the first change is told at once, later ones
within the interval are folded into one event at its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from lines.console.events import Audience, Events

log = logging.getLogger(__name__)
QUEUE_CHANGED = "routing.queue_changed"
LEADS = Audience(leads=True, conversation=False)


class QueueChanges:
    """Throttled `routing.queue_changed` events for one process; `touch()` after every relevant change."""

    def __init__(self, events: Events, interval: float = 1.0) -> None:
        self.events = events
        self.interval = interval
        self._last: float | None = None
        self._pending: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()

    def touch(self) -> None:
        """Something the live queue shows changed: tell the leads now, or at the end of the interval."""
        if self._pending is not None:
            return  # an event is already due; it will be read after this change
        loop = asyncio.get_running_loop()
        delay = 0.0 if self._last is None else max(0.0, self._last + self.interval - loop.time())
        task = asyncio.create_task(self._tell_after(delay))
        self._pending = task
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _tell_after(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        self._last = asyncio.get_running_loop().time()
        self._pending = None  # a change from here on gets an event of its own
        try:
            await self.events.send(QUEUE_CHANGED, {}, LEADS)
        except Exception:
            log.exception("live queue event not sent")

    async def stop(self) -> None:
        """Cancel what is due (the pages re-read the queue when they reconnect anyway)."""
        for task in list(self._sending):
            task.cancel()
        for task in list(self._sending):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pending = None
