"""The app factory: every resource opened and closed in one place, as an aiohttp cleanup context."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from lines.channels import CHANNELS
from lines.channels.base import BaseChannel, InboundMessage
from lines.console import api, attachments, error_pages, operator_ws, outreach_page, views
from lines.console.admin import channels as admin_channels
from lines.console.admin import pages as admin_pages
from lines.console.automated import add_system_note
from lines.console.availability import Openness
from lines.console.bus import EventBus, MemoryBus
from lines.console.changes import from_payload
from lines.console.channel_state import ChannelStateStore
from lines.console.db import create_engine, session_maker
from lines.console.events import CHANGES_QUEUE, Audience, Events
from lines.console.features import FEATURES
from lines.console.history import CustomerHistory
from lines.console.identities import IdentityState, set_identity_state
from lines.console.inbox import Inbox, IngestResult, channel_key, load_conversation
from lines.console.keys import (
    availability_key,
    bus_key,
    channel_state_key,
    channels_key,
    demo_key,
    engine_key,
    events_key,
    files_key,
    history_key,
    inbox_key,
    leadership_key,
    limiter_key,
    metrics_key,
    nav_key,
    outbox_key,
    processors_key,
    sessions_key,
    settings_key,
    snooze_key,
)
from lines.console.leadership import Leadership, Leases, LocalLeases, PostgresLeases, RedisLeases
from lines.console.metrics import Metrics
from lines.console.models import ContactIdentity, Conversation, DeliveryStatus, Status, utcnow
from lines.console.open_now import OpenNow
from lines.console.outbox import OutboxWorker
from lines.console.ratelimit import MemoryRateLimiter, RateLimiter
from lines.console.settings import Settings
from lines.console.snooze import SnoozeWaker
from lines.console.storage import FileStore

log = logging.getLogger(__name__)


class AppChannelContext:
    """The `ChannelContext` handed to adapters, reading the app's resources when called."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    @property
    def settings(self) -> Settings:
        return self._app[settings_key]

    @property
    def bus(self) -> EventBus:
        return self._app[bus_key]

    @property
    def limiter(self) -> RateLimiter:
        return self._app[limiter_key]

    @property
    def files(self) -> FileStore:
        return self._app[files_key]

    @property
    def metrics(self) -> Metrics:
        return self._app[metrics_key]

    @property
    def leadership(self) -> Leadership:
        return self._app[leadership_key]

    async def ingest(self, message: InboundMessage) -> IngestResult:
        result = await self._app[inbox_key].ingest(message)
        self.metrics.inbound.labels(message.channel, "stored" if result.created else "duplicate").inc()
        return result

    async def load_state(self, channel: str, inbox: str, key: str) -> Any | None:
        return await self._app[channel_state_key].load(channel_key(channel, inbox), key)

    async def save_state(self, channel: str, inbox: str, key: str, value: Any) -> None:
        await self._app[channel_state_key].save(channel_key(channel, inbox), key, value)

    async def record_receipt(
        self, channel: str, inbox: str, external_id: str, status: str, error: str | None = None
    ) -> int | None:
        return await self._app[outbox_key].record_receipt(channel, inbox, external_id, DeliveryStatus(status), error)

    async def set_identity_state(
        self, channel: str, inbox: str, external_id: str, state: str, reason: str = ""
    ) -> int | None:
        return await set_identity_state(
            self._app[sessions_key], channel, inbox, external_id, IdentityState(state), reason
        )

    async def history(
        self, channel: str, inbox: str, external_id: str, after_id: int | None
    ) -> tuple[int | None, list[dict[str, Any]]]:
        return await self._app[history_key].latest(channel, inbox, external_id, after_id)

    async def openness(self, channel: str, inbox: str) -> Openness:
        return await self._app[availability_key].open_on(channel, inbox, utcnow())

    async def publish_typing(self, channel: str, inbox: str, external_id: str) -> None:
        async with self._app[sessions_key]() as session:
            conversation_id = await session.scalar(
                select(Conversation.id)
                .join(ContactIdentity, ContactIdentity.id == Conversation.identity_id)
                .where(
                    ContactIdentity.channel == channel,
                    ContactIdentity.inbox == inbox,
                    ContactIdentity.external_id == external_id,
                    Conversation.channel == channel,
                    Conversation.inbox == inbox,
                    Conversation.status != Status.RESOLVED,
                )
                .order_by(Conversation.id.desc())
                .limit(1)
            )
            conversation = await load_conversation(session, conversation_id) if conversation_id else None
        if conversation is not None:
            await self._app[events_key].send(
                "conversation.typing",
                {"conversation_id": conversation.id, "who": "contact", "name": conversation.contact.name},
                Audience.of(conversation),
            )

    async def system_note(self, conversation_id: int, text: str, extra: dict[str, Any] | None = None) -> int:
        return await add_system_note(self._app[sessions_key], self._app[events_key], conversation_id, text, extra)


def _make_bus(settings: Settings) -> tuple[EventBus, RateLimiter]:
    if settings.bus.redis_url:
        from lines.console.bus.redis import RedisBus  # redis-py is loaded only when scaled

        bus = RedisBus(settings.bus.redis_url, prefix=settings.bus.key_prefix)
        return bus, bus.rate_limiter()
    return MemoryBus(), MemoryRateLimiter()


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    settings.data_path.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url, settings.storage.database_schema)
    app[engine_key] = engine
    app[sessions_key] = session_maker(engine)
    app[files_key] = FileStore(settings.data_path)
    yield
    await engine.dispose()


def _make_leases(settings: Settings, bus: EventBus, engine: AsyncEngine) -> Leases:
    """Redis when scaled, else a PostgreSQL advisory lock, else (one process, SQLite) always held."""
    redis = bus.shared_redis()
    if redis is not None:
        return RedisLeases(redis, settings.bus.key_prefix)
    if engine.dialect.name == "postgresql":
        return PostgresLeases(engine, settings.storage.database_schema)
    return LocalLeases()


async def _bus_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    bus, limiter = _make_bus(settings)
    app[bus_key] = bus
    app[limiter_key] = limiter
    app[leadership_key] = Leadership(_make_leases(settings, bus, app[engine_key]), settings.bus.lease_seconds)
    yield
    await bus.stop()


async def _core_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    sessions = app[sessions_key]
    events = Events(app[bus_key])
    app[events_key] = events
    teams = {channel_key(kind, name): team for (kind, name), team in settings.channel_teams().items()}
    app[inbox_key] = Inbox(sessions, events, app[bus_key], teams)
    app[history_key] = CustomerHistory(sessions)
    app[channel_state_key] = ChannelStateStore(sessions)
    channels = app[channels_key]
    worker = OutboxWorker(sessions, channels, events, settings.outbox, settings.data_path, app[metrics_key])
    app[outbox_key] = worker
    waker = SnoozeWaker(sessions, events, settings.console.snooze_check_seconds)
    app[snooze_key] = waker
    yield
    await waker.stop()
    await worker.stop()


async def _channels_ctx(app: web.Application) -> AsyncIterator[None]:
    started: list[BaseChannel] = []
    try:
        for channel in app[channels_key].values():
            await channel.start()
            started.append(channel)
        yield
    finally:
        for channel in reversed(started):
            try:
                await channel.stop()
            except Exception:
                log.exception("stopping channel %s/%s failed", channel.kind, channel.name)


async def _run_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start consuming only when every part has registered its subscribers and consumers."""
    processors = app[processors_key]

    async def process_changes(payload: dict[str, Any]) -> None:
        job = from_payload(payload)
        if job is None:
            return
        for processor in processors:
            await processor(job)

    bus = app[bus_key]
    bus.consume(CHANGES_QUEUE, process_changes)
    await bus.start()
    await app[outbox_key].start()
    await app[snooze_key].start()
    yield


async def healthz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        async with request.app[sessions_key]() as session:
            await session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as err:
        checks["database"] = f"error: {type(err).__name__}"
    bus = request.app[bus_key]
    ping = getattr(bus, "ping", None)
    try:
        checks["bus"] = "ok" if ping is None or await ping() else "error"
    except Exception as err:
        checks["bus"] = f"error: {type(err).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=request.app[metrics_key].render(), content_type="text/plain", charset="utf-8")


@web.middleware
async def measure(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        request.app[metrics_key].http_requests.labels(request.method, route, str(status)).observe(
            time.perf_counter() - start
        )


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def create_app(settings: Settings, *, demo: bool = False) -> web.Application:
    """Build the app for `settings`; resources open when it starts and close when it stops.

    `demo` is for `lines demo` only: it serves the demo shop page."""
    app = web.Application(
        middlewares=[measure, security_headers, error_pages.error_pages, *api.middlewares()],
        client_max_size=settings.storage.max_attachment_bytes + 64 * 1024,
    )
    app[settings_key] = settings
    app[demo_key] = demo
    app[metrics_key] = Metrics()
    app[processors_key] = []
    app[nav_key] = []
    app[availability_key] = OpenNow(app)
    context = AppChannelContext(app)
    channels: dict[tuple[str, str], BaseChannel] = {}
    for kind, entry in CHANNELS.items():
        for channel in entry.setup()(app, context):
            channels[(kind, channel.name)] = channel
    app[channels_key] = channels
    app.cleanup_ctx.extend([_storage_ctx, _bus_ctx, _core_ctx, _channels_ctx])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    api.setup(app)
    attachments.setup(app)
    operator_ws.setup(app)
    views.setup(app)
    outreach_page.setup(app)
    admin_pages.setup(app)
    admin_channels.setup(app)
    for feature in FEATURES:
        feature(app)
    app.cleanup_ctx.append(_run_ctx)
    return app
