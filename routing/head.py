"""What one routing decision reads about its conversation, in the one statement that locks it.

Before, each of these was a round trip of its own (the live rules version, the team's name, the
escalation, the sticky operator, whether a queue notice exists, the contact's tags, whether the
customer is returning); now they are scalar subqueries of the `SELECT … FOR UPDATE SKIP LOCKED`
of the conversation row. The subqueries only read, so the lock still covers the conversation alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, case, exists, func, null, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from lines.console.models import Contact, Conversation, Team
from lines.routing.models import RoutingDecision, RoutingQueueNotice, RoutingRulesVersion
from lines.routing.rules import Sticky

EARLIER = aliased(Conversation, name="earlier")
"""The customer's other conversations (built once: an alias per statement costs more than the query)."""


@dataclass(frozen=True, slots=True)
class Head:
    conversation: Conversation
    rules_version: int | None
    team_name: str | None
    escalated_to: str | None
    """The team a requeue moved the conversation to, while it waits there (it overrides the route)."""
    sticky_operator_id: int | None
    """Computed with the sticky settings the caller passed (its cached rules)."""
    contact_tags: tuple[str, ...]
    returning: bool
    has_notice: bool


def sticky_operator(
    conversation_id: int | SQLColumnExpression[int],
    contact_id: int | SQLColumnExpression[int],
    sticky: Sticky,
    now: datetime,
) -> Select[int | None]:
    """The operator of the customer's latest other conversation within `sticky.within_days`."""
    earlier = EARLIER
    return (
        select(earlier.assignee_id)
        .where(
            earlier.contact_id == contact_id,
            earlier.id != conversation_id,
            earlier.assignee_id.is_not(None),
            earlier.created_at >= now - timedelta(days=sticky.within_days),
        )
        .order_by(earlier.id.desc())
        .limit(1)
    )


def _head_query(conversation_id: int, sticky: Sticky | None, now: datetime, lock: bool) -> Select[Any]:
    earlier = EARLIER
    last_decision = (
        select(case((RoutingDecision.operator_id.is_(None), RoutingDecision.team), else_=null()))
        .where(RoutingDecision.conversation_id == Conversation.id)
        .order_by(RoutingDecision.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    sticky_column = (
        sticky_operator(Conversation.id, Conversation.contact_id, sticky, now).correlate(Conversation).scalar_subquery()
        if sticky is not None and sticky.enabled
        else null()
    )
    query = select(
        Conversation,
        select(func.max(RoutingRulesVersion.id)).scalar_subquery(),
        select(Team.name).where(Team.id == Conversation.team_id).correlate(Conversation).scalar_subquery(),
        last_decision,
        sticky_column,
        select(Contact.tags).where(Contact.id == Conversation.contact_id).correlate(Conversation).scalar_subquery(),
        exists()
        .where(earlier.contact_id == Conversation.contact_id, earlier.id < Conversation.id)
        .correlate(Conversation),
        exists().where(RoutingQueueNotice.conversation_id == Conversation.id).correlate(Conversation),
    ).where(Conversation.id == conversation_id)
    if lock:
        query = query.with_for_update(skip_locked=True, of=Conversation)
    return query.execution_options(populate_existing=True)


async def read_head(session: AsyncSession, conversation_id: int, sticky: Sticky | None, now: datetime) -> Head | None:
    """The conversation row (locked `FOR UPDATE SKIP LOCKED` on PostgreSQL) with what a decision needs
    about it; None if it does not exist or another worker holds it."""
    lock = session.get_bind().dialect.name == "postgresql"
    row = (await session.execute(_head_query(conversation_id, sticky, now, lock))).one_or_none()
    if row is None:
        return None
    conversation, version, team_name, escalated, sticky_id, tags, returning, noticed = row
    return Head(
        conversation=conversation,
        rules_version=version,
        team_name=team_name,
        escalated_to=escalated or None,
        sticky_operator_id=sticky_id,
        contact_tags=tuple(tags or ()),
        returning=bool(returning),
        has_notice=bool(noticed),
    )
