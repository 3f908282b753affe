"""A team's candidates with their loads in one query, and the capacity check under the operator's lock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.models import Conversation, Operator, Status, Team, operator_teams
from lines.routing.choose import Candidate

BUSY = (Status.OPEN, Status.PENDING)
"""Conversations that take an operator's capacity."""


@dataclass(frozen=True, slots=True)
class Pool:
    """The operators one routing attempt chooses from: candidates by id, their names, the team's id."""

    candidates: dict[int, Candidate]
    names: dict[int, str]
    team_id: int | None


def kind_filter(kind: str) -> ColumnElement[bool]:
    """Conversations of a channel kind: `email`, or `chat` (every other channel)."""
    return Conversation.channel == "email" if kind == "email" else Conversation.channel != "email"


async def operator_load(session: AsyncSession, operator_id: int, kind: str) -> int:
    """Open or pending conversations of `kind` the operator holds."""
    count = await session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.assignee_id == operator_id, Conversation.status.in_(BUSY), kind_filter(kind))
    )
    return int(count or 0)


async def load_pool(session: AsyncSession, team: str | None, kind: str) -> Pool:
    """The team's active operators (every operator when the route names no team) with their load of
    `kind`, counted in the same statement (one round trip per attempt, not one per operator)."""
    load = (
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.assignee_id == Operator.id, Conversation.status.in_(BUSY), kind_filter(kind))
        .correlate(Operator)
        .scalar_subquery()
    )
    query = select(
        Operator.id,
        Operator.login,
        Operator.name,
        Operator.presence,
        Operator.skills,
        Operator.capacity,
        Operator.last_assigned_at,
        Operator.presence_changed_at,
        load,
        Team.id if team is not None else null(),
    ).where(Operator.active.is_(True))
    if team is not None:
        query = query.join(operator_teams, operator_teams.c.operator_id == Operator.id).join(
            Team, and_(Team.id == operator_teams.c.team_id, Team.name == team)
        )
    rows = (await session.execute(query.order_by(Operator.id))).all()
    teams = frozenset([team]) if team else frozenset()
    candidates = {
        row[0]: Candidate(
            id=row[0],
            login=row[1],
            presence=row[3],
            teams=teams,
            skills=row[4] or {},
            capacity=int((row[5] or {}).get(kind, 0)),
            load=int(row[8] or 0),
            last_assigned_at=row[6],
            presence_changed_at=row[7],
        )
        for row in rows
    }
    return Pool(candidates, {row[0]: row[2] for row in rows}, rows[0][9] if rows else None)


async def claim(session: AsyncSession, candidate: Candidate, kind: str, *, wait: bool = True) -> bool | None:
    """Whether the chosen candidate still has room, checked so that two deciders cannot both fill it;
    None (only with `wait=False`) when another decider holds their row right now.

    PostgreSQL: lock the operator's row and recount under the lock (another worker's assignment to
    them commits before we get the lock, and the recount, a new statement, sees it). Without `wait`
    a row another worker has locked is skipped rather than waited for, so four workers draining one
    queue spread over the team instead of queueing on its least loaded operator. SQLite: the single
    pooled connection runs this transaction alone since its first read, so the load read with the
    pool is still exact and no second statement is needed."""
    if session.get_bind().dialect.name != "postgresql":
        return candidate.load < candidate.capacity
    lock = select(Operator.id).where(Operator.id == candidate.id).with_for_update(skip_locked=not wait)
    if await session.scalar(lock) is None:
        return None if not wait else False
    return await operator_load(session, candidate.id, kind) < candidate.capacity
