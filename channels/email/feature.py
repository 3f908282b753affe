"""Email: IMAP in, SMTP out, threading. See docs/email.md."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from lines.channels.base import BaseChannel
from lines.channels.context import ChannelContext
from lines.channels.email.adapter import EmailChannel
from lines.console.settings import ConfigError

__all__ = ["EmailChannel", "setup"]


def setup(app: web.Application, context: ChannelContext) -> list[BaseChannel]:
    """Return one channel per configured mailbox; each polls its IMAP folder once started."""
    settings = context.settings
    mailboxes = settings.channels.email
    if not mailboxes:
        return []
    if not settings.server.secret_key.get_secret_value():
        raise ConfigError("server.secret_key: email needs it to sign Message-IDs (set LINES_SECRET_KEY)")
    for index, box in enumerate(mailboxes):
        if box.imap_ca_file and not Path(box.imap_ca_file).is_file():
            raise ConfigError(f"channels.email[{index}].imap_ca_file: no such file: {box.imap_ca_file}")

    return [EmailChannel(box, context) for box in mailboxes]
