"""Operator events over WebSocket at /api/v1/events (to be filled)."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Add the events route and its hub."""
