"""Teams: everyone may list them; admins create them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Route
from lines.console.api.schemas import TeamList, TeamOut
from lines.console.keys import sessions_key
from lines.console.models import Team
from lines.console.serialize import team_dict
from lines.console.users import TEAM


class TeamCreate(Body):
    name: Annotated[str, Field(pattern=TEAM.pattern)]
    title: Annotated[str, Field(max_length=200)] = ""


async def list_teams(call: Call) -> dict[str, Any]:
    """Every team."""
    async with call.app[sessions_key]() as session:
        teams = (await session.scalars(select(Team).order_by(Team.name))).all()
    return {"teams": [team_dict(t) for t in teams]}


async def create_team(call: Call) -> dict[str, Any]:
    """Admins only; `name` is the stable key (lowercase), `title` what people read."""
    if not call.ctx.scope.is_admin:
        raise ApiError(403, "forbidden", "only admins create teams")
    body = call.body(TeamCreate)
    team = Team(name=body.name, title=body.title or body.name.capitalize())
    async with call.app[sessions_key]() as session:
        try:
            async with session.begin():
                if await session.scalar(select(Team.id).where(Team.name == body.name)) is not None:
                    raise ApiError(409, "team_exists", f"team {body.name!r} exists")
                session.add(team)
        except IntegrityError as err:  # a concurrent create of the same name
            raise ApiError(409, "team_exists", f"team {body.name!r} exists") from err
    return team_dict(team)


ROUTES = [
    Route("GET", "/api/v1/teams", list_teams, "All teams", TeamList, tag="teams"),
    Route(
        "POST",
        "/api/v1/teams",
        create_team,
        "Create a team (admins)",
        TeamOut,
        body=TeamCreate,
        status=201,
        errors=(403, 409),
        tag="teams",
    ),
]
