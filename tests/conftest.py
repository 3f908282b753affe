"""Fixtures for the whole suite: real databases, the app, seeded users, a loopback channel.

Servers: SQLite always; PostgreSQL when LINES_TEST_DATABASE_URL is set; Redis when
LINES_TEST_REDIS_URL is set. With LINES_TEST_REQUIRE_SERVICES=1 (CI) a missing server fails the
test instead of skipping it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import text

from lines.console.app import create_app
from lines.console.db import create_engine, session_maker
from lines.console.keys import sessions_key
from lines.console.models import Operator, Role, Team
from lines.console.passwords import hash_password
from lines.console.schema import metadata
from lines.console.settings import Settings, parse_settings
from tests.channels.email.servers import Sink, start_sink
from tests.loopguard import loop_guard, pytest_asyncio_loop_factories  # noqa: F401 (fixture and hook for every test)

PASSWORD = "demo"
REQUIRE_SERVICES = os.environ.get("LINES_TEST_REQUIRE_SERVICES") == "1"


def need(variable: str, what: str) -> str:
    """The value of `variable`, or skip (fail under LINES_TEST_REQUIRE_SERVICES=1) with a reason."""
    value = os.environ.get(variable)
    if not value:
        message = f"{what} tests need {variable} (see .ci/run)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    return value


@dataclass(frozen=True)
class Database:
    kind: str
    url: str
    schema: str = ""


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty schema on SQLite or PostgreSQL, created from the models."""
    if request.param == "sqlite":
        db = Database("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'lines.db'}")
    else:
        url = need("LINES_TEST_DATABASE_URL", "PostgreSQL")
        db = Database("postgresql", url, f"t_{uuid.uuid4().hex[:12]}")
        admin = create_engine(url)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{db.schema}"'))
        await admin.dispose()
    engine = create_engine(db.url, db.schema)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    yield db
    if db.schema:
        admin = create_engine(db.url)
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{db.schema}" CASCADE'))
        await admin.dispose()


ALWAYS_OPEN_SLA = Path(__file__).with_name("always_open_sla.json")


def make_settings(tmp_path: Path, database: Database, redis_url: str = "", **overrides: Any) -> Settings:
    raw: dict[str, Any] = {
        "server": {"secret_key": "test-secret-key-0123456789"},
        "storage": {
            "data_dir": str(tmp_path / "data"),
            "database_url": database.url,
            "database_schema": database.schema,
        },
        "bus": {"redis_url": redis_url, "key_prefix": f"t{uuid.uuid4().hex[:10]}"},
        "outbox": {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2, "poll_seconds": 0.05},
        # Open round the clock, so what the bot and SLA do never depends on when the suite runs.
        "sla": {"policies_file": str(ALWAYS_OPEN_SLA)},
        # Lexical ranking: encoding a KB costs seconds; the encoder's own tests turn it on.
        "bot": {"encoder": "off"},
        "channels": {
            "webchat": [
                {"site_key": "demo", "origins": ["*"], "team": "support", "identity_secret": "site-secret"},
                {"site_key": "shop", "origins": ["https://shop.example"], "team": "sales"},
            ]
        },
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            raw[section] = {**raw.get(section, {}), **values}
        else:
            raw[section] = values
    return parse_settings(raw, env={})


@pytest.fixture
def sink() -> Iterator[Sink]:
    """An aiosmtpd server on loopback keeping what it gets (email replies, staff mail); `sink.port`."""
    controller, handler = start_sink()
    handler.port = controller.port  # type: ignore[attr-defined]
    yield handler
    controller.stop()


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(tmp_path, database)


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)


@pytest.fixture
async def client(
    app: web.Application,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> TestClient[web.Request, web.Application]:
    """`app` comes first: fixtures tear down in reverse, so the app stops before its database goes."""
    return await aiohttp_client(app)


@dataclass(frozen=True)
class Staff:
    """Ids of the seeded teams and operators."""

    support: int
    sales: int
    admin: int
    lead: int
    anna: int
    boris: int


async def seed_staff(app: web.Application, password_hash: str) -> Staff:
    """Teams support and sales; admin, lead (both teams), anna (support), boris (sales)."""
    async with app[sessions_key]() as session, session.begin():
        support, sales = Team(name="support", title="Support"), Team(name="sales", title="Sales")
        session.add_all([support, sales])
        people = {
            "admin": Operator(login="admin", name="Admin", role=Role.ADMIN, teams=[]),
            "lead": Operator(login="lead", name="Lena Lead", role=Role.LEAD, teams=[support, sales]),
            "anna": Operator(login="anna", name="Anna Ivanova", role=Role.OPERATOR, teams=[support]),
            "boris": Operator(login="boris", name="Boris Petrov", role=Role.OPERATOR, teams=[sales]),
        }
        for operator in people.values():
            operator.password_hash = password_hash
            operator.capacity = {"chat": 5, "email": 10}
            operator.skills = {}
        session.add_all(people.values())
        await session.flush()
        return Staff(support.id, sales.id, *(people[k].id for k in ("admin", "lead", "anna", "boris")))


@pytest.fixture
async def staff(client: TestClient[web.Request, web.Application], password_hash: str) -> Staff:
    """Seeds the started app (the client fixture starts it)."""
    return await seed_staff(client.app, password_hash)


@pytest.fixture
async def session_maker_for(database: Database) -> AsyncIterator[Callable[[], Any]]:
    engine = create_engine(database.url, database.schema)
    yield session_maker(engine)
    await engine.dispose()
