"""Routing's change processor: which change jobs route, requeue or serve the queue."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeAlias

from aiohttp import web
from sqlalchemy import select

from lines.console.changes import (
    Assigned,
    ChangeJob,
    Handoff,
    Inbound,
    OperatorChanged,
    PresenceChanged,
    Requeue,
    StatusChanged,
)
from lines.console.keys import sessions_key, settings_key
from lines.console.models import Conversation, Status, Team
from lines.routing.engine import Router
from lines.routing.keys import queue_changes_key, router_key

log = logging.getLogger(__name__)
FREES_CAPACITY = {Status.RESOLVED.value, Status.SNOOZED.value, Status.PENDING.value}
CHANGES_QUEUE_VIEW: frozenset[type[ChangeJob]] = frozenset(
    {Inbound, Handoff, Requeue, StatusChanged, PresenceChanged, Assigned, OperatorChanged}
)
"""Change jobs after which the live queue (waiting, loads, presence) may look different."""


class Processor:
    """Handles the change jobs routing cares about; every job kind is documented in architecture.md."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    @property
    def router(self) -> Router:
        return self.app[router_key]

    async def __call__(self, job: ChangeJob) -> None:
        handler = HANDLERS.get(type(job))
        try:
            if handler is not None:
                await handler(self, job)
        except Exception:
            log.exception("routing failed for job %s", job)
        if type(job) in CHANGES_QUEUE_VIEW:
            self.app[queue_changes_key].touch()

    async def on_arrival(self, job: Inbound | Handoff) -> None:
        await self.arrived(job.conversation_id)

    async def on_requeue(self, job: Requeue) -> None:
        await self.requeue(job.conversation_id, job.reason or "requeued", job.team)

    async def on_status(self, job: StatusChanged) -> None:
        if job.status in FREES_CAPACITY:
            await self.serve()
        elif job.status == Status.OPEN.value:
            await self.arrived(job.conversation_id)

    async def on_presence(self, job: PresenceChanged) -> None:
        if job.presence == "online":
            await self.serve()
        elif job.presence == "offline":
            await self.router.requeue_offline(job.operator_id)

    async def on_operator(self, job: OperatorChanged) -> None:
        if job.more_room:
            await self.serve()  # more capacity, a new skill or team: the queue is served at once

    async def on_assigned(self, job: Assigned) -> None:
        if job.by_operator_id is None:
            return
        if job.operator_id is None:
            await self.arrived(job.conversation_id)
        if job.previous_operator_id is not None:
            await self.serve()

    async def arrived(self, conversation_id: int, team: str | None = None) -> None:
        outcome = await self.router.route(conversation_id, team=team)
        if outcome is not None and outcome.operator_id is None and outcome.reason == "queued":
            await self.router.tell_position(conversation_id)

    async def requeue(self, conversation_id: int, reason: str, team: Any) -> None:
        team_name = team if isinstance(team, str) else None
        async with self.app[sessions_key]() as session:
            assignee = await session.scalar(select(Conversation.assignee_id).where(Conversation.id == conversation_id))
        if assignee is not None:
            await self.router.unassign(conversation_id, assignee, reason, team_name)
        elif team_name is not None:
            async with self.app[sessions_key]() as session, session.begin():
                team_id = await session.scalar(select(Team.id).where(Team.name == team_name))
                conversation = await session.get(Conversation, conversation_id)
                if conversation is not None and team_id is not None and conversation.assignee_id is None:
                    conversation.team_id = team_id
        await self.arrived(conversation_id, team_name)

    async def serve(self) -> None:
        await self.router.serve_queue(self.app[settings_key].routing.queue_batch)


Handler: TypeAlias = Callable[[Processor, Any], Awaitable[None]]
HANDLERS: Mapping[type[ChangeJob], Handler] = {
    Inbound: Processor.on_arrival,
    Handoff: Processor.on_arrival,
    Requeue: Processor.on_requeue,
    StatusChanged: Processor.on_status,
    PresenceChanged: Processor.on_presence,
    OperatorChanged: Processor.on_operator,
    Assigned: Processor.on_assigned,
}
