"""Routing rules (versioned, with rollback), assignment explanations and the live queue. Leads only.

Every published change is a new version with who, when and what; the newest version is live.
Rollback publishes a copy of an older version, so the history itself never changes.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from lines.console.actions import ActionError, visible_conversation
from lines.console.api.errors import ApiError
from lines.console.api.route_table import Body, Call, Out, Route
from lines.console.keys import limiter_key, sessions_key
from lines.console.models import Contact, Conversation, Direction, Message, Operator, Team, utcnow
from lines.console.touchpoint import touchpoint_fields
from lines.routing.choose import choose
from lines.routing.classify import Subject, classify
from lines.routing.engine import BUSY, Router, waiting_query
from lines.routing.keys import router_key
from lines.routing.models import RoutingDecision, RoutingRulesVersion
from lines.routing.presence_replay import online_spans
from lines.routing.rules import Rules, RulesError, channel_kind, parse_rules, route_teams
from lines.routing.simulate import Arrival, SimOperator, generate, simulate

MAX_HISTORY = 200


class RulesIn(Body):
    rules: dict[str, Any]
    comment: Annotated[str, Field(max_length=500)] = ""


class PreviewIn(Body):
    """A message as routing would see it; `rules` defaults to the live rules."""

    channel: Annotated[str, Field(min_length=1, max_length=32)]
    text: Annotated[str, Field(max_length=10_000)] = ""
    contact_tags: list[Annotated[str, Field(max_length=64)]] = []
    returning_customer: bool = False
    inbox: Annotated[str, Field(max_length=64)] = ""
    source: dict[str, str | dict[str, str]] = {}
    """The touchpoint as a channel stores it or as flat fields (`{"utm_source": "news"}`)."""
    rules: dict[str, Any] | None = None


class SimulateIn(Body):
    """Draft `rules` (default: the live ones) replayed over the last `days` from the store, or over a
    generated load of `hours` with `arrivals_per_hour` per channel kind."""

    rules: dict[str, Any] | None = None
    sample: Literal["store", "generated"] = "generated"
    days: Annotated[int, Field(ge=1, le=31)] = 7
    hours: Annotated[float, Field(gt=0, le=24 * 31)] = 168.0
    arrivals_per_hour: dict[str, Annotated[float, Field(ge=0, le=100_000)]] = {"webchat": 30.0}
    handle_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 8.0
    texts: list[Annotated[str, Field(max_length=2000)]] = []
    target_seconds: Annotated[float, Field(gt=0, le=86400)] = 60.0
    seed: int = 1


class SimulateOut(Out):
    arrivals: int
    assigned: int
    never_assigned: int
    unrouted: int
    simulated_hours: float
    target_seconds: float
    teams: dict[str, dict[str, Any]]
    per_operator: dict[str, int]
    presence: Literal["history", "everyone_online"]
    """`history`: operators online as they were (store replay); `everyone_online`: a generated load."""
    elapsed_seconds: float


class RulesVersionOut(Out):
    version: int | None
    rules: dict[str, Any]
    author: str
    comment: str
    restored_from: int | None
    created_at: datetime | None


class RulesHistoryOut(Out):
    versions: list[RulesVersionOut]


class PreviewOut(Out):
    lead_type: str | None
    team: str | None
    operator: dict[str, Any] | None
    considered: list[dict[str, Any]]


class DecisionOut(Out):
    id: int
    operator_id: int | None
    reason: str
    lead_type: str | None
    team: str | None
    rules_version: int | None
    explanation: dict[str, Any]
    created_at: datetime


class DecisionsOut(Out):
    decisions: list[DecisionOut]


class QueueOut(Out):
    waiting: int
    by_lead_type: list[dict[str, Any]]
    longest_wait_seconds: float | None
    operators: list[dict[str, Any]]


def _require_lead(call: Call) -> None:
    if not call.ctx.scope.is_lead:
        raise ApiError(403, "forbidden", "only leads and admins manage routing")


def _version_dict(row: RoutingRulesVersion) -> dict[str, Any]:
    return {
        "version": row.id,
        "rules": row.rules,
        "author": row.author_name,
        "comment": row.comment,
        "restored_from": row.restored_from,
        "created_at": row.created_at.isoformat(),
    }


async def validate_rules(session: AsyncSession, document: dict[str, Any]) -> Rules:
    """Parsed rules, or 422 `invalid_rules` naming each wrong field by JSON pointer."""
    try:
        rules = parse_rules(document)
    except RulesError as err:
        raise ApiError(422, "invalid_rules", str(err)) from err
    named = list(route_teams(rules))
    known = set((await session.scalars(select(Team.name).where(Team.name.in_([n for _, n in named])))).all())
    missing = [f"{pointer}: team {name!r} does not exist" for pointer, name in named if name not in known]
    if missing:
        raise ApiError(422, "invalid_rules", "; ".join(missing))
    return rules


async def _publish(call: Call, document: dict[str, Any], comment: str, restored_from: int | None) -> dict[str, Any]:
    async with call.app[sessions_key]() as session, session.begin():
        await validate_rules(session, document)
        row = RoutingRulesVersion(
            rules=document,
            author_id=call.ctx.operator.id,
            author_name=call.ctx.operator.name,
            comment=comment,
            restored_from=restored_from,
            created_at=utcnow(),
        )
        session.add(row)
        await session.flush()
        return _version_dict(row)


async def get_rules(call: Call) -> dict[str, Any]:
    """The live rules; `version` is null while none were ever published."""
    _require_lead(call)
    async with call.app[sessions_key]() as session:
        row = await session.scalar(select(RoutingRulesVersion).order_by(RoutingRulesVersion.id.desc()).limit(1))
    if row is None:
        return {"version": None, "rules": {}, "author": "", "comment": "", "restored_from": None, "created_at": None}
    return _version_dict(row)


async def put_rules(call: Call) -> dict[str, Any]:
    """Publish new rules as the next version. Invalid rules are refused and nothing changes."""
    _require_lead(call)
    body = call.body(RulesIn)
    return await _publish(call, body.rules, body.comment, None)


async def rules_history(call: Call) -> dict[str, Any]:
    """Every published version, newest first."""
    _require_lead(call)
    async with call.app[sessions_key]() as session:
        rows = (
            await session.scalars(
                select(RoutingRulesVersion).order_by(RoutingRulesVersion.id.desc()).limit(MAX_HISTORY)
            )
        ).all()
    return {"versions": [_version_dict(r) for r in rows]}


async def rollback_rules(call: Call) -> dict[str, Any]:
    """Publish a copy of version `id` as the newest version."""
    _require_lead(call)
    async with call.app[sessions_key]() as session:
        old = await session.get(RoutingRulesVersion, call.ids["id"])
    if old is None:
        raise ApiError(404, "not_found", f"rules version {call.ids['id']} not found")
    return await _publish(call, old.rules, f"rollback to version {old.id}", old.id)


async def _draft_or_live(session: AsyncSession, router: Router, draft: dict[str, Any] | None) -> Rules:
    """The draft rules given in the request (validated), else the published ones."""
    rules = await validate_rules(session, draft) if draft is not None else (await router.rules())[1]
    if rules is None:
        raise ApiError(422, "no_rules", "no routing rules are published; give `rules`")
    return rules


async def preview(call: Call) -> dict[str, Any]:
    """Which lead type, team and operator this message would get now (nothing is written)."""
    _require_lead(call)
    body = call.body(PreviewIn)
    router = call.app[router_key]
    async with call.app[sessions_key]() as session:
        rules = await _draft_or_live(session, router, body.rules)
        subject = Subject(
            channel=body.channel,
            text=body.text,
            contact_tags=tuple(body.contact_tags),
            returning=body.returning_customer,
            source=touchpoint_fields(body.inbox, body.source),
            at=utcnow(),
        )
        lead = classify(rules, subject, router.is_open)
        route = rules.route_for(lead.id if lead else None)
        if route is None:
            return {"lead_type": lead.id if lead else None, "team": None, "operator": None, "considered": []}
        candidates = await router._candidates(session, route.team, channel_kind(body.channel))
        choice = choose(
            candidates.values(),
            team=route.team,
            required=route.required_skills,
            preferred=route.preferred_skills,
            strategy=route.strategy,
        )
        operator = None
        if choice.operator_id is not None:
            found = await session.get(Operator, choice.operator_id)
            assert found is not None
            operator = {"id": found.id, "login": found.login, "name": found.name}
    return {"lead_type": route.lead_type, "team": route.team, "operator": operator, "considered": choice.considered}


async def conversation_routing(call: Call) -> dict[str, Any]:
    """Why the conversation went where it did: every routing decision, oldest first."""
    _require_lead(call)
    async with call.app[sessions_key]() as session:
        try:
            await visible_conversation(session, call.ctx.scope, call.ids["id"])
        except ActionError as err:
            raise ApiError(404, "not_found", f"conversation {call.ids['id']} not found") from err
        rows = (
            await session.scalars(
                select(RoutingDecision)
                .where(RoutingDecision.conversation_id == call.ids["id"])
                .order_by(RoutingDecision.id)
            )
        ).all()
    return {
        "decisions": [
            {
                "id": r.id,
                "operator_id": r.operator_id,
                "reason": r.reason,
                "lead_type": r.lead_type,
                "team": r.team,
                "rules_version": r.rules_version,
                "explanation": r.explanation,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
    }


async def live_queue(call: Call) -> dict[str, Any]:
    """Waiting conversations per lead type, the longest wait, and each operator's load and presence."""
    _require_lead(call)
    now = utcnow()
    waiting = waiting_query().subquery()
    async with call.app[sessions_key]() as session:
        per_type = (
            await session.execute(
                select(Conversation.lead_type, func.count(), func.min(Conversation.created_at))
                .where(Conversation.id.in_(select(waiting.c.id)))
                .group_by(Conversation.lead_type)
            )
        ).all()
        operators = (
            await session.scalars(select(Operator).where(Operator.active.is_(True)).order_by(Operator.name))
        ).all()
        loads = (
            await session.execute(
                select(Conversation.assignee_id, Conversation.channel, func.count())
                .where(Conversation.assignee_id.is_not(None), Conversation.status.in_(BUSY))
                .group_by(Conversation.assignee_id, Conversation.channel)
            )
        ).all()
    load: dict[int, dict[str, int]] = {}
    for assignee_id, channel, count in loads:
        if assignee_id is None:  # excluded by the query; tells the type checker
            continue
        kinds = load.setdefault(assignee_id, {"chat": 0, "email": 0})
        kinds[channel_kind(channel)] += count
    oldest = [since for _, _, since in per_type if since is not None]
    return {
        "waiting": sum(count for _, count, _ in per_type),
        "by_lead_type": [
            {
                "lead_type": lead_type,
                "waiting": count,
                "longest_wait_seconds": (now - since).total_seconds() if since else None,
            }
            for lead_type, count, since in sorted(per_type, key=lambda r: (r[0] is None, r[0] or ""))
        ],
        "longest_wait_seconds": (now - min(oldest)).total_seconds() if oldest else None,
        "operators": [
            {
                "id": o.id,
                "login": o.login,
                "name": o.name,
                "presence": o.presence,
                "load": load.get(o.id, {"chat": 0, "email": 0}),
                "capacity": o.capacity or {},
                "skills": o.skills or {},
            }
            for o in operators
        ],
    }


MAX_SIMULATED_ARRIVALS = 50_000
"""The most conversations one what-if replays (a few seconds of one core); more is 422 `too_large`."""
MAX_STORE_SAMPLE = MAX_SIMULATED_ARRIVALS
SIMULATION_LEASE_SECONDS = 120
"""How long one lead's running simulation holds their slot if its worker dies before releasing it."""


def _check_size(body: SimulateIn) -> None:
    expected = body.hours * sum(body.arrivals_per_hour.values())
    if body.sample == "generated" and expected > MAX_SIMULATED_ARRIVALS:
        raise ApiError(
            422,
            "too_large",
            f"hours x arrivals_per_hour makes about {expected:.0f} conversations; "
            f"a simulation replays at most {MAX_SIMULATED_ARRIVALS}",
        )


async def simulate_rules(call: Call) -> dict[str, Any]:
    """Replay routing in simulated time with draft rules; nothing is written.

    One simulation per lead at a time, across workers (a slot on the shared rate limiter, released
    when it ends): a second one meanwhile is 429 with `Retry-After`. At most
    `MAX_SIMULATED_ARRIVALS` conversations (422 `too_large` beyond)."""
    _require_lead(call)
    body = call.body(SimulateIn)
    _check_size(body)
    limiter = call.app[limiter_key]
    slot = f"routing:simulate:{call.ctx.scope.operator_id}"
    verdict = await limiter.hit(slot, 1, SIMULATION_LEASE_SECONDS)
    if not verdict.allowed:
        raise ApiError(
            429,
            "simulation_running",
            "your previous simulation is still running; try again when it ends",
            {"Retry-After": str(verdict.retry_after)},
        )
    try:
        return await _simulate(call, body)
    finally:
        await limiter.reset(slot)


async def _simulate(call: Call, body: SimulateIn) -> dict[str, Any]:
    router = call.app[router_key]
    async with call.app[sessions_key]() as session:
        rules = await _draft_or_live(session, router, body.rules)
        operators = (
            await session.scalars(
                select(Operator).where(Operator.active.is_(True)).options(selectinload(Operator.teams))
            )
        ).all()
        spans: dict[int, tuple[tuple[float, float], ...] | None] = {o.id: None for o in operators}
        if body.sample == "store":
            until = utcnow()
            since = until - timedelta(days=body.days)
            arrivals = await _store_sample(session, since, body.handle_minutes)
            if len(arrivals) > MAX_SIMULATED_ARRIVALS:
                raise ApiError(
                    422,
                    "too_large",
                    f"the last {body.days} days hold more than {MAX_SIMULATED_ARRIVALS} conversations; "
                    "replay fewer days",
                )
            spans.update(await online_spans(session, operators, since, until))
        else:
            arrivals = generate(body.hours, body.arrivals_per_hour, body.handle_minutes, body.texts, body.seed)
        staff = [
            SimOperator(
                o.id,
                o.login,
                frozenset(t.name for t in o.teams),
                dict(o.skills or {}),
                dict(o.capacity or {}),
                online=spans[o.id],
            )
            for o in operators
        ]
    started = time.perf_counter()
    result = await asyncio.to_thread(simulate, rules, staff, arrivals, body.target_seconds, router.is_open)
    presence = "history" if body.sample == "store" else "everyone_online"
    return {**result, "presence": presence, "elapsed_seconds": time.perf_counter() - started}


async def _store_sample(session: AsyncSession, since: datetime, handle_minutes: float) -> list[Arrival]:
    first_inbound = (
        select(Message.conversation_id, func.min(Message.id).label("message_id"))
        .where(Message.direction == Direction.IN)
        .group_by(Message.conversation_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                Conversation.created_at,
                Conversation.resolved_at,
                Conversation.channel,
                Message.text,
                Contact.tags,
                Conversation.inbox,
                Conversation.source,
            )
            .join(Contact, Contact.id == Conversation.contact_id)
            .outerjoin(first_inbound, first_inbound.c.conversation_id == Conversation.id)
            .outerjoin(Message, Message.id == first_inbound.c.message_id)
            .where(Conversation.created_at >= since)
            .order_by(Conversation.created_at)
            .limit(MAX_STORE_SAMPLE + 1)
        )
    ).all()
    return [
        Arrival(
            at=(created - since).total_seconds(),
            channel=channel,
            text=(text or "")[:2000],
            contact_tags=tuple(tags or ()),
            handle_seconds=(resolved - created).total_seconds() if resolved else handle_minutes * 60,
            source=tuple(sorted(touchpoint_fields(inbox, source).items())),
        )
        for created, resolved, channel, text, tags, inbox, source in rows
    ]


ROUTES = [
    Route(
        "GET",
        "/api/v1/routing/rules",
        get_rules,
        "The live routing rules",
        RulesVersionOut,
        errors=(403,),
        tag="routing",
    ),
    Route(
        "PUT",
        "/api/v1/routing/rules",
        put_rules,
        "Publish routing rules as a new version",
        RulesVersionOut,
        body=RulesIn,
        errors=(403, 422),
        tag="routing",
    ),
    Route(
        "GET",
        "/api/v1/routing/rules/history",
        rules_history,
        "Published versions of the routing rules",
        RulesHistoryOut,
        errors=(403,),
        tag="routing",
    ),
    Route(
        "POST",
        "/api/v1/routing/rules/history/{id}/rollback",
        rollback_rules,
        "Publish an older version again",
        RulesVersionOut,
        errors=(403, 404, 422),
        tag="routing",
    ),
    Route(
        "POST",
        "/api/v1/routing/preview",
        preview,
        "Which lead type, team and operator a message would get",
        PreviewOut,
        body=PreviewIn,
        errors=(403, 422),
        tag="routing",
    ),
    Route(
        "POST",
        "/api/v1/routing/simulate",
        simulate_rules,
        "What-if: replay routing with draft rules",
        SimulateOut,
        body=SimulateIn,
        errors=(403, 422, 429),
        tag="routing",
    ),
    Route("GET", "/api/v1/routing/queue", live_queue, "The live queue", QueueOut, errors=(403,), tag="routing"),
    Route(
        "GET",
        "/api/v1/conversations/{id}/routing",
        conversation_routing,
        "Why a conversation was assigned as it was",
        DecisionsOut,
        errors=(403, 404),
        tag="routing",
    ),
]
