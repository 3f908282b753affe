"""What the web-chat handlers share, kept on the app under our own typed keys (no globals)."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from aiohttp import web

from lines.channels.context import ChannelContext
from lines.channels.webchat.hub import Hub


@dataclass(frozen=True, slots=True)
class WebchatState:
    context: ChannelContext
    hub: Hub
    widget_js: bytes
    widget_etag: str


webchat_key = web.AppKey("webchat", WebchatState)
templates_key = web.AppKey("webchat_templates", jinja2.Environment)
