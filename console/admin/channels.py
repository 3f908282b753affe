"""`/admin/channels`: every configured channel with its health, for admins only.

The page reads configuration (`config/lines.toml`, through the channel registry) and asks each channel
for its `health()`; it never looks inside an adapter and never shows a secret (the status carries none).
The last message in and out come from the store.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lines.channels.base import ChannelHealth
from lines.console.i18n import N_
from lines.console.keys import channels_key, nav_key, sessions_key, settings_key
from lines.console.models import Conversation, Direction, Message
from lines.console.nav import ADMINS, NavItem
from lines.console.views import Page, signed_in


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """One configured channel as the page draws it."""

    kind: str
    name: str
    health: ChannelHealth
    last_in: datetime | None
    last_out: datetime | None


async def last_messages(session: AsyncSession) -> dict[tuple[str, str, str], datetime]:
    """The newest inbound and outbound message per (kind, inbox, direction)."""
    rows = await session.execute(
        select(Conversation.channel, Conversation.inbox, Message.direction, func.max(Message.created_at))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.direction.in_([Direction.IN, Direction.OUT]))
        .group_by(Conversation.channel, Conversation.inbox, Message.direction)
    )
    return {(kind, inbox, str(direction)): at for kind, inbox, direction, at in rows if at is not None}


def base_url(request: web.Request) -> str:
    """Where customers and providers reach Lines: `server.public_url`, else this request's origin."""
    return request.app[settings_key].server.public_url.rstrip("/") or f"{request.scheme}://{request.host}"


async def channels_page(request: web.Request) -> web.Response:
    ctx = await signed_in(request)
    if not ctx.scope.is_admin:
        raise web.HTTPForbidden()
    async with request.app[sessions_key]() as session:
        last = await last_messages(session)
    base = base_url(request)
    rows = [
        ChannelRow(
            kind,
            name,
            channel.health(base),
            last.get((kind, name, Direction.IN.value)),
            last.get((kind, name, Direction.OUT.value)),
        )
        for (kind, name), channel in request.app.get(channels_key, {}).items()
    ]
    return Page(request, ctx).render(
        "admin_channels.html",
        data={"page": "admin-channels"},
        rows=rows,
        worker=f"{socket.gethostname()}:{os.getpid()}",
        active_nav="admin-channels",
    )


def setup(app: web.Application) -> None:
    app[nav_key].append(
        NavItem("admin-channels", "/admin/channels", N_("Channels"), ADMINS, "nav-admin-channels", "admin", 30)
    )
    app.router.add_get("/admin/channels", channels_page)
