"""The rules file is published as version 1 at the first start, and only then."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from lines.console.app import create_app
from lines.console.keys import sessions_key
from lines.routing.models import RoutingRulesVersion
from tests.conftest import Database, make_settings

SAMPLE = Path(__file__).parents[2] / "config" / "routing.json"
Factory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


async def versions(app: web.Application) -> list[str]:
    async with app[sessions_key]() as session:
        return list((await session.scalars(select(RoutingRulesVersion.comment))).all())


async def test_the_rules_file_is_seeded_once(tmp_path: Path, database: Database, aiohttp_client: Factory) -> None:
    settings = make_settings(tmp_path, database, routing={"rules_file": str(SAMPLE)})
    first = await aiohttp_client(create_app(settings))
    assert await versions(first.app) == [f"seeded from {SAMPLE}"]
    await first.close()
    second = await aiohttp_client(create_app(settings))
    assert len(await versions(second.app)) == 1


async def test_a_missing_rules_file_leaves_routing_without_rules(
    tmp_path: Path, database: Database, aiohttp_client: Factory
) -> None:
    settings = make_settings(tmp_path, database, routing={"rules_file": str(tmp_path / "nope.json")})
    client = await aiohttp_client(create_app(settings))
    assert await versions(client.app) == []
