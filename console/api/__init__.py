"""HTTP API under /api/v1: one route table (auth, conversations, operators, teams) and its OpenAPI."""

from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from lines.console.api import blocking, conversations, operators, outreach, revisions, search, session, teams
from lines.console.api.errors import api_errors
from lines.console.api.openapi import build_openapi
from lines.console.api.route_table import Route, add_routes, routes_key

ROUTES: list[Route] = [*session.ROUTES, *conversations.ROUTES, *operators.ROUTES, *teams.ROUTES]
ROUTES += outreach.ROUTES
ROUTES += [*blocking.ROUTES, *revisions.ROUTES]
ROUTES += search.ROUTES


class _SpecCache:
    """The document is built on first request: other modules add their routes during setup."""

    def __init__(self) -> None:
        self.spec: dict[str, Any] | None = None


_spec_key = web.AppKey("openapi_spec", _SpecCache)


def _version() -> str:
    try:
        return version("lines")
    except PackageNotFoundError:
        return "0"


async def openapi_json(request: web.Request) -> web.Response:
    cache = request.app[_spec_key]
    if cache.spec is None:
        # Reading the installed version scans the package metadata on disk.
        cache.spec = build_openapi(request.app[routes_key], await asyncio.to_thread(_version))
    return web.json_response(cache.spec)


def middlewares() -> list[Middleware]:
    return [api_errors]


def setup(app: web.Application) -> None:
    """Add the API routes; `app[routes_key]` is the table the OpenAPI document is built from."""
    app[routes_key] = list(ROUTES)
    app[_spec_key] = _SpecCache()
    add_routes(app, ROUTES)
    app.router.add_get("/api/openapi.json", openapi_json, name="openapi")
