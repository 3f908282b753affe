"""Typed application state: everything shared lives on the app under these keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeAlias

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from lines.console.availability import Availability, BusinessHours, Presence
from lines.console.bus import EventBus
from lines.console.changes import ChangeJob
from lines.console.channel_state import ChannelStateStore
from lines.console.db import SessionMaker
from lines.console.events import Events
from lines.console.history import CustomerHistory
from lines.console.inbox import Inbox
from lines.console.leadership import Leadership
from lines.console.metrics import Metrics
from lines.console.models import Conversation, Operator
from lines.console.nav import NavItem
from lines.console.outbox import OutboxWorker
from lines.console.ratelimit import RateLimiter
from lines.console.settings import Settings
from lines.console.snooze import SnoozeWaker
from lines.console.storage import FileStore

if TYPE_CHECKING:
    from lines.channels.base import BaseChannel

settings_key = web.AppKey("settings", Settings)
engine_key = web.AppKey("engine", AsyncEngine)
sessions_key = web.AppKey("sessions", SessionMaker)
bus_key = web.AppKey("bus", EventBus)
limiter_key = web.AppKey("limiter", RateLimiter)
leadership_key = web.AppKey("leadership", Leadership)
events_key = web.AppKey("events", Events)
inbox_key = web.AppKey("inbox", Inbox)
history_key = web.AppKey("history", CustomerHistory)
files_key = web.AppKey("files", FileStore)
metrics_key = web.AppKey("metrics", Metrics)
outbox_key = web.AppKey("outbox", OutboxWorker)
snooze_key = web.AppKey("snooze", SnoozeWaker)
channel_state_key = web.AppKey("channel_state", ChannelStateStore)
channels_key = web.AppKey("channels", dict[tuple[str, str], "BaseChannel"])
ReplySignature: TypeAlias = Callable[[AsyncSession, Conversation, int], Awaitable[str]]
"""The signature to add to operator `int`'s public reply in a conversation, as plain text ("" for
none): `console/customers/signatures.py`."""
reply_signature_key: web.AppKey[ReplySignature] = web.AppKey("reply_signature")
"""Set by the customer part: the signature added to an operator's reply (absent: none)."""
RoomCheck: TypeAlias = Callable[[AsyncSession, Operator, str], Awaitable[bool]]
"""Whether an operator may take one more conversation on a channel by a manual assignment (may lock
the operator's row for the rest of the transaction)."""
room_check_key: web.AppKey[RoomCheck] = web.AppKey("room_check")
"""Set by the routing part, which owns capacities and loads (absent: no limit)."""
ChangeProcessor: TypeAlias = Callable[[ChangeJob], Awaitable[None]]
"""Called with each job of the changes queue (`Events.change`); dispatches on the job's type."""
processors_key = web.AppKey("change_processors", list[ChangeProcessor])
"""The parts' change processors, in the order of `console/features.py`."""
hours_key = web.AppKey("business_hours", BusinessHours)
"""Set by the SLA part: the office hours of its catch-all calendar (absent: always open)."""
presence_key = web.AppKey("presence", Presence)
"""Set by routing: whether anybody who could take a conversation is online (absent: hours alone decide)."""
availability_key = web.AppKey("availability", Availability)
"""Set by the core (`console/open_now.py`): whether Lines is open for a conversation, from the two above.
The bot's away notice, the widget's status and routing's `business_hours` condition ask here."""
nav_key = web.AppKey("nav", list[NavItem])
"""The console's links: the core adds the inbox, each part appends its pages' `NavItem`s in its setup."""

demo_key = web.AppKey("demo", bool)
"""The app runs as `lines demo`: only then is the demo shop page (/demo) served."""
