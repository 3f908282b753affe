"""This part's objects on the app."""

from __future__ import annotations

from aiohttp import web

from lines.routing.engine import Router
from lines.routing.live import QueueChanges

router_key = web.AppKey("routing_router", Router)
queue_changes_key = web.AppKey("routing_queue_changes", QueueChanges)
