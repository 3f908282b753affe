"""Pages of this part: the public survey page for email customers (signed token, no login), and the
leads' report and touchpoint-map pages with charts drawn as SVG on the server."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from lines.console.customers.models import Survey
from lines.console.customers.reports import MAX_DAYS, report, touchpoint_map
from lines.console.customers.surveys import RANGES, SurveyError, record_answer, verify
from lines.console.days import report_day_or_none
from lines.console.keys import sessions_key, settings_key
from lines.console.models import utcnow
from lines.console.views import Page, signed_in

BY = ("all", "channel", "lead_type", "team", "operator", "touchpoint")


def _survey_id(request: web.Request) -> int:
    secret = request.app[settings_key].server.secret_key.get_secret_value()
    survey_id = verify(secret, request.match_info["token"])
    if survey_id is None:
        raise web.HTTPNotFound(text="no such survey")
    return survey_id


async def survey_page(request: web.Request) -> web.Response:
    """The question with one button per score; answering is a POST (mail scanners follow GET links)."""
    survey_id = _survey_id(request)
    async with request.app[sessions_key]() as session:
        survey = await session.get(Survey, survey_id)
    if survey is None:
        raise web.HTTPNotFound(text="no such survey")
    low, high = RANGES[survey.kind]
    return Page(request, None).render(
        "survey.html",
        survey=survey,
        scores=list(range(low, high + 1)),
        state="answered" if survey.score is not None else "ask",
    )


async def survey_submit(request: web.Request) -> web.Response:
    survey_id = _survey_id(request)
    form = await request.post()
    raw = str(form.get("score", ""))
    page = Page(request, None)
    if not raw.isascii() or not raw.isdigit() or len(raw) > 2:
        raise web.HTTPUnprocessableEntity(text="score must be a number")
    async with request.app[sessions_key]() as session:
        try:
            async with session.begin():
                survey: Survey | None = await record_answer(session, survey_id, int(raw), "link")
            state = "thanks"
        except SurveyError as err:
            if err.code == "not_found":
                raise web.HTTPNotFound(text="no such survey") from err
            if err.code == "out_of_range":
                raise web.HTTPUnprocessableEntity(text=err.message) from err
            survey = await session.get(Survey, survey_id)
            state = "answered"
    assert survey is not None
    return page.render("survey.html", survey=survey, scores=[], state=state)


def _range(request: web.Request) -> tuple[date, date, str]:
    """From the query, falling back to the last 30 days; a bad or reversed range is an error text."""
    end = report_day_or_none(request.query.get("to")) or utcnow().date()
    start = report_day_or_none(request.query.get("from")) or end - timedelta(days=29)
    error = ""
    if start > end or (end - start).days >= MAX_DAYS:
        error = "range"
        end = utcnow().date()
        start = end - timedelta(days=29)
    return start, end, error


async def _lead_page(request: web.Request) -> tuple[Page, bool]:
    ctx = await signed_in(request)
    return Page(request, ctx), ctx.scope.is_lead


def hours_chart(hours: list[int]) -> dict[str, Any]:
    """Bars for conversations per UTC hour, in a 480 x 120 box."""
    top = max(hours) or 1
    bars = []
    for hour, count in enumerate(hours):
        height = round(100 * count / top, 1)
        bars.append({"hour": hour, "count": count, "x": hour * 20 + 2, "y": round(105 - height, 1), "h": height})
    return {"bars": bars}


def score_colour(score: float | None) -> str:
    if score is None:
        return "#c9ced8"
    # 1 -> red, 10 -> green, through amber.
    share = (score - 1) / 9
    red = round(214 - 183 * share)
    green = round(69 + 69 * share)
    return f"#{red:02x}{green:02x}{76:02x}"


def map_layout(points: list[dict[str, Any]], weakest: list[str]) -> dict[str, Any]:
    """Touchpoints as circles in a grid (area by volume, colour by score), weakest ringed."""
    per_row = 4
    top = max((p["conversations"] for p in points), default=1) or 1
    nodes = []
    for index, point in enumerate(points):
        row, col = divmod(index, per_row)
        radius = round(14 + 30 * math.sqrt(point["conversations"] / top), 1)
        nodes.append(
            {
                "key": point["key"],
                "score": point["score"],
                "conversations": point["conversations"],
                "x": 100 + col * 200,
                "y": 90 + row * 170,
                "r": radius,
                "fill": score_colour(point["score"]),
                "weakest": point["key"] in weakest,
            }
        )
    rows = max(1, math.ceil(len(points) / per_row))
    return {"nodes": nodes, "width": 800, "height": rows * 170 + 20}


async def reports_page(request: web.Request) -> web.Response:
    page, allowed = await _lead_page(request)
    if not allowed:
        return page.render("not_found.html", http_status=404)
    start, end, error = _range(request)
    by = request.query.get("by", "channel")
    by = by if by in BY else "channel"
    async with request.app[sessions_key]() as session:
        data = await report(session, by, start, end)
    query = urlencode({"from": start.isoformat(), "to": end.isoformat(), "by": by})
    return page.render(
        "reports.html",
        active_nav="reports",
        data=None,
        report=data,
        start=start.isoformat(),
        end=end.isoformat(),
        by=by,
        dimensions=BY,
        chart=hours_chart(data["hours"]),
        csv_url=f"/api/v1/reports/csv?{query}",
        range_error=bool(error),
    )


async def touchpoints_page(request: web.Request) -> web.Response:
    page, allowed = await _lead_page(request)
    if not allowed:
        return page.render("not_found.html", http_status=404)
    start, end, error = _range(request)
    async with request.app[sessions_key]() as session:
        data = await touchpoint_map(session, start, end)
    return page.render(
        "touchpoints.html",
        active_nav="reports",
        data=None,
        tmap=data,
        layout=map_layout(data["touchpoints"], data["weakest"]),
        start=start.isoformat(),
        end=end.isoformat(),
        range_error=bool(error),
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/survey/{token}", survey_page)
    app.router.add_post("/survey/{token}", survey_submit)
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/touchpoints", touchpoints_page)
