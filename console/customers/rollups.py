"""Incremental report rollups, kept by a change-job processor; reports read only these counters.

Each conversation fact (created, first response, resolved, survey answer) is counted once: a row in
`report_facts` with a unique key is inserted in the same transaction as the counter increments, so a
redelivered job or a sweep after a lost job adds nothing twice. Durations go into fixed buckets, so
percentiles come out as "at most N seconds" without reading any message row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.changes import Assigned, ChangeJob, Inbound, Reply, StatusChanged
from lines.console.customers.models import ReportCounter, ReportFact, Survey
from lines.console.db import SessionMaker
from lines.console.models import AuthorKind, Conversation, Direction, Message, Operator, Team
from lines.console.touchpoint import touchpoint_key

log = logging.getLogger(__name__)

BUCKETS: tuple[float, ...] = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 604800, float("inf"))
"""Upper bounds in seconds of the duration buckets (`frt_b0` counts responses within 60 s, ...)."""

DIMENSIONS = ("all", "channel", "lead_type", "team", "operator", "touchpoint", "hour")


def bucket(seconds: float) -> int:
    for index, bound in enumerate(BUCKETS):
        if seconds <= bound:
            return index
    return len(BUCKETS) - 1


def day_of(at: datetime) -> str:
    return at.date().isoformat()


async def bump(
    session: AsyncSession, day: str, keys: Iterable[tuple[str, str]], metrics: dict[str, float], count: int = 1
) -> None:
    """count += `count` and total += value for each (dimension, key) and metric, as one atomic
    multi-row upsert (`INSERT ... ON CONFLICT DO UPDATE` on SQLite and PostgreSQL alike)."""
    rows = [
        {"day": day, "dimension": dimension, "key": key, "metric": metric, "count": count, "total": value}
        for dimension, key in keys
        for metric, value in metrics.items()
    ]
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(ReportCounter).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["day", "dimension", "key", "metric"],
        set_={"count": ReportCounter.count + stmt.excluded.count, "total": ReportCounter.total + stmt.excluded.total},
    )
    await session.execute(stmt)


async def claim_fact(session: AsyncSession, conversation_id: int, fact: str) -> bool:
    """True the first time `fact` is claimed for the conversation, False ever after."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    result = await session.execute(
        insert(ReportFact).values(conversation_id=conversation_id, fact=fact).on_conflict_do_nothing()
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def _keys(session: AsyncSession, conversation: Conversation, operator: bool) -> list[tuple[str, str]]:
    keys = [
        ("all", ""),
        ("channel", conversation.channel),
        ("lead_type", conversation.lead_type or "-"),
        ("touchpoint", touchpoint_key(conversation.channel, conversation.inbox, conversation.source)),
    ]
    team = await session.get(Team, conversation.team_id) if conversation.team_id else None
    keys.append(("team", team.name if team else "-"))
    if operator:
        keys.append(("operator", await operator_key(session, conversation)))
    return keys


async def operator_key(session: AsyncSession, conversation: Conversation) -> str:
    """Who handles the conversation, whatever their role: the assignee, else the operator who wrote
    its first public reply (a lead or admin answering without taking it); `-` while nobody has."""
    operator_id = conversation.assignee_id
    if operator_id is None:
        operator_id = await session.scalar(
            select(Message.author_operator_id)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == Direction.OUT,
                Message.author_kind == AuthorKind.OPERATOR,
                Message.author_operator_id.is_not(None),
            )
            .order_by(Message.id)
            .limit(1)
        )
    who = await session.get(Operator, operator_id) if operator_id is not None else None
    return who.login if who else "-"


async def count_created(session: AsyncSession, conversation: Conversation) -> None:
    """Counted under every dimension; under `operator` as `-` until `count_handled` moves it."""
    if not await claim_fact(session, conversation.id, "created"):
        return
    day = day_of(conversation.created_at)
    keys = [
        *await _keys(session, conversation, operator=False),
        ("hour", f"{conversation.created_at.hour:02d}"),
        ("operator", "-"),
    ]
    await bump(session, day, keys, {"conversations": 0})
    await claim_fact(session, conversation.id, AWAITING_OPERATOR)


AWAITING_OPERATOR = "awaiting_operator"
"""Fact of a conversation counted under operator `-` that no operator has handled yet."""


async def count_handled(session: AsyncSession, conversation: Conversation) -> None:
    """The first operator who handles the conversation (`operator_key`) gets it in their row:
    moved from `-` on its creation day, so the operator rows always add up to the total. A later
    transfer does not move it again; the first response and resolution go to whoever holds it then."""
    key = await operator_key(session, conversation)
    if key == "-":
        return
    moved = await session.execute(
        delete(ReportFact).where(ReportFact.conversation_id == conversation.id, ReportFact.fact == AWAITING_OPERATOR)
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        return  # already moved (or counted before operators had a `conversations` row)
    day = day_of(conversation.created_at)
    await bump(session, day, [("operator", "-")], {"conversations": 0}, count=-1)
    await bump(session, day, [("operator", key)], {"conversations": 0})


async def count_first_response(session: AsyncSession, conversation: Conversation) -> None:
    if conversation.first_response_at is None or not await claim_fact(session, conversation.id, "first_response"):
        return
    seconds = max(0.0, (conversation.first_response_at - conversation.created_at).total_seconds())
    keys = await _keys(session, conversation, operator=True)
    day = day_of(conversation.first_response_at)
    await bump(session, day, keys, {"frt": seconds, f"frt_b{bucket(seconds)}": 0})


async def count_resolved(session: AsyncSession, conversation: Conversation) -> None:
    """The first resolution counts; a reopened and re-resolved conversation is not counted again."""
    if conversation.resolved_at is None or not await claim_fact(session, conversation.id, "resolved"):
        return
    seconds = max(0.0, (conversation.resolved_at - conversation.created_at).total_seconds())
    keys = await _keys(session, conversation, operator=True)
    day = day_of(conversation.resolved_at)
    metrics: dict[str, float] = {"resolved": seconds, f"res_b{bucket(seconds)}": 0}
    if conversation.sla_state in ("met", "ok"):
        metrics["sla_met"] = 0
    elif conversation.sla_state == "breached":
        metrics["sla_breached"] = 0
    if conversation.bot_state == "answering":
        metrics["bot_resolved"] = 0
    await bump(session, day, keys, metrics)


async def count_survey(session: AsyncSession, survey: Survey, conversation: Conversation) -> None:
    """Called in the transaction that records the answer (which happens once per survey). Counted on
    the day the conversation was resolved, so a range's CSAT matches its resolutions."""
    assert survey.score is not None and survey.answered_at is not None
    keys = await _keys(session, conversation, operator=True)
    day = day_of(conversation.resolved_at or survey.answered_at)
    if survey.kind == "csat":
        metrics: dict[str, float] = {"csat": survey.score}
        if survey.score >= 4:
            metrics["csat_positive"] = 0
    else:
        group = "promoter" if survey.score >= 9 else "passive" if survey.score >= 7 else "detractor"
        metrics = {"nps": survey.score, f"nps_{group}": 0}
    await bump(session, day, keys, metrics)


COUNTED = (Inbound, Reply, StatusChanged, Assigned)
"""The change jobs after which a conversation may have something new to count."""


class Rollups:
    """The change processor: keeps the counters as conversations are created, answered, resolved."""

    def __init__(self, sessions: SessionMaker) -> None:
        self._sessions = sessions

    async def __call__(self, job: ChangeJob) -> None:
        if not isinstance(job, COUNTED):
            return
        try:
            await self.count(job.conversation_id)
        except Exception:
            log.exception("report rollup for conversation %s failed", job.conversation_id)

    async def count(self, conversation_id: int) -> None:
        """Count whatever this conversation has that is not counted yet (idempotent)."""
        async with self._sessions() as session, session.begin():
            conversation = await session.scalar(select(Conversation).where(Conversation.id == conversation_id))
            if conversation is None:
                return
            await count_created(session, conversation)
            await count_handled(session, conversation)
            await count_first_response(session, conversation)
            await count_resolved(session, conversation)

    async def sweep(self, since: datetime) -> int:
        """Count conversations changed since `since` (a job may be lost in a bus outage)."""
        async with self._sessions() as session:
            ids = (
                await session.scalars(
                    select(Conversation.id).where(Conversation.updated_at >= since).order_by(Conversation.id)
                )
            ).all()
        for conversation_id in ids:
            await self.count(conversation_id)
        return len(ids)
