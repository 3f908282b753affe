"""Canned responses: mine and my teams', the `/` picker, and a response filled in for a conversation."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.actions import visible_conversation
from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Id, Out, Query, Route
from lines.console.customers import canned
from lines.console.customers.models import CannedResponse
from lines.console.keys import sessions_key
from lines.console.models import Team


class CannedIn(Body):
    shortcut: Annotated[str, Field(pattern=canned.SHORTCUT.pattern)]
    title: Annotated[str, Field(max_length=200)] = ""
    text: Annotated[str, Field(min_length=1, max_length=20_000)]
    team_id: Id | None = None


class CannedPatch(Body):
    shortcut: Annotated[str, Field(pattern=canned.SHORTCUT.pattern)] | None = None
    title: Annotated[str, Field(max_length=200)] | None = None
    text: Annotated[str, Field(min_length=1, max_length=20_000)] | None = None


class CannedQuery(Query):
    prefix: Annotated[str, Field(max_length=64)] = ""


class RenderQuery(Query):
    conversation_id: Annotated[int, Field(gt=0, le=2**63 - 1)]


class CannedOut(Out):
    id: int
    shortcut: str
    title: str
    text: str
    scope: str
    team_id: int | None


class CannedList(Out):
    canned_responses: list[CannedOut]


class RenderedOut(Out):
    text: str


class DeletedOut(Out):
    ok: bool


async def list_canned(call: Call) -> dict[str, Any]:
    """Mine and my teams'; `prefix` filters by shortcut (the `/` picker)."""
    query = call.query(CannedQuery)
    async with call.app[sessions_key]() as session:
        found = await canned.list_for(session, call.ctx.scope, query.prefix)
    return {"canned_responses": [canned.canned_dict(c) for c in found]}


async def create_canned(call: Call) -> dict[str, Any]:
    """Personal without `team_id`; a team's with it (leads of that team and admins)."""
    body = call.body(CannedIn)
    scope = call.ctx.scope
    if body.team_id is not None and not (scope.is_admin or (scope.is_lead and body.team_id in scope.team_ids)):
        raise ApiError(403, "forbidden", "only leads of the team and admins add team responses")
    if body.team_id is not None:
        async with call.app[sessions_key]() as session:
            if await session.get(Team, body.team_id) is None:
                raise ApiError(422, "unknown_team", f"team_id: team {body.team_id} does not exist")
    item = CannedResponse(
        shortcut=body.shortcut,
        title=body.title,
        text=body.text,
        owner_id=None if body.team_id else scope.operator_id,
        team_id=body.team_id,
        created_by=scope.operator_id,
    )
    async with call.app[sessions_key]() as session, session.begin():
        clash = await session.scalar(
            select(CannedResponse.id).where(
                CannedResponse.shortcut == body.shortcut,
                CannedResponse.team_id == body.team_id
                if body.team_id
                else CannedResponse.owner_id == scope.operator_id,
            )
        )
        if clash is not None:
            raise ApiError(409, "shortcut_exists", f"/{body.shortcut} exists")
        session.add(item)
    return canned.canned_dict(item)


async def _editable(session: AsyncSession, call: Call) -> CannedResponse:
    item = await session.get(CannedResponse, call.ids["id"])
    scope = call.ctx.scope
    if item is None or not (
        item.owner_id == scope.operator_id
        or (item.team_id is not None and (scope.is_admin or item.team_id in scope.team_ids))
    ):
        raise ApiError(404, "not_found", "canned response not found")
    if not canned.may_edit(scope, item):
        raise ApiError(403, "forbidden", "only leads of the team and admins change team responses")
    return item


async def update_canned(call: Call) -> dict[str, Any]:
    """Change shortcut, title or text."""
    body = call.body(CannedPatch)
    async with call.app[sessions_key]() as session, session.begin():
        item = await _editable(session, call)
        for name in ("shortcut", "title", "text"):
            value = getattr(body, name)
            if value is not None:
                setattr(item, name, value)
    return canned.canned_dict(item)


async def delete_canned(call: Call) -> dict[str, Any]:
    """Remove it."""
    async with call.app[sessions_key]() as session, session.begin():
        item = await _editable(session, call)
        await session.delete(item)
    return {"ok": True}


async def render_canned(call: Call) -> dict[str, Any]:
    """The text with `{{contact.name}}`, `{{conversation.number}}`, `{{operator.name}}`... filled in."""
    query = call.query(RenderQuery)
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        item = await session.scalar(
            select(CannedResponse).where(CannedResponse.id == call.ids["id"], canned.usable_filter(scope))
        )
        if item is None:
            raise ApiError(404, "not_found", "canned response not found")
        conversation = await visible_conversation(session, scope, query.conversation_id)
        values = await canned.variables(session, conversation, scope.operator_id)
    return {"text": canned.fill(item, values)}


TAG = "contacts"
ROUTES = [
    Route(
        "GET",
        "/api/v1/canned-responses",
        list_canned,
        "My and my teams' canned responses",
        CannedList,
        query=CannedQuery,
        tag=TAG,
    ),
    Route(
        "POST",
        "/api/v1/canned-responses",
        create_canned,
        "Add a canned response",
        CannedOut,
        body=CannedIn,
        status=201,
        errors=(403, 409),
        tag=TAG,
    ),
    Route(
        "PATCH",
        "/api/v1/canned-responses/{id}",
        update_canned,
        "Change a canned response",
        CannedOut,
        body=CannedPatch,
        errors=(403, 404),
        tag=TAG,
    ),
    Route(
        "DELETE",
        "/api/v1/canned-responses/{id}",
        delete_canned,
        "Delete a canned response",
        DeletedOut,
        errors=(403, 404),
        tag=TAG,
    ),
    Route(
        "GET",
        "/api/v1/canned-responses/{id}/render",
        render_canned,
        "A canned response filled in for a conversation",
        RenderedOut,
        query=RenderQuery,
        errors=(404,),
        tag=TAG,
    ),
]
