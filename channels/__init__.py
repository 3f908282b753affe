"""Channel adapters behind one interface, registered in one table.

Each entry names a channel kind's config block (`[[channels.<kind>]]`, a class in `channels/<kind>/config.py`)
and the module whose `setup(app, context)` adds its ingress routes (if any) and returns the configured
channel instances; the core starts and stops them and hands them outbox rows.

The core's settings read this table to build the `[channels]` section, so it imports only the config
modules; a channel's `setup` module (its adapters, which use the core) is imported when the app is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from lines.channels.email.config import EmailMailbox
from lines.channels.sms.config import SmsGateway
from lines.channels.telegram.config import TelegramBot
from lines.channels.webchat.config import WebchatSite
from lines.console.config_base import Section

if TYPE_CHECKING:
    from aiohttp import web

    from lines.channels.base import BaseChannel
    from lines.channels.context import ChannelContext

    ChannelSetup: TypeAlias = Callable[[web.Application, ChannelContext], list[BaseChannel]]


@dataclass(frozen=True, slots=True)
class ChannelKind:
    """One channel kind: how its config blocks look and where it is wired into the app."""

    config: type[Section]
    """The class of one `[[channels.<kind>]]` block; it has a `team` and the `key` field."""
    setup_module: str
    """The module with `setup(app, context) -> list[BaseChannel]`."""
    key: str = "name"
    """The field that names a block (unique among the kind's blocks, the channel's inbox)."""
    chat: bool = True
    """A chat channel: `[customers]` auto_ack and signature_channels may name it (email has its own keys)."""

    def setup(self) -> ChannelSetup:
        return importlib.import_module(self.setup_module).setup  # type: ignore[no-any-return]


CHANNELS: dict[str, ChannelKind] = {
    "webchat": ChannelKind(WebchatSite, "lines.channels.webchat.feature", key="site_key"),
    "email": ChannelKind(EmailMailbox, "lines.channels.email.feature", chat=False),
    "telegram": ChannelKind(TelegramBot, "lines.channels.telegram.feature"),
    "sms": ChannelKind(SmsGateway, "lines.channels.sms.feature"),
}
"""Every channel kind, in the order the app sets them up and the console lists them."""

CHAT_KINDS: tuple[str, ...] = tuple(kind for kind, entry in CHANNELS.items() if entry.chat)
