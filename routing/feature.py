"""Wires this part into the app: routes, cleanup contexts, inbound/change processors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from sqlalchemy import select

from lines.console.api.route_table import add_routes, routes_key
from lines.console.i18n import N_
from lines.console.keys import (
    availability_key,
    events_key,
    nav_key,
    outbox_key,
    presence_key,
    processors_key,
    room_check_key,
    sessions_key,
    settings_key,
)
from lines.console.nav import LEADS, NavItem
from lines.routing import api, pages
from lines.routing.engine import Router, has_room_for_manual
from lines.routing.keys import queue_changes_key, router_key
from lines.routing.live import QueueChanges
from lines.routing.models import RoutingRulesVersion
from lines.routing.presence import RoutingPresence
from lines.routing.processor import Processor
from lines.routing.rules import parse_rules

log = logging.getLogger(__name__)


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
    app[room_check_key] = has_room_for_manual
    app[routes_key].extend(api.ROUTES)
    add_routes(app, api.ROUTES)
    pages.setup(app)
    app[nav_key].append(NavItem("routing", "/routing", N_("Routing"), LEADS, "nav-routing", order=30))
