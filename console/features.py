"""The parts built on the core, each wired in by its `setup(app)`, in the order they see changes.

The customer part comes first: a survey answer that arrives after resolution is closed before the
bot or routing could take it for a request. The bot comes before routing: a conversation the bot is
answering is not routed until it hands off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from aiohttp import web

from lines.bots import feature as bots
from lines.console.customers import feature as customers
from lines.routing import feature as routing
from lines.sla import feature as sla

FeatureSetup: TypeAlias = Callable[[web.Application], None]

FEATURES: list[FeatureSetup] = [customers.setup, bots.setup, routing.setup, sla.setup]
