"""The customers part's working pages: customers (`/contacts`, a card at `/contacts/{id}`), the
duplicates review queue, follow-ups and canned responses.

Each page reads through the same functions and visibility rules as the API it sits on, and every
change a page makes is an API call from `customer_pages.js`, so a page can show or do nothing the
API would refuse.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import false, select

from lines.console.customers import canned, contacts, directory
from lines.console.customers.contacts import ContactError
from lines.console.customers.followups import follow_up_dict, list_follow_ups, team_follow_ups
from lines.console.customers.models import AttributeDefinition, FollowUp
from lines.console.keys import sessions_key
from lines.console.models import ContactIdentity, Conversation, Operator, Team
from lines.console.views import Page, signed_in


async def contacts_page(request: web.Request) -> web.Response:
    ctx = await signed_in(request)
    page = Page(request, ctx)
    raw_after = request.query.get("after", "")
    contacted = request.query.get("contacted", "")
    filters = directory.Filters(
        q=request.query.get("q", "")[:200],
        channel=request.query.get("channel", "")[:32],
        tag=request.query.get("tag", "")[:64],
        contacted=contacted if contacted in (*directory.CONTACTED, directory.CONTACTED_OLDER) else "",
        after=int(raw_after) if raw_after.isascii() and raw_after.isdigit() and 0 < int(raw_after) < 2**63 else None,
    )
    async with request.app[sessions_key]() as session:
        items, next_after = await directory.browse(session, ctx.scope, filters)
        channels = (
            await session.scalars(select(ContactIdentity.channel).distinct().order_by(ContactIdentity.channel))
        ).all()
    kept = {k: v for k, v in (("q", filters.q), ("channel", filters.channel), ("tag", filters.tag)) if v}
    if filters.contacted:
        kept["contacted"] = filters.contacted
    return page.render(
        "contacts.html",
        active_nav="contacts",
        customers=items,
        filters=filters,
        channels=channels,
        next_url=f"/contacts?{urlencode({**kept, 'after': next_after})}" if next_after else "",
        first_url=f"/contacts?{urlencode(kept)}" if filters.after else "",
    )


async def contact_page(request: web.Request) -> web.Response:
    ctx = await signed_in(request)
    page = Page(request, ctx)
    async with request.app[sessions_key]() as session:
        try:
            contact = await contacts.card(session, ctx.scope, int(request.match_info["id"]))
        except ContactError:
            return page.render("not_found.html", http_status=404)
        attributes = (await session.scalars(select(AttributeDefinition).order_by(AttributeDefinition.key))).all()
    return page.render("contact.html", active_nav="contacts", contact=contact, attribute_defs=attributes)


async def duplicates_page(request: web.Request) -> web.Response:
    ctx = await signed_in(request)
    page = Page(request, ctx)
    async with request.app[sessions_key]() as session:
        pairs = await contacts.duplicates(session, ctx.scope)
    return page.render("duplicates.html", active_nav="contacts", pairs=pairs)


async def _conversations(session: Any, items: list[FollowUp]) -> dict[int, Conversation]:
    ids = {i.conversation_id for i in items}
    if not ids:
        return {}
    rows = await session.scalars(select(Conversation).where(Conversation.id.in_(ids)))
    return {c.id: c for c in rows.all()}


async def followups_page(request: web.Request) -> web.Response:
    ctx = await signed_in(request)
    page = Page(request, ctx)
    async with request.app[sessions_key]() as session:
        mine = list(await list_follow_ups(session, ctx.scope, overdue=False))
        team = list(await team_follow_ups(session, ctx.scope))
        conversations = await _conversations(session, mine + team)
        owner_ids = {i.operator_id for i in team}
        owners = (
            {o.id: o.name for o in (await session.scalars(select(Operator).where(Operator.id.in_(owner_ids)))).all()}
            if owner_ids
            else {}
        )

    def rows(items: list[FollowUp]) -> list[dict[str, Any]]:
        return [
            {
                **follow_up_dict(i),
                "due": i.due_at,
                "subject": conversations[i.conversation_id].subject if i.conversation_id in conversations else "",
                "owner": owners.get(i.operator_id, ""),
            }
            for i in items
        ]

    return page.render("followups.html", active_nav="followups", mine=rows(mine), team=rows(team))


async def canned_page(request: web.Request) -> web.Response:
    ctx = await signed_in(request)
    page = Page(request, ctx)
    scope = ctx.scope
    async with request.app[sessions_key]() as session:
        items = await canned.list_for(session, scope)
        team_stmt = select(Team).order_by(Team.name)
        if not scope.is_admin:
            team_stmt = team_stmt.where(Team.id.in_(scope.team_ids)) if scope.team_ids else team_stmt.where(false())
        teams = (await session.scalars(team_stmt)).all()
    names = {t.id: t.title or t.name for t in teams}
    managed = [t for t in teams if scope.is_admin or (scope.is_lead and t.id in scope.team_ids)]
    rows = [
        {**canned.canned_dict(c), "team": names.get(c.team_id or 0, ""), "editable": canned.may_edit(scope, c)}
        for c in items
    ]
    return page.render(
        "canned.html",
        active_nav="canned",
        responses=rows,
        teams=managed,
        variables=VARIABLES,
        data={"cannedSample": {name: sample for name, sample in VARIABLES}},
    )


# The variables a canned response may use, with the example each one shows in the preview.
VARIABLES = [
    ("contact.name", "Anna Petrova"),
    ("contact.email", "anna@example.com"),
    ("contact.phone", "+79161234567"),
    ("conversation.number", "1042"),
    ("conversation.subject", "Order 5531"),
    ("operator.name", "Maria"),
    ("signature", "Maria, support team"),
    ("operator.signature", "Maria"),
    ("team.signature", "Support team"),
]


def setup(app: web.Application) -> None:
    app.router.add_get("/contacts", contacts_page)
    app.router.add_get("/contacts/duplicates", duplicates_page)
    app.router.add_get(r"/contacts/{id:\d{1,18}}", contact_page)
    app.router.add_get("/followups", followups_page)
    app.router.add_get("/canned", canned_page)
