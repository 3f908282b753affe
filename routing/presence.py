"""Routing's half of "is Lines open": whether anybody who could take a conversation is online.

The same pool the chooser picks from (`routing/pool.py`): active operators of the team (any team
when none is given), online, with room for the channel kind in their capacity. Set as the core's
`presence_key` by `routing/feature.py`.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from lines.console.availability import TeamRef
from lines.console.keys import sessions_key
from lines.console.models import Presence, Team
from lines.routing.pool import load_pool
from lines.routing.rules import channel_kind


class RoutingPresence:
    def __init__(self, app: web.Application) -> None:
        self._app = app  # the sessions exist only once the app has started

    async def anyone_online(self, team: TeamRef, channel: str) -> bool:
        async with self._app[sessions_key]() as session:
            name = await session.scalar(select(Team.name).where(Team.id == team)) if isinstance(team, int) else team
            pool = await load_pool(session, name, channel_kind(channel))
        return any(c.presence == Presence.ONLINE and c.capacity > 0 for c in pool.candidates.values())
