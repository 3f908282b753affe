"""Invariants over random histories, and racing workers: never over capacity, assigned exactly once.

Hypothesis drives random sequences of arrivals, presence changes, resolutions and transfers through
the real assigner on SQLite; after every step no operator is over capacity and nobody waits while an
online operator has room. On PostgreSQL, four routers with their own connection pools (as four
worker processes have) race on one queue.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import selectinload

from lines.console.access import Scope
from lines.console.actions import ActionError, do_assign
from lines.console.db import create_engine, session_maker
from lines.console.models import Conversation, Operator, Presence, Role, Team
from lines.console.schema import metadata
from lines.routing.engine import Router, has_room_for_manual
from tests.conftest import Database
from tests.routing import scenario

OPERATORS = 4
step = st.one_of(
    st.tuples(st.just("arrive"), st.integers(0, 5), st.integers(1, 4)),
    st.tuples(st.just("online"), st.integers(0, OPERATORS - 1), st.just(0)),
    st.tuples(st.just("offline"), st.integers(0, OPERATORS - 1), st.just(0)),
    st.tuples(st.just("resolve"), st.integers(0, 50), st.just(0)),
    st.tuples(st.just("transfer"), st.integers(0, 50), st.integers(0, OPERATORS - 1)),
)


async def _transfer(router: Router, conversation_id: int, operator_id: int, lead_id: int) -> None:
    async with router.sessions() as session:
        lead = await session.get(Operator, lead_id, options=[selectinload(Operator.teams)])
        assert lead is not None
        try:
            await do_assign(
                session,
                router.events,
                Scope.of(lead),
                conversation_id,
                operator_id,
                None,
                has_room=has_room_for_manual,
            )
        except ActionError as err:
            assert err.code in ("at_capacity", "conflict", "not_found"), err.message


async def _history(capacities: list[int], steps: list[tuple[str, int, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'lines.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = session_maker(engine)
        router = scenario.make_router(sessions)
        operators = await scenario.build(sessions, capacities)
        async with sessions() as session, session.begin():
            lead = Operator(login="lead", name="Lead", password_hash="-", role=Role.ADMIN, teams=[])
            session.add(lead)
            await session.flush()
            lead_id = lead.id
        conversations: list[int] = []
        try:
            for kind, a, b in steps:
                if kind == "arrive":
                    made = await scenario.arrive(sessions, f"customer-{a}", b)
                    conversations += made
                    for conversation_id in made:
                        await router.route(conversation_id)
                elif kind == "online":
                    await scenario.set_presence(sessions, operators[a], Presence.ONLINE)
                    await router.serve_queue()
                elif kind == "offline":
                    await scenario.set_presence(sessions, operators[a], Presence.OFFLINE)
                    await router.requeue_offline(operators[a])
                elif kind == "resolve" and conversations:
                    await scenario.resolve(sessions, conversations[a % len(conversations)])
                    await router.serve_queue()
                elif kind == "transfer" and conversations:
                    await _transfer(router, conversations[a % len(conversations)], operators[b], lead_id)
                    await router.serve_queue()
                assert await scenario.over_capacity(sessions) == {}, (kind, a, b)
                assert not await scenario.idle_while_waiting(sessions), (kind, a, b)
        finally:
            await engine.dispose()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    capacities=st.lists(st.integers(0, 3), min_size=OPERATORS, max_size=OPERATORS),
    steps=st.lists(step, min_size=1, max_size=25),
)
def test_random_histories_never_exceed_capacity_nor_leave_room_unused(
    capacities: list[int], steps: list[tuple[str, int, int]]
) -> None:
    asyncio.run(_history(capacities, steps))


@pytest.mark.postgres
async def test_four_routers_racing_on_postgresql_assign_each_conversation_once(database: Database) -> None:
    if database.kind != "postgresql":
        pytest.skip("the race needs row locks: PostgreSQL")
    engines = [create_engine(database.url, database.schema) for _ in range(4)]
    try:
        makers = [session_maker(e) for e in engines]
        operators = await scenario.build(makers[0], [3] * 10)
        conversations = await scenario.arrive(makers[0], "crowd", 80)
        for operator_id in operators:
            await scenario.set_presence(makers[0], operator_id, Presence.ONLINE)
        routers = [scenario.make_router(m) for m in makers]
        # Every router tries every conversation, in different orders, at the same time.
        orders = [conversations, conversations[::-1], conversations[1::2] + conversations[::2], conversations]
        await asyncio.gather(*(_route_all(r, o) for r, o in zip(routers, orders, strict=True)))
        assert await scenario.over_capacity(makers[0]) == {}
        once = await scenario.assignments_per_conversation(makers[0])
        assert set(once.values()) == {1} and len(once) == 30
    finally:
        for engine in engines:
            await engine.dispose()


async def _route_all(router: Router, conversations: list[int]) -> None:
    for conversation_id in conversations:
        await router.route(conversation_id)


async def test_a_full_team_at_the_head_of_the_queue_does_not_block_a_team_with_room(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'lines.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = session_maker(engine)
    rules = {
        "lead_types": [
            {"id": "a", "priority": 1, "when": {"source": {"inbox": "a"}}},
            {"id": "b", "priority": 2, "when": {}},
        ],
        "routes": [{"lead_type": "a", "team": "nobody-here"}, {"lead_type": "b", "team": "support"}],
    }
    try:
        async with sessions() as session, session.begin():
            session.add(Team(name="nobody-here"))
        operators = await scenario.build(sessions, [1], rules)
        stuck = await scenario.arrive(sessions, "stuck", 5)
        async with sessions() as session, session.begin():
            await session.execute(update(Conversation).where(Conversation.id.in_(stuck)).values(inbox="a"))
        waiting = await scenario.arrive(sessions, "patient")
        router = scenario.make_router(sessions)
        for conversation_id in [*stuck, *waiting]:  # classified on arrival; nobody is online yet
            await router.route(conversation_id)
        await scenario.set_presence(sessions, operators[0], Presence.ONLINE)
        made = await router.serve_queue(limit=2)
        assert [o.conversation_id for o in made] == waiting
    finally:
        await engine.dispose()
