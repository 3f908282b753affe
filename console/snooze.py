"""Wakes snoozed conversations when their time comes: they reopen and consoles are told.

The reopen is one atomic UPDATE ... RETURNING, so with several processes each conversation is woken
(and announced) by exactly one of them. Nothing is lost across restarts: the time lives in the row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import update

from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.inbox import load_conversation
from lines.console.models import Conversation, Status, utcnow
from lines.console.serialize import conversation_dict

log = logging.getLogger(__name__)


class SnoozeWaker:
    def __init__(self, sessions: SessionMaker, events: Events, interval: float) -> None:
        self._sessions = sessions
        self._events = events
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="snooze-waker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.wake_due()
            except Exception:
                log.exception("waking snoozed conversations failed")
            await asyncio.sleep(self._interval)

    async def wake_due(self) -> list[int]:
        """Reopen every conversation whose snooze has ended; returns their ids."""
        now = utcnow()
        async with self._sessions() as session, session.begin():
            woken = list(
                (
                    await session.scalars(
                        update(Conversation)
                        .where(Conversation.status == Status.SNOOZED, Conversation.snoozed_until <= now)
                        .values(status=Status.OPEN, snoozed_until=None, updated_at=now)
                        .returning(Conversation.id)
                    )
                ).all()
            )
        for conversation_id in woken:
            async with self._sessions() as session:
                conversation = await load_conversation(session, conversation_id)
            if conversation is not None:
                await self._events.send(
                    "conversation.updated", conversation_dict(conversation), Audience.of(conversation)
                )
        return woken
