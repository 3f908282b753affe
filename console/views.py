"""Server-rendered console pages (to be filled)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add the console pages and static files."""
