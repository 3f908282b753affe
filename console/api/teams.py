"""Teams: everyone may list them; admins create them, rename them and set their members."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Route
from lines.console.api.schemas import TeamList, TeamOut
from lines.console.auth import announce_session_change
from lines.console.changes import OperatorChanged
from lines.console.keys import bus_key, events_key, sessions_key
from lines.console.models import Operator, Team, operator_teams
from lines.console.serialize import team_dict
from lines.console.users import LOGIN, TEAM


class TeamCreate(Body):
    name: Annotated[str, Field(pattern=TEAM.pattern)]
    title: Annotated[str, Field(max_length=200)] = ""


class TeamPatch(Body):
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    members: Annotated[list[Annotated[str, Field(pattern=LOGIN.pattern)]], Field(max_length=1000)] | None = None
    """Logins of everyone in the team afterwards; the team's leads are its members with the role lead."""
    respect_capacity: bool | None = None
    """True: members taking a chat themselves are held to their capacity, as routing is."""


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


async def patch_team(call: Call) -> dict[str, Any]:
    """Admins only: rename (`title`) and set who is in the team (`members`, all or nothing)."""
    if not call.ctx.scope.is_admin:
        raise ApiError(403, "forbidden", "only admins change teams")
    body = call.body(TeamPatch)
    if "title" in body.model_fields_set and body.title is None:
        raise ApiError(422, "validation_error", "title: must not be null")
    added: set[int] = set()
    removed: set[int] = set()
    async with call.app[sessions_key]() as session:
        async with session.begin():
            team = await session.get(Team, call.ids["id"], with_for_update=True)
            if team is None:
                raise ApiError(404, "not_found", f"team {call.ids['id']} not found")
            if body.title is not None:
                team.title = body.title
            if body.respect_capacity is not None:
                team.respect_capacity = body.respect_capacity
            if body.members is not None:
                wanted = set(body.members)
                current = select(operator_teams.c.operator_id).where(operator_teams.c.team_id == team.id)
                people = (
                    await session.scalars(
                        select(Operator)
                        .where((Operator.login.in_(wanted)) | Operator.id.in_(current))
                        .options(selectinload(Operator.teams))
                    )
                ).all()
                missing = sorted(wanted - {o.login for o in people})
                if missing:
                    raise ApiError(422, "unknown_operator", f"members: {', '.join(missing)} do not exist")
                for operator in people:
                    inside = any(t.id == team.id for t in operator.teams)
                    if operator.login in wanted and not inside:
                        operator.teams.append(team)
                        added.add(operator.id)
                    elif operator.login not in wanted and inside:
                        operator.teams = [t for t in operator.teams if t.id != team.id]
                        removed.add(operator.id)
        result = team_dict(team)
    for operator_id in sorted(added | removed):
        await announce_session_change(call.app[bus_key], operator_id)  # what they may see changed
        await call.app[events_key].change(OperatorChanged(operator_id=operator_id, more_room=operator_id in added))
    return result


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
    Route(
        "PATCH",
        "/api/v1/teams/{id}",
        patch_team,
        "Rename a team, set its members or whether taking a chat respects capacity (admins)",
        TeamOut,
        body=TeamPatch,
        errors=(403, 404),
        tag="teams",
    ),
]
