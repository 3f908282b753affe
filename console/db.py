"""Database engine and sessions: SQLite (WAL, one writer) by default, PostgreSQL through asyncpg."""

from __future__ import annotations

from typing import Any, TypeAlias

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from lines.console.search.index import IndexingSession

SessionMaker: TypeAlias = async_sessionmaker[AsyncSession]


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, schema: str = "", **kwargs: Any) -> AsyncEngine:
    """Create the engine for `url`.

    SQLite gets one pooled connection: every transaction goes through it in turn, which avoids
    SQLITE_BUSY on lock upgrades and is faster than contending writers. Code therefore never opens
    a second session while holding one (sessions are passed explicitly).
    `schema` (PostgreSQL only) sets the search path, so one database can hold several installations.
    """
    if is_sqlite(url):
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.close()

        return engine
    if schema:
        kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


def session_maker(engine: AsyncEngine) -> SessionMaker:
    """Sessions whose flushes keep the search tables current (`lines.console.search.index`)."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=IndexingSession)
