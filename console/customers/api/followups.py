"""Follow-ups: an operator's reminder on a conversation at a time, listed soonest first."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, Field

from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Out, Query, Route
from lines.console.customers.followups import do_add_follow_up, do_finish_follow_up, follow_up_dict, list_follow_ups
from lines.console.keys import sessions_key
from lines.console.models import utcnow


class FollowUpIn(Body):
    due_at: AwareDatetime
    note: Annotated[str, Field(max_length=2000)] = ""


class FollowUpQuery(Query):
    overdue: bool = False


class FollowUpOut(Out):
    id: int
    conversation_id: int
    operator_id: int
    due_at: str
    note: str
    fired_at: str | None
    done_at: str | None
    overdue: bool


class FollowUpList(Out):
    follow_ups: list[FollowUpOut]


async def add_follow_up(call: Call) -> dict[str, Any]:
    """A reminder for me on the conversation at `due_at` (in the future)."""
    body = call.body(FollowUpIn)
    if body.due_at <= utcnow():
        raise ApiError(422, "validation_error", "due_at: must be in the future")
    async with call.app[sessions_key]() as session:
        item = await do_add_follow_up(session, call.ctx.scope, call.ids["id"], body.due_at, body.note)
    return follow_up_dict(item)


async def get_follow_ups(call: Call) -> dict[str, Any]:
    """My open follow-ups, soonest first; `overdue=true` lists only those past due."""
    query = call.query(FollowUpQuery)
    async with call.app[sessions_key]() as session:
        items = await list_follow_ups(session, call.ctx.scope, overdue=query.overdue)
    return {"follow_ups": [follow_up_dict(i) for i in items]}


async def finish_follow_up(call: Call) -> dict[str, Any]:
    """Mark my follow-up done."""
    async with call.app[sessions_key]() as session:
        item = await do_finish_follow_up(session, call.ctx.scope, call.ids["id"])
    return follow_up_dict(item)


TAG = "contacts"
ROUTES = [
    Route(
        "POST",
        "/api/v1/conversations/{id}/follow-ups",
        add_follow_up,
        "Remind me about a conversation",
        FollowUpOut,
        body=FollowUpIn,
        status=201,
        errors=(404,),
        tag=TAG,
    ),
    Route(
        "GET", "/api/v1/follow-ups", get_follow_ups, "My open follow-ups", FollowUpList, query=FollowUpQuery, tag=TAG
    ),
    Route(
        "POST",
        "/api/v1/follow-ups/{id}/done",
        finish_follow_up,
        "Mark a follow-up done",
        FollowUpOut,
        errors=(404,),
        tag=TAG,
    ),
]
