"""The parts built on the core, each wired in by its `setup(app)`, in the order they see changes.

The customer part comes first: a survey answer that arrives after resolution is closed before the
bot or routing could take it for a request. The bot comes before routing: a conversation the bot is
answering is not routed until it hands off.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

from aiohttp import web

from lines.bots import cli as bots_cli
from lines.bots import demo as bots_demo
from lines.bots import feature as bots
from lines.console.customers import feature as customers
from lines.console.db import SessionMaker
from lines.console.settings import Settings
from lines.routing import feature as routing
from lines.sla import feature as sla

FeatureSetup: TypeAlias = Callable[[web.Application], None]

FEATURES: list[FeatureSetup] = [customers.setup, bots.setup, routing.setup, sla.setup]

AddCommands: TypeAlias = Callable[[Any, Callable[[argparse.Namespace], Settings]], None]
"""Adds a part's subcommands to the `lines` parser's subparsers; the callable loads the settings."""
COMMANDS: list[AddCommands] = [bots_cli.add_parser]
DemoData: TypeAlias = Callable[[SessionMaker], Awaitable[None]]
"""Seeds a part's sample data for `lines demo` (idempotent)."""
DEMO_DATA: list[DemoData] = [bots_demo.seed_demo_kb]
