"""Channel adapters behind one interface, registered in one table.

Each entry's `setup(app, context)` adds its ingress routes (if any) and returns the configured
channel instances; the core starts and stops them and hands them outbox rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from aiohttp import web

from lines.channels import email, sms, telegram, webchat
from lines.channels.base import BaseChannel
from lines.channels.context import ChannelContext

ChannelSetup: TypeAlias = Callable[[web.Application, ChannelContext], list[BaseChannel]]

CHANNELS: dict[str, ChannelSetup] = {
    "webchat": webchat.setup,
    "email": email.setup,
    "telegram": telegram.setup,
    "sms": sms.setup,
}
