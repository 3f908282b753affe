"""The lead report: breaches of a day and compliance per team, operator, channel and lead type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.access import Scope
from lines.console.models import Conversation, Operator, Team
from lines.sla.models import ConversationSla, SlaEvent

GROUPS = ("team", "operator", "channel", "lead_type")


async def compliance(session: AsyncSession, scope: Scope, since: datetime, until: datetime) -> dict[str, Any]:
    """Conversations created in [since, until) under a policy, how many kept every target, per group."""
    columns = {
        "team": Team.name,
        "operator": Operator.login,
        "channel": Conversation.channel,
        "lead_type": Conversation.lead_type,
    }
    result: dict[str, Any] = {"from": since.isoformat(), "to": until.isoformat(), "groups": {}}
    for group, column in columns.items():
        query = (
            select(
                column,
                func.count(ConversationSla.conversation_id),
                func.count(ConversationSla.conversation_id).filter(ConversationSla.breached.is_(True)),
            )
            .select_from(ConversationSla)
            .join(Conversation, Conversation.id == ConversationSla.conversation_id)
            .outerjoin(Team, Team.id == Conversation.team_id)
            .outerjoin(Operator, Operator.id == Conversation.assignee_id)
            .where(
                ConversationSla.policy_id.is_not(None),
                Conversation.created_at >= since,
                Conversation.created_at < until,
                scope.conversation_filter(),
            )
            .group_by(column)
            .order_by(column)
        )
        rows = (await session.execute(query)).all()
        result["groups"][group] = [
            {
                "key": key,
                "total": total,
                "breached": breached,
                "compliance": round(100.0 * (total - breached) / total, 1) if total else None,
            }
            for key, total, breached in rows
        ]
    return result


async def breaches(session: AsyncSession, scope: Scope, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Every breach fired in [since, until), newest first."""
    rows = (
        await session.execute(
            select(SlaEvent, Conversation.subject, Conversation.channel, Team.name, Operator.name)
            .join(Conversation, Conversation.id == SlaEvent.conversation_id)
            .outerjoin(Team, Team.id == Conversation.team_id)
            .outerjoin(Operator, Operator.id == Conversation.assignee_id)
            .where(
                SlaEvent.kind == "breached",
                SlaEvent.fired_at >= since,
                SlaEvent.fired_at < until,
                scope.conversation_filter(),
            )
            .order_by(SlaEvent.fired_at.desc())
            .limit(500)
        )
    ).all()
    return [
        {
            "conversation_id": event.conversation_id,
            "policy_id": event.policy_id,
            "target": event.target,
            "due_at": event.due_at.isoformat(),
            "fired_at": event.fired_at.isoformat(),
            "subject": subject,
            "channel": channel,
            "team": team,
            "assignee": assignee,
        }
        for event, subject, channel, team, assignee in rows
    ]
