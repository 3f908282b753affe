"""Signatures: mine and my teams'; `{{signature}}` in a canned response is filled from them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select

from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Out, Route
from lines.console.customers.models import Signature
from lines.console.keys import sessions_key
from lines.console.models import Team


class SignatureIn(Body):
    text: Annotated[str, Field(max_length=2000)]


class SignaturesOut(Out):
    mine: str
    teams: dict[str, str]


async def get_signatures(call: Call) -> dict[str, Any]:
    """My signature and those of my teams (by team id); `{{signature}}` in a canned response is mine,
    or else the conversation's team's."""
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        rows = (
            await session.scalars(
                select(Signature).where(
                    (Signature.operator_id == scope.operator_id) | Signature.team_id.in_(scope.team_ids)
                )
            )
        ).all()
    return {
        "mine": next((s.text for s in rows if s.operator_id == scope.operator_id), ""),
        "teams": {str(s.team_id): s.text for s in rows if s.team_id is not None},
    }


async def _put_signature(call: Call, *, operator_id: int | None, team_id: int | None) -> None:
    text = call.body(SignatureIn).text.strip()
    async with call.app[sessions_key]() as session, session.begin():
        column = Signature.operator_id == operator_id if operator_id else Signature.team_id == team_id
        row = await session.scalar(select(Signature).where(column).with_for_update())
        if not text:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(Signature(operator_id=operator_id, team_id=team_id, text=text))
        else:
            row.text = text


async def put_my_signature(call: Call) -> dict[str, Any]:
    """Set my signature; empty text removes it."""
    await _put_signature(call, operator_id=call.ctx.scope.operator_id, team_id=None)
    return await get_signatures(call)


async def put_team_signature(call: Call) -> dict[str, Any]:
    """Set a team's signature (leads of the team, admins); empty text removes it."""
    scope = call.ctx.scope
    team_id = call.ids["id"]
    if not (scope.is_admin or (scope.is_lead and team_id in scope.team_ids)):
        raise ApiError(403, "forbidden", "only leads of the team and admins set its signature")
    async with call.app[sessions_key]() as session:
        if await session.get(Team, team_id) is None:
            raise ApiError(404, "not_found", f"team {team_id} not found")
    await _put_signature(call, operator_id=None, team_id=team_id)
    return await get_signatures(call)


TAG = "contacts"
ROUTES = [
    Route("GET", "/api/v1/signatures", get_signatures, "My and my teams' signatures", SignaturesOut, tag=TAG),
    Route(
        "PUT", "/api/v1/signatures/mine", put_my_signature, "Set my signature", SignaturesOut, body=SignatureIn, tag=TAG
    ),
    Route(
        "PUT",
        "/api/v1/teams/{id}/signature",
        put_team_signature,
        "Set a team's signature (leads of the team, admins)",
        SignaturesOut,
        body=SignatureIn,
        errors=(403, 404),
        tag=TAG,
    ),
]
