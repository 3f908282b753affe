"""Web chat: the widget's WebSocket protocol, uploads and the embeddable script."""

from __future__ import annotations

from aiohttp import web

from lines.channels.base import BaseChannel
from lines.channels.context import ChannelContext


def setup(app: web.Application, context: ChannelContext) -> list[BaseChannel]:
    """Add the widget routes and return one channel per configured site."""
    return []
