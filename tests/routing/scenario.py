"""A routing world built directly in the store, for the invariant and race tests and the benchmark."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from lines.console.bus import MemoryBus
from lines.console.db import SessionMaker
from lines.console.events import Events
from lines.console.models import Contact, Conversation, Operator, Presence, Status, Team, utcnow
from lines.routing.engine import BUSY, Router
from lines.routing.models import RoutingDecision, RoutingRulesVersion

RULES: dict[str, Any] = {
    "lead_types": [{"id": "support", "priority": 9, "when": {}}],
    "routes": [{"lead_type": "support", "team": "support", "strategy": "least_loaded"}],
    "sticky": {"enabled": True, "within_days": 30},
}


def quiet() -> None:
    """The outbox wake-up of a world without an outbox."""


def make_router(sessions: SessionMaker) -> Router:
    return Router(sessions, Events(MemoryBus()), quiet, arrival_grace=timedelta(0))


async def build(sessions: SessionMaker, capacities: list[int], rules: dict[str, Any] | None = None) -> list[int]:
    """Team support with one operator per capacity (offline); the rules published. Operator ids."""
    async with sessions() as session, session.begin():
        team = Team(name="support", title="Support")
        operators = [
            Operator(
                login=f"op{i}",
                name=f"Operator {i}",
                password_hash="-",
                capacity={"chat": c, "email": 1},
                skills={},
                teams=[team],
                presence=Presence.OFFLINE,
            )
            for i, c in enumerate(capacities)
        ]
        session.add_all([team, *operators])
        session.add(RoutingRulesVersion(rules=rules or RULES, author_name="test", comment=""))
        await session.flush()
        return [o.id for o in operators]


async def arrive(sessions: SessionMaker, customer: str, count: int = 1) -> list[int]:
    """`count` new open web chat conversations from one customer (created once, then reused)."""
    async with sessions() as session, session.begin():
        contact = await session.scalar(select(Contact).where(Contact.name == customer))
        if contact is None:
            contact = Contact(name=customer)
            session.add(contact)
            await session.flush()
        made = [Conversation(contact_id=contact.id, channel="webchat", inbox="demo") for _ in range(count)]
        session.add_all(made)
        await session.flush()
        return [c.id for c in made]


async def set_presence(sessions: SessionMaker, operator_id: int, presence: Presence) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Operator).where(Operator.id == operator_id).values(presence=presence, presence_changed_at=utcnow())
        )


async def resolve(sessions: SessionMaker, conversation_id: int) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(status=Status.RESOLVED, resolved_at=utcnow())
        )


async def loads(sessions: SessionMaker) -> dict[int, tuple[int, int]]:
    """Operator id -> (open chats held, chat capacity)."""
    async with sessions() as session:
        operators = (await session.scalars(select(Operator))).all()
        held = dict(
            (
                await session.execute(
                    select(Conversation.assignee_id, func.count())
                    .where(Conversation.status.in_(BUSY), Conversation.assignee_id.is_not(None))
                    .group_by(Conversation.assignee_id)
                )
            ).all()
        )
    return {o.id: (int(held.get(o.id, 0)), int(o.capacity.get("chat", 0))) for o in operators}


async def over_capacity(sessions: SessionMaker) -> dict[int, tuple[int, int]]:
    return {op: (n, cap) for op, (n, cap) in (await loads(sessions)).items() if n > cap}


async def idle_while_waiting(sessions: SessionMaker) -> bool:
    """True if someone waits although an online operator has room (the queue was not served)."""
    async with sessions() as session:
        waiting = await session.scalar(
            select(func.count()).where(Conversation.status == Status.OPEN, Conversation.assignee_id.is_(None))
        )
        online = set((await session.scalars(select(Operator.id).where(Operator.presence == Presence.ONLINE))).all())
    if not waiting:
        return False
    return any(n < cap for op, (n, cap) in (await loads(sessions)).items() if op in online)


async def assignments_per_conversation(sessions: SessionMaker) -> dict[int, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(RoutingDecision.conversation_id, func.count())
            .where(RoutingDecision.operator_id.is_not(None))
            .group_by(RoutingDecision.conversation_id)
        )
        return {cid: int(n) for cid, n in rows.all()}


Step = Callable[[], Any]
