"""API routes the customers pages need beyond the card: the customers list with filters and keyset
paging, dismissing a duplicate pair, and the follow-ups of my teams."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Id, Out, Query, Route
from lines.console.customers import directory
from lines.console.customers.contacts import ContactError
from lines.console.customers.followups import follow_up_dict, team_follow_ups
from lines.console.keys import sessions_key

TAG = "contacts"


class CustomersQuery(Query):
    q: Annotated[str, Field(max_length=200)] = ""
    channel: Annotated[str, Field(max_length=32)] = ""
    tag: Annotated[str, Field(max_length=64)] = ""
    contacted: Literal["", "7d", "30d", "90d", "older"] = ""
    after: Annotated[int, Field(gt=0, le=2**63 - 1)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = directory.PAGE


class CustomersOut(Out):
    customers: list[dict[str, Any]]
    next_after: int | None


class DismissIn(Body):
    contact_ids: Annotated[list[Id], Field(min_length=2, max_length=2)]


class DismissOut(Out):
    contact_ids: list[int]


class TeamFollowUpsOut(Out):
    follow_ups: list[dict[str, Any]]


async def list_customers(call: Call) -> dict[str, Any]:
    """Customers I may see, newest first: `q` searches name, email, phone digits and tags; filters by
    channel, tag and last contact (`7d`, `30d`, `90d`, or `older` than 90 days); `after` is the
    previous page's `next_after`."""
    query = call.query(CustomersQuery)
    filters = directory.Filters(
        q=query.q, channel=query.channel, tag=query.tag, contacted=query.contacted, after=query.after
    )
    async with call.app[sessions_key]() as session:
        items, next_after = await directory.browse(session, call.ctx.scope, filters, query.limit)
    return {"customers": items, "next_after": next_after}


async def dismiss_duplicate(call: Call) -> dict[str, Any]:
    """Mark two contacts as not the same person: the pair leaves the duplicates queue for good."""
    body = call.body(DismissIn)
    async with call.app[sessions_key]() as session:
        try:
            async with session.begin():
                low, high = await directory.dismiss(session, call.ctx.scope, *body.contact_ids)
        except ContactError as err:
            raise ApiError(err.status, err.code, err.message) from err
    return {"contact_ids": [low, high]}


async def list_team_follow_ups(call: Call) -> dict[str, Any]:
    """Open follow-ups of my teammates on conversations of my teams, overdue first."""
    async with call.app[sessions_key]() as session:
        items = await team_follow_ups(session, call.ctx.scope)
    return {"follow_ups": [follow_up_dict(i) for i in items]}


ROUTES = [
    Route(
        "GET",
        "/api/v1/customers",
        list_customers,
        "Customers I may see, with search, filters and keyset paging",
        CustomersOut,
        query=CustomersQuery,
        tag=TAG,
    ),
    Route(
        "POST",
        "/api/v1/contacts/duplicates/dismissals",
        dismiss_duplicate,
        "Dismiss a duplicate pair: not the same person",
        DismissOut,
        body=DismissIn,
        errors=(404,),
        tag=TAG,
    ),
    Route(
        "GET",
        "/api/v1/follow-ups/team",
        list_team_follow_ups,
        "My teammates' open follow-ups",
        TeamFollowUpsOut,
        tag=TAG,
    ),
]
