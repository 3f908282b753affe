"""SLA policies (leads and admins) and the compliance report."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Out, Query, Route
from lines.console.days import ReportDay
from lines.console.keys import sessions_key
from lines.sla import report
from lines.sla.keys import sla_key
from lines.sla.models import SlaPolicyDocument
from lines.sla.policies import CalendarDoc, Policy, PolicyDocument, PolicySet, pointer_errors


class PoliciesBody(Body):
    """The whole document: calendars and policies, in matching order (see docs/sla.md).

    Taken as it comes and checked as a whole by `PolicyDocument`, so that every problem, a missing
    or unknown key included, is named by its JSON pointer."""

    model_config = ConfigDict(extra="allow", strict=True)
    calendars: list[dict[str, Any]] | Any = Field(default=None, description="calendar objects")
    policies: list[dict[str, Any]] | Any = Field(default=None, description="policy objects, first match wins")


class PoliciesOut(Out):
    calendars: list[CalendarDoc]
    policies: list[Policy]
    version: int
    recomputing: bool
    """True while open conversations' deadlines are still being recomputed under this version."""


class ReportQuery(Query):
    date_from: ReportDay | None = None
    date_to: ReportDay | None = None


class ReportOut(Out):
    date_from: str
    date_to: str
    compliance: dict[str, Any]
    breaches: list[dict[str, Any]]


def _require_lead(call: Call) -> None:
    if not call.ctx.scope.is_lead:
        raise ApiError(403, "forbidden", "only leads and admins manage SLA")


async def get_policies(call: Call) -> dict[str, Any]:
    """The SLA calendars and policies in force."""
    _require_lead(call)
    async with call.app[sessions_key]() as session:
        row = await session.get(SlaPolicyDocument, 1)
    if row is None:  # seeded at start; only a concurrent reset could get here
        raise ApiError(404, "not_found", "no SLA policy document stored")
    document = PolicySet.parse(row.document).document.model_dump(mode="json", exclude_none=True)
    return {**document, "version": row.version, "recomputing": row.recompute_version is not None}


async def put_policies(call: Call) -> dict[str, Any]:
    """Replace the document. Answers 202 at once with `recomputing: true`: every open conversation's
    deadlines are recomputed under it in the background (`sla.recomputed` event when done; `GET`
    shows `recomputing` until then). An invalid document is a 422 naming the JSON pointer of the
    problem, and nothing is stored."""
    _require_lead(call)
    body = call.body(PoliciesBody)
    try:
        policies = PolicySet.of(PolicyDocument.model_validate(body.model_dump(exclude_unset=True)))
    except ValidationError as err:
        raise ApiError(422, "validation_error", pointer_errors(err)) from err
    version = await call.app[sla_key].save_policies(policies, call.ctx.scope.operator_id)
    document = policies.document.model_dump(mode="json", exclude_none=True)
    return {**document, "version": version, "recomputing": True}


async def sla_report(call: Call) -> dict[str, Any]:
    """Compliance per team, operator, channel and lead type of conversations created in the range
    (UTC days, both ends included; default today), and the breaches fired in it."""
    _require_lead(call)
    query = call.query(ReportQuery)
    today = datetime.now(UTC).date()
    first = query.date_from or query.date_to or today
    last = query.date_to or first
    if last < first:
        raise ApiError(422, "validation_error", "date_to: must not be before date_from")
    if (last - first).days > 366:
        raise ApiError(422, "validation_error", "date_to: at most 366 days after date_from")
    since = datetime.combine(first, time(0), tzinfo=UTC)
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
    scope = call.ctx.scope
    async with call.app[sessions_key]() as session:
        return {
            "date_from": first.isoformat(),
            "date_to": last.isoformat(),
            "compliance": await report.compliance(session, scope, since, until),
            "breaches": await report.breaches(session, scope, since, until),
        }


ROUTES = [
    Route(
        "GET",
        "/api/v1/sla/policies",
        get_policies,
        "SLA calendars and policies (leads)",
        PoliciesOut,
        errors=(403,),
        tag="sla",
    ),
    Route(
        "PUT",
        "/api/v1/sla/policies",
        put_policies,
        "Replace SLA calendars and policies; open conversations are recomputed in the background (leads)",
        PoliciesOut,
        body=PoliciesBody,
        status=202,
        errors=(403,),
        tag="sla",
    ),
    Route(
        "GET",
        "/api/v1/sla/report",
        sla_report,
        "SLA compliance and breaches over a date range (leads)",
        ReportOut,
        query=ReportQuery,
        errors=(403,),
        tag="sla",
    ),
]
