"""Wires this part into the app: routes, cleanup contexts, inbound/change processors."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from lines.console.api.route_table import add_routes, routes_key
from lines.console.changes import ChangeJob
from lines.console.i18n import N_
from lines.console.keys import bus_key, events_key, hours_key, nav_key, processors_key, sessions_key, settings_key
from lines.console.nav import LEADS, NavItem
from lines.mail.smtp import SmtpClient
from lines.sla import api, pages
from lines.sla.hours import SlaHours
from lines.sla.keys import sla_key, sla_recompute_key, sla_timers_key, staff_mail_key
from lines.sla.mail_text import MailText
from lines.sla.processor import process
from lines.sla.recompute import Recompute
from lines.sla.service import SlaService
from lines.sla.staff_mail import EscalationMail, StaffMailSender
from lines.sla.timers import CONCURRENCY, RedisTimers, TimerLoop

log = logging.getLogger(__name__)


async def _sla_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    service = SlaService(app[sessions_key], app[events_key])
    if settings.notifications.email is not None:
        # Before the timers start: what fell due while we were down is mailed too.
        if not settings.server.public_url:
            log.warning("[notifications.email] is on but server.public_url is empty: mails link a bare path")
        service.mail = EscalationMail(MailText(settings.console.default_locale), settings.server.public_url)
    await service.load_policies(settings.sla.policies_file)
    redis = app[bus_key].shared_redis()
    redis_timers = None if redis is None else RedisTimers(redis, settings.bus.key_prefix)
    concurrency = 1 if settings.database_url.startswith("sqlite") else CONCURRENCY
    loop = TimerLoop(
        service,
        app[sessions_key],
        settings.sla.timer_tick_seconds,
        settings.sla.sweep_seconds,
        redis_timers,
        concurrency,
    )
    service.scheduler = loop.schedule
    app[sla_key] = service
    app[hours_key] = SlaHours(service)
    app[sla_timers_key] = loop
    recompute = Recompute(service, app[sessions_key], app[events_key], settings.sla.timer_tick_seconds)
    app[sla_recompute_key] = recompute
    await loop.start()
    await recompute.start()
    try:
        yield
    finally:
        await recompute.stop()
        await loop.stop()


async def _staff_mail_ctx(app: web.Application) -> AsyncIterator[None]:
    """The sender of escalation mail, when `[notifications.email]` is configured."""
    config = app[settings_key].notifications.email
    if config is None:
        yield
        return
    sender = StaffMailSender(app[sessions_key], config, SmtpClient(config))
    app[staff_mail_key] = sender
    await sender.start()
    try:
        yield
    finally:
        await sender.stop()


def setup(app: web.Application) -> None:
    """Called by `create_app` after the core and the channels, before consuming starts."""

    async def process_change(job: ChangeJob) -> None:
        await process(app[sla_key], job)

    app[processors_key].append(process_change)
    app.cleanup_ctx.append(_sla_ctx)
    app.cleanup_ctx.append(_staff_mail_ctx)
    app[routes_key].extend(api.ROUTES)
    add_routes(app, api.ROUTES)
    pages.setup(app)
    app[nav_key].append(NavItem("sla", "/sla", N_("SLA"), LEADS, "nav-sla", order=40))
