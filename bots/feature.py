"""Wires this part into the app: the bot's processor on `inbound` jobs, the bot and KB API routes.

The bot runs before routing in the processors list, so a conversation it takes (`answering`) is
not routed until it hands off. Whether operators are there to take
over: the core's `availability_key` (console/open_now.py).
"""

from __future__ import annotations

from aiohttp import web

from lines.bots import api, pages
from lines.bots.engine import Bot, bot_key
from lines.bots.processor import BotProcessor
from lines.console.api.route_table import add_routes, routes_key
from lines.console.i18n import N_
from lines.console.keys import nav_key, processors_key
from lines.console.nav import LEADS, NavItem


def setup(app: web.Application) -> None:
    """Called by `create_app` after the core and the channels, before consuming starts."""
    bot = Bot(app)
    app[bot_key] = bot
    app[processors_key].append(BotProcessor(bot))
    app[routes_key].extend(api.ROUTES)
    add_routes(app, api.ROUTES)
    pages.setup(app)
    app[nav_key].append(NavItem("kb", "/kb", N_("Knowledge base"), LEADS, "nav-kb", order=50))
