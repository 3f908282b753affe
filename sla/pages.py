"""The lead page: breaches today and compliance per team, operator, channel and lead type."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web

from lines.console.days import report_day_or_none
from lines.console.keys import sessions_key
from lines.console.views import Page, signed_in
from lines.sla import report


def _day(raw: str | None, default: date) -> date:
    return report_day_or_none(raw) or default


async def sla_page(request: web.Request) -> web.Response:
    """Leads and admins only; others get the not-found page, as for a conversation they cannot see."""
    ctx = await signed_in(request)
    page = Page(request, ctx)
    if not ctx.scope.is_lead:
        return page.render("not_found.html", http_status=404)
    today = datetime.now(UTC).date()
    first = _day(request.query.get("date_from"), today - timedelta(days=6))
    last = max(first, min(_day(request.query.get("date_to"), today), first + timedelta(days=366)))
    since = datetime.combine(first, time(0), tzinfo=UTC)
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
    midnight = datetime.combine(today, time(0), tzinfo=UTC)
    async with request.app[sessions_key]() as session:
        compliance = await report.compliance(session, ctx.scope, since, until)
        breaches = await report.breaches(session, ctx.scope, midnight, midnight + timedelta(days=1))
    return page.render(
        "sla_report.html",
        date_from=first.isoformat(),
        date_to=last.isoformat(),
        compliance=compliance,
        today=breaches,
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/sla", sla_page)
