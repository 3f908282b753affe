"""Whether Lines is "open" for a conversation: one answer for the bot, the widget and routing.

Open means within business hours (the SLA calendar), or outside them when somebody who could take
the conversation is online anyway (routing's view: an active operator of the conversation's team,
online, with capacity for its channel kind). So on a week-end with an operator online Lines is
open; on a week-end with nobody online it is closed until the hours begin (`back_at`); within the
hours it is open even while nobody is online at this minute (a lunch break, a shift change): the
customer waits in the queue, where routing tells them their place, rather than being told that
operators are away. Without a presence provider (routing switched off) the hours alone decide.

The two halves are provided by parts through the core's keys (`console/keys.py`): `hours_key`
(set by SLA) and `presence_key` (set by routing). `Composer` asks both; nobody else does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime

TeamRef = int | str | None
"""A team by id, by name, or None for "any team"."""


@dataclass(frozen=True, slots=True)
class Openness:
    open: bool
    back_at: datetime | None = None
    """When closed: when business hours next begin (aware UTC), or None if the calendar cannot tell."""
    time_zone: str = "UTC"
    """The zone to show `back_at` to the customer in: the site's or mailbox's, else the calendar's."""


class BusinessHours(Protocol):
    """The office hours operators work (the SLA part's calendar)."""

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (aware UTC) is within business hours."""
        ...

    def next_open(self, at: datetime) -> datetime | None:
        """When business hours next begin after `at`, or None if unknown."""
        ...

    def time_zone(self) -> str:
        """The calendar's IANA time zone."""
        ...


class Presence(Protocol):
    """Whether anybody who could take a conversation is online (routing's pool)."""

    async def anyone_online(self, team: TeamRef, channel: str) -> bool: ...


class Availability(Protocol):
    def in_hours(self, at: datetime) -> bool:
        """Whether `at` is within business hours (routing's `business_hours` condition)."""
        ...

    async def open_for(self, channel: str, inbox: str, team: TeamRef, at: datetime) -> Openness:
        """Openness for a conversation of `channel`/`inbox` in `team` (its `team_id`; None: any team)."""
        ...

    async def open_on(self, channel: str, inbox: str, at: datetime) -> Openness:
        """The cheap variant for a widget's header: the team new conversations of the inbox go to."""
        ...


class AlwaysOpen:
    def is_open(self, at: datetime) -> bool:
        return True

    def next_open(self, at: datetime) -> datetime | None:
        return at

    def time_zone(self) -> str:
        return "UTC"


def zone_or_utc(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time_text(at: datetime, time_zone: str, lang: str) -> str:
    """`at` as the customer reads it: in `time_zone`, in their language ("понедельник 7 декабря, 12:00")."""
    return format_datetime(at, "EEEE d MMMM, HH:mm", tzinfo=zone_or_utc(time_zone), locale=lang)
