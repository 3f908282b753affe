"""The console's "New conversation" dialog: which channels the signed-in operator may write first on.

A channel qualifies when its adapter can turn an address into a recipient
(`BaseChannel.starts_conversations`) and the operator belongs to the channel's team (admins to all,
a channel without a team is anyone's). The dialog itself posts to `POST /api/v1/conversations`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from aiohttp import web
from sqlalchemy import select

from lines.console import auth
from lines.console.access import Scope
from lines.console.keys import channels_key, sessions_key, settings_key
from lines.console.models import Team


@dataclass(frozen=True, slots=True)
class OutreachChannel:
    channel: str
    inbox: str
    team: str | None


async def outreach_channels(app: web.Application, scope: Scope) -> list[OutreachChannel]:
    """The channels `scope`'s operator may start a conversation on, sorted by kind and name."""
    teams = app[settings_key].channel_teams()
    async with app[sessions_key]() as session:
        team_ids = {name: id_ for name, id_ in await session.execute(select(Team.name, Team.id))}
    found = []
    for (kind, name), adapter in sorted(app[channels_key].items()):
        if not adapter.starts_conversations():
            continue
        team = teams.get((kind, name))
        team_id = team_ids.get(team) if team else None
        if scope.is_admin or team_id is None or team_id in scope.team_ids:
            found.append(OutreachChannel(kind, name, team))
    return found


async def channels_view(request: web.Request) -> web.Response:
    ctx = await auth.authenticate(request)
    if ctx is None:
        return web.json_response({"error": {"code": "unauthorized", "message": "sign in first"}}, status=401)
    found = await outreach_channels(request.app, ctx.scope)
    return web.json_response({"channels": [asdict(c) for c in found]}, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/outreach/channels", channels_view)
