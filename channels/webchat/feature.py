"""Web chat: the widget's WebSocket protocol, uploads and the embeddable script.

Routes (the frames are in docs/webchat.md; error codes in `protocol.py`):
    GET  /webchat/widget.js               the one-tag widget
    GET  /webchat/{site_key}/ws           visitor WebSocket (JSON frames)
    GET  /webchat/{site_key}/config       title, welcome and limits for the widget
    POST /webchat/{site_key}/upload       a visitor's file (multipart), OPTIONS for CORS
    GET  /demo                            the demo shop page, under `lines demo` only
"""

from __future__ import annotations

import hashlib
from importlib import resources

import jinja2
from aiohttp import web

from lines.channels.base import BaseChannel
from lines.channels.context import ChannelContext
from lines.channels.webchat.adapter import WebchatChannel
from lines.channels.webchat.hub import Hub
from lines.channels.webchat.routes import DEMO_SITE, demo_page, site_config, widget_js
from lines.channels.webchat.socket import visitor_socket
from lines.channels.webchat.state import WebchatState, templates_key, webchat_key
from lines.channels.webchat.upload import upload, upload_preflight
from lines.console.keys import demo_key
from lines.console.settings import ConfigError
from lines.console.template_files import preloaded_templates

__all__ = ["WebchatChannel", "setup"]


def setup(app: web.Application, context: ChannelContext) -> list[BaseChannel]:
    """Add the widget routes and return one channel per configured site."""
    settings = context.settings
    sites = settings.channels.webchat
    if not sites:
        return []
    if not settings.server.secret_key.get_secret_value():
        raise ConfigError("server.secret_key: web chat needs it to sign visitor tokens (set LINES_SECRET_KEY)")
    widget = resources.files("lines.web").joinpath("static", "widget.js").read_bytes()
    hub = Hub()
    app[webchat_key] = WebchatState(
        context=context,
        hub=hub,
        widget_js=widget,
        widget_etag='"' + hashlib.sha256(widget).hexdigest()[:20] + '"',
    )
    app[templates_key] = jinja2.Environment(loader=preloaded_templates(), autoescape=True, enable_async=False)
    app.on_shutdown.append(hub.close_all)
    app.router.add_get("/webchat/widget.js", widget_js)
    app.router.add_get("/webchat/{site_key}/ws", visitor_socket)
    app.router.add_get("/webchat/{site_key}/config", site_config)
    app.router.add_post("/webchat/{site_key}/upload", upload)
    app.router.add_route("OPTIONS", "/webchat/{site_key}/upload", upload_preflight)
    if app.get(demo_key, False) and settings.webchat_site(DEMO_SITE) is not None:
        app.router.add_get("/demo", demo_page)
    return [WebchatChannel(site.site_key, context, hub) for site in sites]
