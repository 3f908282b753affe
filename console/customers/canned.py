"""Canned responses: personal or team replies typed as `/shortcut`, rendered with the conversation's
variables through `console/templating.render` (plain substitution, never Jinja)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from lines.console.access import Scope
from lines.console.customers.models import CannedResponse, Signature
from lines.console.models import Contact, Conversation, Operator
from lines.console.templating import render

SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def usable_filter(scope: Scope) -> ColumnElement[bool]:
    """Mine, and those of my teams (an admin sees every team's)."""
    team: ColumnElement[bool] = CannedResponse.team_id.is_not(None)
    if not scope.is_admin:
        team = and_(team, CannedResponse.team_id.in_(scope.team_ids)) if scope.team_ids else and_(team, false())
    return or_(CannedResponse.owner_id == scope.operator_id, team)


def may_edit(scope: Scope, canned: CannedResponse) -> bool:
    """My own; team responses by leads of that team and admins."""
    if canned.owner_id is not None:
        return canned.owner_id == scope.operator_id
    return scope.is_admin or (scope.is_lead and canned.team_id in scope.team_ids)


async def list_for(session: AsyncSession, scope: Scope, prefix: str = "") -> Sequence[CannedResponse]:
    stmt = select(CannedResponse).where(usable_filter(scope))
    if prefix:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(CannedResponse.shortcut.like(f"{escaped}%", escape="\\"))
    # Personal ones first: `/hello` of my own wins over the team's.
    stmt = stmt.order_by(CannedResponse.shortcut, CannedResponse.owner_id.is_(None), CannedResponse.id).limit(200)
    return (await session.scalars(stmt)).all()


def canned_dict(canned: CannedResponse) -> dict[str, Any]:
    return {
        "id": canned.id,
        "shortcut": canned.shortcut,
        "title": canned.title,
        "text": canned.text,
        "scope": "personal" if canned.owner_id is not None else "team",
        "team_id": canned.team_id,
    }


async def signatures(session: AsyncSession, operator_id: int, team_id: int | None) -> tuple[str, str]:
    """(the operator's signature, the team's), empty when not set."""
    mine = await session.scalar(select(Signature.text).where(Signature.operator_id == operator_id))
    team = await session.scalar(select(Signature.text).where(Signature.team_id == team_id)) if team_id else None
    return mine or "", team or ""


async def variables(session: AsyncSession, conversation: Conversation, operator_id: int) -> dict[str, object]:
    """`{{signature}}` is the operator's own signature, or else the conversation's team's."""
    contact = await session.get(Contact, conversation.contact_id)
    operator = await session.get(Operator, operator_id)
    mine, team = await signatures(session, operator_id, conversation.team_id)
    return {
        "signature": mine or team,
        "operator.signature": mine,
        "team.signature": team,
        "contact.name": contact.name if contact else "",
        "contact.email": contact.email if contact else "",
        "contact.phone": contact.phone if contact else "",
        "conversation.number": conversation.id,
        "conversation.subject": conversation.subject,
        "operator.name": operator.name if operator else "",
    }


def fill(canned: CannedResponse, values: dict[str, object]) -> str:
    return render(canned.text, values)
