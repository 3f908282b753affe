"""Wires this part into the app: routes, cleanup contexts, inbound/change processors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from lines.console.api import routing_rules
from lines.console.api.routing import add_routes, routes_key
from lines.console.keys import (
    availability_key,
    events_key,
    outbox_key,
    presence_key,
    processors_key,
    sessions_key,
    settings_key,
)
from lines.console.models import Conversation, Status, Team
from lines.routing import views
from lines.routing.engine import Router
from lines.routing.live import QueueChanges
from lines.routing.models import RoutingRulesVersion
from lines.routing.presence import RoutingPresence
from lines.routing.rules import parse_rules

log = logging.getLogger(__name__)
router_key = web.AppKey("routing_router", Router)
queue_changes_key = web.AppKey("routing_queue_changes", QueueChanges)
FREES_CAPACITY = {Status.RESOLVED.value, Status.SNOOZED.value, Status.PENDING.value}
CHANGES_QUEUE_VIEW = frozenset({"inbound", "handoff", "requeue", "status", "presence", "assigned", "operator"})
"""Change kinds after which the live queue (waiting, loads, presence) may look different."""


async def seed_rules(app: web.Application) -> None:
    """At first start (no version in the store), publish `routing.rules_file` as version 1."""
    path = app[settings_key].routing.rules_file
    if not path:
        return
    try:
        raw = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    except OSError as err:
        log.error("routing.rules_file %s not read (%s); no rules until a lead publishes some", path, err)
        return
    async with app[sessions_key]() as session, session.begin():
        if await session.scalar(select(RoutingRulesVersion.id).limit(1)) is not None:
            return
        document = json.loads(raw)
        parse_rules(document)  # a broken sample file stops the start with the field named
        session.add(RoutingRulesVersion(rules=document, author_name="", comment=f"seeded from {path}"))


class Processor:
    """Handles the change jobs routing cares about; every job kind is documented in architecture.md."""

    def __init__(self, app: web.Application) -> None:
        self.app = app

    @property
    def router(self) -> Router:
        return self.app[router_key]

    async def __call__(self, job: dict[str, Any]) -> None:
        kind = job.get("kind")
        try:
            if kind in ("inbound", "handoff"):
                await self.arrived(int(job["conversation_id"]))
            elif kind == "requeue":
                await self.requeue(int(job["conversation_id"]), str(job.get("reason") or "requeued"), job.get("team"))
            elif kind == "status":
                if job.get("status") in FREES_CAPACITY:
                    await self.serve()
                elif job.get("status") == Status.OPEN.value:
                    await self.arrived(int(job["conversation_id"]))
            elif kind == "presence":
                if job.get("presence") == "online":
                    await self.serve()
                elif job.get("presence") == "offline":
                    await self.router.requeue_offline(int(job["operator_id"]))
            elif kind == "operator" and job.get("more_room"):
                await self.serve()  # more capacity, a new skill or team: the queue is served at once
            elif kind == "assigned" and job.get("by_operator_id") is not None:
                if job.get("operator_id") is None:
                    await self.arrived(int(job["conversation_id"]))
                if job.get("previous_operator_id") is not None:
                    await self.serve()
        except Exception:
            log.exception("routing failed for job %s", job)
        if kind in CHANGES_QUEUE_VIEW:
            self.app[queue_changes_key].touch()

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


async def _routing_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key].routing
    router = Router(
        app[sessions_key],
        app[events_key],
        app[outbox_key].notify,
        arrival_grace=timedelta(seconds=settings.arrival_grace_seconds),
        is_open=lambda team, at: app[availability_key].in_hours(at),
    )
    app[router_key] = router
    changes = QueueChanges(app[events_key], settings.live_queue_seconds)
    app[queue_changes_key] = changes
    await seed_rules(app)
    sweep = asyncio.create_task(_sweep(app, router))
    yield
    sweep.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweep
    await changes.stop()


async def _sweep(app: web.Application, router: Router) -> None:
    """A lost change job delays routing but loses nothing: the queue and reply-by are swept."""
    settings = app[settings_key].routing
    while True:
        await asyncio.sleep(settings.sweep_seconds)
        try:
            await router.reply_overdue()
            await router.serve_queue(settings.queue_batch)
            await router.retell_positions(settings.queue_batch)
        except Exception:
            log.exception("routing sweep failed")


def setup(app: web.Application) -> None:
    """Called by `create_app` after the core and the channels, before consuming starts."""

    app.cleanup_ctx.append(_routing_ctx)
    app[presence_key] = RoutingPresence(app)
    app[processors_key].append(Processor(app))
    app[routes_key].extend(routing_rules.ROUTES)
    add_routes(app, routing_rules.ROUTES)
    views.setup(app)
