"""The core's `Availability`: asks the hours provider and the presence provider through their keys.

Set on every app by `create_app`; the parts fill in the two halves (`hours_key` by SLA,
`presence_key` by routing) and read the answer through `availability_key`. See
`console/availability.py` for what "open" means.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from lines.console.availability import AlwaysOpen, BusinessHours, Openness, TeamRef
from lines.console.keys import hours_key, presence_key, settings_key


class OpenNow:
    def __init__(self, app: web.Application) -> None:
        self._app = app

    def _hours(self) -> BusinessHours:
        return self._app.get(hours_key) or AlwaysOpen()

    def _zone(self, channel: str, inbox: str, hours: BusinessHours) -> str:
        return self._app[settings_key].channel_time_zones().get((channel, inbox)) or hours.time_zone()

    def in_hours(self, at: datetime) -> bool:
        return self._hours().is_open(at)

    async def open_for(self, channel: str, inbox: str, team: TeamRef, at: datetime) -> Openness:
        hours = self._hours()
        zone = self._zone(channel, inbox, hours)
        if hours.is_open(at):
            return Openness(True, None, zone)
        presence = self._app.get(presence_key)
        if presence is not None and await presence.anyone_online(team, channel):
            return Openness(True, None, zone)
        return Openness(False, hours.next_open(at), zone)

    async def open_on(self, channel: str, inbox: str, at: datetime) -> Openness:
        team = self._app[settings_key].channel_teams().get((channel, inbox))
        return await self.open_for(channel, inbox, team, at)
