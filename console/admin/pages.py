"""`/admin/operators` and `/admin/teams`: admins manage, leads read their own teams, operators get 403.

The pages only read; every change goes through the API (`console/api/operators.py`, `teams.py`)
from `web/static/admin.js`, so the page enforces nothing the API does not.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.console.auth import AuthContext
from lines.console.i18n import N_
from lines.console.keys import nav_key, sessions_key
from lines.console.models import Conversation, Operator, Status, Team
from lines.console.nav import LEADS, NavItem
from lines.console.serialize import operator_dict, team_dict
from lines.console.views import Page, signed_in

CAPACITY_KINDS = ("chat", "email")


@dataclass(frozen=True, slots=True)
class Staff:
    """What the caller may see: every operator and team for an admin, their own teams' for a lead."""

    operators: list[Operator]
    teams: list[Team]
    loads: dict[int, int]


async def staff_for(session: AsyncSession, ctx: AuthContext) -> Staff:
    operators = list(
        (
            await session.scalars(
                select(Operator).order_by(Operator.name, Operator.id).options(selectinload(Operator.teams))
            )
        ).all()
    )
    teams = list((await session.scalars(select(Team).order_by(Team.title, Team.name))).all())
    counted = await session.execute(
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.is_not(None), Conversation.status == Status.OPEN)
        .group_by(Conversation.assignee_id)
    )
    # `is not None` repeats the query's condition for the type checker.
    loads = {int(assignee): int(count) for assignee, count in counted if assignee is not None}
    if not ctx.scope.is_admin:
        mine = ctx.scope.team_ids
        operators = [o for o in operators if {t.id for t in o.teams} & mine]
        teams = [t for t in teams if t.id in mine]
    return Staff(operators, teams, loads)


async def lead_or_admin(request: web.Request) -> AuthContext:
    ctx = await signed_in(request)
    if not ctx.scope.is_lead:
        raise web.HTTPForbidden()
    return ctx


async def operators_page(request: web.Request) -> web.Response:
    ctx = await lead_or_admin(request)
    async with request.app[sessions_key]() as session:
        staff = await staff_for(session, ctx)
    editable = ctx.scope.is_admin
    data = {
        "page": "admin-operators",
        "editable": editable,
        "me_id": ctx.operator.id,
        "operators": [{**operator_dict(o), "load": staff.loads.get(o.id, 0)} for o in staff.operators],
    }
    return Page(request, ctx).render(
        "admin_operators.html",
        data=data,
        operators=staff.operators,
        teams=staff.teams,
        loads=staff.loads,
        editable=editable,
        capacity_kinds=CAPACITY_KINDS,
        active_nav="admin-operators",
    )


async def teams_page(request: web.Request) -> web.Response:
    ctx = await lead_or_admin(request)
    async with request.app[sessions_key]() as session:
        staff = await staff_for(session, ctx)
    editable = ctx.scope.is_admin
    members = {t.id: [o for o in staff.operators if any(m.id == t.id for m in o.teams)] for t in staff.teams}
    data = {
        "page": "admin-teams",
        "editable": editable,
        "teams": [{**team_dict(t), "members": [o.login for o in members[t.id]]} for t in staff.teams],
    }
    return Page(request, ctx).render(
        "admin_teams.html",
        data=data,
        teams=staff.teams,
        members=members,
        operators=[o for o in staff.operators if o.active],
        editable=editable,
        active_nav="admin-teams",
    )


def setup(app: web.Application) -> None:
    app[nav_key].extend(
        [
            NavItem("admin-operators", "/admin/operators", N_("Operators"), LEADS, "nav-admin-operators", "admin", 10),
            NavItem("admin-teams", "/admin/teams", N_("Teams"), LEADS, "nav-admin-teams", "admin", 20),
        ]
    )
    app.router.add_get("/admin/operators", operators_page)
    app.router.add_get("/admin/teams", teams_page)
