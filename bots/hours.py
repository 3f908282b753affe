"""When operators are at work, as the bot sees it.

The SLA part owns business-hours calendars (sla/calendar.py). The bot needs only two questions
answered, so it asks them through this small interface; the default is always open. To plug a
calendar in, set `app[hours_key]` to any object with `is_open(at)` and `next_open(at)` in a
feature's `setup(app)` (any time before the first job is processed):

    from lines.bots.hours import hours_key
    app[hours_key] = calendar  # e.g. the default SLA calendar
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from aiohttp import web


class BusinessHours(Protocol):
    def is_open(self, at: datetime) -> bool:
        """Whether operators are at work at `at` (aware UTC)."""
        ...

    def next_open(self, at: datetime) -> datetime | None:
        """When operators are next at work after `at`, or None if unknown."""
        ...


class AlwaysOpen:
    def is_open(self, at: datetime) -> bool:
        return True

    def next_open(self, at: datetime) -> datetime | None:
        return at


hours_key = web.AppKey("bot_business_hours", BusinessHours)
