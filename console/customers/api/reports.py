"""Reports for leads and admins, read from the rollup counters (never the message tables): volume,
first-response and resolution percentiles, SLA compliance, CSAT, NPS, bot resolution, busiest hours,
by channel, lead type, team, operator or touchpoint; CSV export; the touchpoint map."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from aiohttp import web
from pydantic import Field, model_validator

from lines.console.api.errors import ApiError
from lines.console.api.route_table import Call, Out, Query, Route
from lines.console.customers.reports import MAX_DAYS, report, to_csv, touchpoint_map
from lines.console.days import ReportDay
from lines.console.keys import sessions_key
from lines.console.models import utcnow


class RangeQuery(Query):
    """`from` and `to` are UTC days (`2026-01-31`, from 2000-01-01 to a year ahead), both included, at
    most 366 days apart; default the last 30 days."""

    from_: ReportDay | None = Field(default=None, alias="from")
    to: ReportDay | None = None

    @model_validator(mode="after")
    def _range(self) -> RangeQuery:
        if self.from_ and self.to and self.from_ > self.to:
            raise ValueError("from must not be after to")
        if self.from_ and self.to and (self.to - self.from_).days >= MAX_DAYS:
            raise ValueError(f"the range must be at most {MAX_DAYS} days")
        return self

    def bounds(self) -> tuple[date, date]:
        end = self.to or (self.from_ if self.from_ and self.from_ > utcnow().date() else utcnow().date())
        start = self.from_ or date.fromordinal(end.toordinal() - 29)
        if (end - start).days >= MAX_DAYS or start > end:
            raise ApiError(422, "validation_error", f"the range must be at most {MAX_DAYS} days")
        return start, end


class ReportQuery(RangeQuery):
    by: Literal["all", "channel", "lead_type", "team", "operator", "touchpoint"] = "all"


class ReportOut(Out):
    from_: str = Field(alias="from")
    to: str
    by: str
    totals: dict[str, Any]
    rows: list[dict[str, Any]]
    hours: list[int]
    busiest_hours: list[int]


class TouchpointMapOut(Out):
    from_: str = Field(alias="from")
    to: str
    touchpoints: list[dict[str, Any]]
    weakest: list[str]


def _lead(call: Call) -> None:
    if not call.ctx.scope.is_lead:
        raise ApiError(403, "forbidden", "reports are for leads and admins")


async def get_report(call: Call) -> dict[str, Any]:
    """Totals, one row per key of `by`, and conversations per UTC hour. Percentiles are bucket
    bounds: `p50_seconds_at_most: 300` means half were answered within 5 minutes."""
    _lead(call)
    query = call.query(ReportQuery)
    start, end = query.bounds()
    async with call.app[sessions_key]() as session:
        return await report(session, query.by, start, end)


async def get_report_csv(call: Call) -> web.StreamResponse:
    """The same report as CSV, one row per key after a total row."""
    _lead(call)
    query = call.query(ReportQuery)
    start, end = query.bounds()
    async with call.app[sessions_key]() as session:
        data = await report(session, query.by, start, end)
    name = f"lines-report-{query.by}-{start.isoformat()}-{end.isoformat()}.csv"
    return web.Response(
        text=to_csv(data),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def get_touchpoint_map(call: Call) -> dict[str, Any]:
    """Every touchpoint with its figures and a score from 1 (weak) to 10, and the three weakest."""
    _lead(call)
    query = call.query(RangeQuery)
    start, end = query.bounds()
    async with call.app[sessions_key]() as session:
        return await touchpoint_map(session, start, end)


TAG = "reports"
ROUTES = [
    Route(
        "GET",
        "/api/v1/reports",
        get_report,
        "Report over a date range (leads)",
        ReportOut,
        query=ReportQuery,
        errors=(403,),
        tag=TAG,
    ),
    Route(
        "GET",
        "/api/v1/reports/csv",
        get_report_csv,
        "Report as CSV (leads)",
        None,
        query=ReportQuery,
        errors=(403,),
        tag=TAG,
    ),
    Route(
        "GET",
        "/api/v1/reports/touchpoints",
        get_touchpoint_map,
        "Touchpoint map with scores (leads)",
        TouchpointMapOut,
        query=RangeQuery,
        errors=(403,),
        tag=TAG,
    ),
]
