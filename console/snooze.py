"""Wakes snoozed conversations when their time comes: they reopen and consoles are told.

The reopen is one atomic UPDATE ... RETURNING, so with several processes each conversation is woken
(and announced) by exactly one of them. Nothing is lost across restarts: the time lives in the row.
"""

from __future__ import annotations

import logging

from sqlalchemy import update

from lines.console.changes import StatusChanged
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.inbox import load_conversation
from lines.console.models import Conversation, Status, utcnow
from lines.console.periodic import Periodic
from lines.console.serialize import conversation_dict

log = logging.getLogger(__name__)


class SnoozeWaker(Periodic):
    name = "snooze-waker"

    def __init__(self, sessions: SessionMaker, events: Events, interval: float) -> None:
        super().__init__(interval)
        self._sessions = sessions
        self._events = events

    async def tick(self) -> list[int]:
        return await self.wake_due()

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
            await self._events.change(StatusChanged(conversation_id=conversation_id, status="open", previous="snoozed"))
        return woken
