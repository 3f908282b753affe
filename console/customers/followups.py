"""Follow-ups: reminders on a conversation that fire as a console notification to their operator and
reopen the conversation if it is snoozed; unfinished ones past due make the overdue list.

Firing is one conditional UPDATE per reminder (`fired_at IS NULL`), so with several processes each
reminder fires once; the time lives in the row, so nothing is lost across restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.access import Scope
from lines.console.actions import ActionError, visible_conversation
from lines.console.changes import StatusChanged
from lines.console.customers.models import FollowUp
from lines.console.db import SessionMaker
from lines.console.events import Audience, Events
from lines.console.inbox import load_conversation
from lines.console.models import Conversation, Status, utcnow
from lines.console.periodic import Periodic
from lines.console.serialize import conversation_dict, iso

log = logging.getLogger(__name__)
MAX_OPEN_PER_OPERATOR = 500


def follow_up_dict(item: FollowUp) -> dict[str, Any]:
    return {
        "id": item.id,
        "conversation_id": item.conversation_id,
        "operator_id": item.operator_id,
        "due_at": item.due_at.isoformat(),
        "note": item.note,
        "fired_at": iso(item.fired_at),
        "done_at": iso(item.done_at),
        "overdue": item.done_at is None and item.due_at <= utcnow(),
    }


async def do_add_follow_up(
    session: AsyncSession, scope: Scope, conversation_id: int, due_at: datetime, note: str
) -> FollowUp:
    async with session.begin():
        await visible_conversation(session, scope, conversation_id)
        item = FollowUp(conversation_id=conversation_id, operator_id=scope.operator_id, due_at=due_at, note=note)
        session.add(item)
    return item


async def list_follow_ups(session: AsyncSession, scope: Scope, *, overdue: bool) -> Sequence[FollowUp]:
    stmt = select(FollowUp).where(FollowUp.operator_id == scope.operator_id, FollowUp.done_at.is_(None))
    if overdue:
        stmt = stmt.where(FollowUp.due_at <= utcnow())
    return (await session.scalars(stmt.order_by(FollowUp.due_at, FollowUp.id).limit(MAX_OPEN_PER_OPERATOR))).all()


async def do_finish_follow_up(session: AsyncSession, scope: Scope, follow_up_id: int) -> FollowUp:
    async with session.begin():
        item = await session.get(FollowUp, follow_up_id)
        if item is None or item.operator_id != scope.operator_id:
            raise ActionError(404, "not_found", f"follow-up {follow_up_id} not found")
        if item.done_at is None:
            item.done_at = utcnow()
    return item


class FollowUpWaker(Periodic):
    name = "follow-up-waker"

    def __init__(self, sessions: SessionMaker, events: Events, interval: float) -> None:
        super().__init__(interval)
        self._sessions = sessions
        self._events = events

    async def tick(self) -> list[int]:
        return await self.fire_due()

    async def fire_due(self) -> list[int]:
        """Fire every due reminder once; returns their ids."""
        now = utcnow()
        async with self._sessions() as session:
            due = (
                await session.scalars(
                    select(FollowUp.id)
                    .where(FollowUp.fired_at.is_(None), FollowUp.done_at.is_(None), FollowUp.due_at <= now)
                    .order_by(FollowUp.due_at)
                    .limit(500)
                )
            ).all()
        fired = []
        for follow_up_id in due:
            if await self._fire(follow_up_id):
                fired.append(follow_up_id)
        return fired

    async def _fire(self, follow_up_id: int) -> bool:
        now = utcnow()
        async with self._sessions() as session, session.begin():
            claimed = await session.execute(
                update(FollowUp)
                .where(FollowUp.id == follow_up_id, FollowUp.fired_at.is_(None))
                .values(fired_at=now)
                .execution_options(synchronize_session=False)
            )
            if not claimed.rowcount:  # type: ignore[attr-defined]
                return False  # another process fired it
            item = await session.get(FollowUp, follow_up_id)
            assert item is not None
            reopened = await session.execute(
                update(Conversation)
                .where(Conversation.id == item.conversation_id, Conversation.status == Status.SNOOZED)
                .values(status=Status.OPEN, snoozed_until=None, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            payload = follow_up_dict(item)
        await self._events.send("follow_up.due", payload, Audience(operator_ids=(item.operator_id,)))
        if reopened.rowcount:  # type: ignore[attr-defined]
            async with self._sessions() as session:
                conversation = await load_conversation(session, item.conversation_id)
            if conversation is not None:
                await self._events.send(
                    "conversation.updated", conversation_dict(conversation), Audience.of(conversation)
                )
            await self._events.change(
                StatusChanged(conversation_id=item.conversation_id, status="open", previous="snoozed")
            )
        return True


async def team_follow_ups(session: AsyncSession, scope: Scope) -> Sequence[FollowUp]:
    """Open follow-ups of others on conversations of my teams (every team for an admin), soonest first."""
    if not scope.is_admin and not scope.team_ids:
        return []
    stmt = (
        select(FollowUp)
        .join(Conversation, Conversation.id == FollowUp.conversation_id)
        .where(FollowUp.operator_id != scope.operator_id, FollowUp.done_at.is_(None))
    )
    if not scope.is_admin:
        stmt = stmt.where(Conversation.team_id.in_(scope.team_ids))
    return (await session.scalars(stmt.order_by(FollowUp.due_at, FollowUp.id).limit(MAX_OPEN_PER_OPERATOR))).all()
