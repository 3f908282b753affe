"""PostgreSQL: a decision passes over an operator another worker is assigning to, and waits for them
only when nobody else has room (so nothing is queued while someone has room)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from lines.console.db import create_engine, session_maker
from lines.console.models import Operator, Presence
from lines.routing.models import RoutingDecision
from tests.conftest import Database
from tests.routing import scenario

pytestmark = pytest.mark.postgres


async def test_an_operator_being_assigned_to_elsewhere_is_passed_over_not_waited_for(database: Database) -> None:
    if database.kind != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    engine = create_engine(database.url, database.schema)
    try:
        sessions = session_maker(engine)
        first, second = await scenario.build(sessions, [3, 3])
        for operator_id in (first, second):
            await scenario.set_presence(sessions, operator_id, Presence.ONLINE)
        (conversation,) = await scenario.arrive(sessions, "someone")
        router = scenario.make_router(sessions)
        async with sessions() as other, other.begin():  # another worker holds the best pick's row
            await other.execute(select(Operator.id).where(Operator.id == first).with_for_update())
            outcome = await asyncio.wait_for(router.route(conversation), timeout=10)
        assert outcome is not None and outcome.operator_id == second
        async with sessions() as session:
            decision = await session.scalar(
                select(RoutingDecision).where(RoutingDecision.conversation_id == conversation)
            )
        assert decision is not None
        passed = {c["operator_id"]: c["passed_over"] for c in decision.explanation["considered"]}
        assert passed == {first: "being_assigned", second: None}
    finally:
        await engine.dispose()


async def test_when_only_a_held_operator_has_room_the_decision_waits_for_them(database: Database) -> None:
    if database.kind != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    engine = create_engine(database.url, database.schema)
    try:
        sessions = session_maker(engine)
        (only,) = await scenario.build(sessions, [2])
        await scenario.set_presence(sessions, only, Presence.ONLINE)
        (conversation,) = await scenario.arrive(sessions, "someone")
        router = scenario.make_router(sessions)
        async with sessions() as other, other.begin():
            await other.execute(select(Operator.id).where(Operator.id == only).with_for_update())
            deciding = asyncio.create_task(router.route(conversation))
            await asyncio.sleep(0.5)
            assert not deciding.done()  # waiting for the row, not queued
        outcome = await asyncio.wait_for(deciding, timeout=10)
        assert outcome is not None and outcome.operator_id == only
    finally:
        await engine.dispose()
