"""HTTP API under /api/v1 (to be filled: auth, conversations, operators, teams, OpenAPI)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias

from aiohttp import web

Middleware: TypeAlias = Callable[
    [web.Request, Callable[[web.Request], Awaitable[web.StreamResponse]]], Awaitable[web.StreamResponse]
]


def middlewares() -> list[Middleware]:
    return []


def setup(app: web.Application) -> None:
    """Add the API routes."""
