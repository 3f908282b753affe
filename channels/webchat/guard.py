"""Checks every widget endpoint makes first: a configured site, and a page origin it allows."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from lines.channels.webchat.config import WebchatSite
from lines.console.settings import Settings


def json_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """The API's error shape, `{"error": {"code", "message"}}`."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


class Refused(Exception):
    """A request the widget endpoints refuse before doing any work."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self, headers: dict[str, str] | None = None) -> web.Response:
        return json_error(self.status, self.code, self.message, headers)


def own_origins(request: web.Request, settings: Settings) -> set[str]:
    """The server's own origin(s): the widget may always be used on our own pages (/demo)."""
    origins = {f"{request.scheme}://{request.host}"}
    if settings.server.public_url:
        origins.add(settings.server.public_url)
    return origins


def site_for(request: web.Request, settings: Settings) -> WebchatSite:
    site: WebchatSite | None = settings.webchat_site(request.match_info.get("site_key", ""))
    if site is None:
        raise Refused(404, "unknown_site", "no web-chat site with this key")
    return site


def check_origin(request: web.Request, settings: Settings, site: WebchatSite, *, required: bool) -> str | None:
    """The request's Origin if the site allows it; `required` refuses requests without one.

    Browsers always send Origin on WebSocket handshakes and cross-origin POSTs, so a missing Origin
    there is a script, which is held to the same allow-list.
    """
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        if "*" in site.origins or not required:
            return None
        raise Refused(403, "origin_not_allowed", "this site's chat needs an allowed page origin")
    origin = origin.rstrip("/")
    if "*" in site.origins or origin in site.origins or origin in own_origins(request, settings):
        return origin
    raise Refused(403, "origin_not_allowed", "the chat is not enabled for this page's origin")


def cors_headers(origin: str | None, **extra: Any) -> dict[str, str]:
    """Allow exactly the checked origin (never `*` with data, never credentials)."""
    headers = {"Vary": "Origin"}
    if origin:
        headers["Access-Control-Allow-Origin"] = origin
    headers.update({k: str(v) for k, v in extra.items()})
    return headers
