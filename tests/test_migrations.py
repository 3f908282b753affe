"""`lines db upgrade` builds the schema the models describe, on SQLite and PostgreSQL, and is idempotent."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from lines.console.db import create_engine
from lines.console.migrate import alembic_config, upgrade
from lines.console.schema import include_name, metadata
from tests.conftest import need


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'lines.db'}")
        yield engine
        await engine.dispose()
        return
    url = need("LINES_TEST_DATABASE_URL", "PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(url, schema)
    try:
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include_name})
    return list(compare_metadata(context, metadata))


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def test_upgrade_creates_the_schema_of_the_models(empty_engine: AsyncEngine) -> None:
    async with empty_engine.connect() as conn:
        assert await conn.run_sync(current_revision) is None
    await upgrade(empty_engine)
    async with empty_engine.connect() as conn:
        assert await conn.run_sync(differences) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert await conn.run_sync(current_revision) == head


async def test_a_second_upgrade_changes_nothing(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(empty_engine.sync_engine, "before_cursor_execute", record)
    try:
        await upgrade(empty_engine)
    finally:
        event.remove(empty_engine.sync_engine, "before_cursor_execute", record)
    writes = [s for s in statements if s.lstrip().split(" ", 1)[0].upper() in {"CREATE", "ALTER", "DROP", "INSERT"}]
    assert writes == []
    assert any("alembic_version" in s for s in statements)  # it did look
    async with empty_engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_every_model_table_is_created(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine)

    def tables(connection: Connection) -> set[str]:
        from sqlalchemy import inspect

        return set(inspect(connection).get_table_names())

    async with empty_engine.connect() as conn:
        found = await conn.run_sync(tables)
    assert set(metadata.tables) | {"alembic_version"} == {t for t in found if include_name(t, "table", {})}
    assert {"search_messages", "search_subjects", "search_contacts"} <= found


async def test_0014_gives_each_conversation_the_identity_it_was_written_from(empty_engine: AsyncEngine) -> None:
    """Ivan wrote from two widgets as two contacts; B was merged into A before the upgrade. Each
    conversation gets its own identity back, not the contact's newest one on the channel."""
    await upgrade(empty_engine, "0013")
    rows = [
        "INSERT INTO contacts (id, name, attributes, tags, blocked, created_at, updated_at)"
        " VALUES (1, 'A', '{}', '[]', false, :now, :now), (2, '', '{}', '[]', false, :now, :now),"
        " (3, 'Solo', '{}', '[]', false, :now, :now)",
        "INSERT INTO contact_identities (id, contact_id, channel, inbox, external_id, display, verified, state,"
        " state_reason, created_at) VALUES"
        " (10, 1, 'webchat', 'demo', 'visitor-a', '', false, 'active', '', :now),"
        " (11, 1, 'webchat', 'demo', 'visitor-b', '', false, 'active', '', :now),"
        " (12, 3, 'sms', 'twilio', '+79160000000', '', false, 'active', '', :now)",
        "INSERT INTO conversations (id, contact_id, channel, inbox, status, priority, subject, source, created_at,"
        " updated_at, last_message_at) VALUES"
        " (100, 1, 'webchat', 'demo', 'open', 'normal', '', '{}', :now, :now, :now),"
        " (101, 1, 'webchat', 'demo', 'open', 'normal', '', '{}', :now, :now, :now),"
        " (102, 3, 'sms', 'twilio', 'open', 'normal', '', '{}', :now, :now, :now)",
        "INSERT INTO contact_merges (id, kept_id, merged_id, snapshot, created_at) VALUES"
        """ (1, 1, 2, '{"identity_ids": [11], "conversation_ids": [101]}', :now)""",
    ]
    async with empty_engine.begin() as conn:
        for statement in rows:
            await conn.execute(text(statement), {"now": datetime(2026, 1, 1, tzinfo=UTC)})
    await upgrade(empty_engine)
    async with empty_engine.connect() as conn:
        found = (await conn.execute(text("SELECT id, identity_id FROM conversations ORDER BY id"))).all()
    assert [tuple(row) for row in found] == [(100, 10), (101, 11), (102, 12)]


async def test_the_search_migration_indexes_existing_rows(empty_engine: AsyncEngine) -> None:
    await upgrade(empty_engine, "0014")
    async with empty_engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO contacts (name, email, attributes, tags, blocked, created_at, updated_at) "
                "VALUES ('Вера', 'vera@x.org', '{}', '[]', false, '2026-01-01', '2026-01-01')"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO conversations (contact_id, channel, inbox, status, priority, subject, source, created_at, "
                "updated_at, last_message_at) VALUES (1, 'email', 'support', 'open', 'normal', 'Доставка заказа', "
                "'{}', '2026-01-01', '2026-01-01', '2026-01-01')"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO messages (conversation_id, channel_key, direction, author_kind, author_name, text, "
                "delivery_status, extra, created_at) VALUES (1, 'email:support', 'in', 'contact', 'Вера', "
                "'Где мои посылки?', 'received', '{}', '2026-01-01')"
            )
        )
    await upgrade(empty_engine)
    from lines.console.search.query import find_ids

    async with empty_engine.connect() as conn:
        assert await find_ids(conn, "message", "посылка") == [1]
        assert await find_ids(conn, "subject", "доставки") == [1]
        assert await find_ids(conn, "contact", "вера") == [1]
