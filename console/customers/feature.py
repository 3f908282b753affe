"""Wires this part into the app: routes, cleanup contexts, inbound/change processors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from lines.console.api.route_table import add_routes, routes_key
from lines.console.changes import ChangeJob
from lines.console.customers import api, directory_pages, pages
from lines.console.customers.followups import FollowUpWaker
from lines.console.customers.processor import CustomerProcessor
from lines.console.customers.signatures import ReplySignatures
from lines.console.i18n import N_
from lines.console.keys import (
    ReplySignature,
    events_key,
    nav_key,
    outbox_key,
    processors_key,
    reply_signature_key,
    sessions_key,
    settings_key,
)
from lines.console.models import utcnow
from lines.console.nav import EVERYONE, LEADS, NavItem

log = logging.getLogger(__name__)

processor_key = web.AppKey("customers_processor", CustomerProcessor)
follow_ups_key = web.AppKey("customers_follow_ups", FollowUpWaker)


async def _sweep_loop(processor: CustomerProcessor, interval: float) -> None:
    """Counts what lost change jobs left out: conversations changed since the previous sweep."""
    since = utcnow() - timedelta(days=1)
    while True:
        await asyncio.sleep(interval)
        started = utcnow()
        try:
            await processor.rollups.sweep(since - timedelta(seconds=interval))
            since = started
        except Exception:
            log.exception("report rollup sweep failed")


async def _customers_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    processor = CustomerProcessor(settings, app[sessions_key], app[events_key], app[outbox_key].notify)
    app[processor_key] = processor
    waker = FollowUpWaker(app[sessions_key], app[events_key], settings.customers.follow_up_check_seconds)
    app[follow_ups_key] = waker
    await waker.start()
    sweeper = asyncio.create_task(_sweep_loop(processor, settings.customers.rollup_sweep_seconds), name="rollup-sweep")
    yield
    sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await sweeper
    await waker.stop()


def setup(app: web.Application) -> None:
    """Called by `create_app` after the core and the channels, before consuming starts."""

    signatures: ReplySignature = ReplySignatures(app[settings_key].customers.signature_channels)
    app[reply_signature_key] = signatures
    app[routes_key].extend(api.ROUTES)
    add_routes(app, api.ROUTES)

    async def process(job: ChangeJob) -> None:
        await app[processor_key](job)

    app[processors_key].append(process)
    app.cleanup_ctx.append(_customers_ctx)
    pages.setup(app)
    directory_pages.setup(app)
    app[nav_key].extend(
        [
            NavItem("reports", "/reports", N_("Reports"), LEADS, "nav-reports", order=20),
            NavItem("contacts", "/contacts", N_("Customers"), EVERYONE, "nav-contacts", order=10),
            NavItem("followups", "/followups", N_("Follow-ups"), EVERYONE, "nav-followups", order=11),
            NavItem("canned", "/canned", N_("Canned responses"), EVERYONE, "nav-canned", order=12),
        ]
    )
