"""The lead's routing page: rules editor, preview, what-if, history with rollback, the live queue,
and the skills matrix with capacity (saved per operator through `PATCH /api/v1/operators/{id}`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.console.api.operators import may_patch
from lines.console.auth import AuthContext
from lines.console.keys import sessions_key
from lines.console.models import Operator
from lines.console.views import Page, signed_in
from lines.routing.models import RoutingRulesVersion

MATRIX_FIELDS = {"skills", "capacity"}


async def editable_operators(session: AsyncSession, ctx: AuthContext) -> list[dict[str, Any]]:
    """Active operators whose skills and capacity the caller may change, by name."""
    operators = (
        await session.scalars(
            select(Operator)
            .where(Operator.active.is_(True))
            .order_by(Operator.name, Operator.id)
            .options(selectinload(Operator.teams))
        )
    ).all()
    return [
        {
            "id": o.id,
            "name": o.name,
            "teams": sorted(t.name for t in o.teams),
            "skills": o.skills or {},
            "capacity": {kind: (o.capacity or {}).get(kind) for kind in ("chat", "email")},
        }
        for o in operators
        if may_patch(ctx, o, MATRIX_FIELDS)
    ]


async def routing_page(request: web.Request) -> web.Response:
    ctx = await signed_in(request)
    page = Page(request, ctx)
    if not ctx.scope.is_lead:
        return page.render("not_found.html", http_status=404)
    async with request.app[sessions_key]() as session:
        live = await session.scalar(select(RoutingRulesVersion).order_by(RoutingRulesVersion.id.desc()).limit(1))
        operators = await editable_operators(session, ctx)
    return page.render(
        "routing_rules.html",
        data={"page": "routing", "rules": live.rules if live else {}, "operators": operators},
        version=live.id if live else None,
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/routing", routing_page)
