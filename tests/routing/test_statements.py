"""Round trips per routing decision, counted: they cannot grow back silently.

A decision used to take about twenty statements; now the conversation's lock reads what the decision
needs about it, the team's candidates come with their loads in one query, and the writes go out
together. Statement counts are deterministic (unlike time, which tests never assert).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine

from lines.console.db import create_engine, session_maker
from lines.console.models import Conversation, Presence, Team
from lines.routing import engine as routing_engine
from tests.conftest import Database
from tests.routing import scenario


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """The SQL statements sent through `engine` while the block runs (BEGIN/COMMIT are not statements)."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def test_a_decision_takes_a_fixed_small_number_of_statements(database: Database) -> None:
    engine = create_engine(database.url, database.schema)
    try:
        sessions = session_maker(engine)
        operators = await scenario.build(sessions, [2] * 50)
        for operator_id in operators:
            await scenario.set_presence(sessions, operator_id, Presence.ONLINE)
        router = scenario.make_router(sessions)
        first, new, waiting = await scenario.arrive(sessions, "someone", 3)
        await router.route(first)  # reads and parses the rules once
        # PostgreSQL adds two: the chosen operator's row lock and the recount under it.
        lock = 2 if database.kind == "postgresql" else 0

        with counting(engine) as statements:
            outcome = await router.route(new)
        assert outcome is not None and outcome.operator_id is not None
        # head (lock + what the decision needs), the first messages (classification), candidates with
        # loads, operator's last_assigned_at, conversation, system message, decision row, event data.
        assert len(statements) == 8 + lock, statements

        async with sessions() as session, session.begin():  # classified already: no classification
            await session.execute(update(Conversation).where(Conversation.id == waiting).values(lead_type="support"))
        with counting(engine) as statements:
            outcome = await router.route(waiting)
        assert outcome is not None and outcome.operator_id is not None
        assert len(statements) == 7 + lock, statements
        assert statements.count("SELECT") == 3 + lock, statements

        await scenario.resolve(sessions, waiting)
        with counting(engine) as statements:
            assert await router.serve_queue() == []  # nobody waits: rules version, teams, one queue page
        assert len(statements) == 3, statements
    finally:
        await engine.dispose()


async def test_a_queued_decision_reads_and_writes_nothing_more(database: Database) -> None:
    engine = create_engine(database.url, database.schema)
    try:
        sessions = session_maker(engine)
        await scenario.build(sessions, [1])  # the one operator stays offline
        router = scenario.make_router(sessions)
        first, second = await scenario.arrive(sessions, "someone", 2)
        await router.route(first)
        with counting(engine) as statements:
            outcome = await router.route(second)
        assert outcome is not None and outcome.reason == "queued"
        # head, first messages, candidates; the classification is written at the commit.
        assert statements == ["SELECT", "SELECT", "SELECT", "UPDATE"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("page", "overlap"), [(3, 1), (4, 0)])
async def test_the_queue_is_served_page_by_page_down_to_its_end(
    database: Database, monkeypatch: pytest.MonkeyPatch, page: int, overlap: int
) -> None:
    monkeypatch.setattr(routing_engine, "QUEUE_PAGE", page)
    monkeypatch.setattr(routing_engine, "QUEUE_PAGE_OVERLAP", overlap)
    rules = {
        "lead_types": [
            {"id": "a", "priority": 1, "when": {"source": {"inbox": "a"}}},
            {"id": "b", "priority": 2, "when": {}},
        ],
        "routes": [{"lead_type": "a", "team": "nobody-here"}, {"lead_type": "b", "team": "support"}],
    }
    engine = create_engine(database.url, database.schema)
    try:
        sessions = session_maker(engine)
        async with sessions() as session, session.begin():
            session.add(Team(name="nobody-here"))
        operators = await scenario.build(sessions, [3, 2], rules)
        stuck = await scenario.arrive(sessions, "stuck", 9)
        async with sessions() as session, session.begin():
            await session.execute(update(Conversation).where(Conversation.id.in_(stuck)).values(inbox="a"))
        head = await scenario.arrive(sessions, "first", 2)
        tail = await scenario.arrive(sessions, "patient", 4)
        router = scenario.make_router(sessions)
        for conversation_id in [*head, *stuck, *tail]:  # classified on arrival; nobody is online yet
            await router.route(conversation_id)
        for operator_id in operators:
            await scenario.set_presence(sessions, operator_id, Presence.ONLINE)
        made = await router.serve_queue()
        assert sorted(o.conversation_id for o in made) == sorted([*head, *tail][:5])
        assert await scenario.over_capacity(sessions) == {}
        assert not await scenario.idle_while_waiting(sessions)
    finally:
        await engine.dispose()
