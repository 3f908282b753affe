"""SMS test rigs: a Lines app on a known loopback port (gateways call back to `public_url`), the
Twilio-compatible stand-in, and real Kannel (bearerbox + smsbox + fakesmsc) when LINES_TEST_KANNEL=1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from lines.console.app import create_app
from lines.console.keys import sessions_key
from lines.console.models import Message
from tests.channels.sms.kannel import Kannel, available, free_port
from tests.channels.sms.twilio_standin import SID, TOKEN, TwilioStandIn
from tests.conftest import Database, make_settings, need, seed_staff

Client: TypeAlias = TestClient[web.Request, web.Application]
Factory: TypeAlias = Callable[..., Awaitable[Client]]

CASES = json.loads((Path(__file__).parent / "segment_cases.json").read_text(encoding="utf-8"))


def twilio_gateway(standin: TwilioStandIn, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "twilio",
        "provider": "twilio",
        "number": "+15005550006",
        "default_region": "RU",
        "team": "support",
        "api_base_url": standin.url,
        "account_sid": SID,
        "auth_token": TOKEN,
        "request_timeout_seconds": 1.0,
        **overrides,
    }


@pytest.fixture
def lines_port() -> int:
    return free_port()


@pytest.fixture
def make_sms_client(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    lines_port: int,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> Factory:
    """A started app on `lines_port` with these `[[channels.sms]]` blocks and the staff seeded."""

    async def factory(*gateways: dict[str, Any], **outbox: Any) -> Client:
        settings = make_settings(
            tmp_path,
            database,
            server={"public_url": f"http://127.0.0.1:{lines_port}"},
            channels={"sms": list(gateways)},
            **({"outbox": {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2, "poll_seconds": 0.05, **outbox}}),
        )
        server = TestServer(create_app(settings), host="127.0.0.1", port=lines_port)
        client = await aiohttp_client(server)
        await seed_staff(client.app, password_hash)
        return client

    return factory


@pytest.fixture
async def twilio(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> TwilioStandIn:
    standin = TwilioStandIn()
    server = await aiohttp_server(standin.app())
    standin.url = str(server.make_url("")).rstrip("/")
    return standin


@pytest.fixture
async def kannel(tmp_path: Path, lines_port: int, request: pytest.FixtureRequest) -> AsyncIterator[Kannel]:
    need("LINES_TEST_KANNEL", "Kannel")
    if not available():
        pytest.fail(
            "LINES_TEST_KANNEL=1 but bearerbox/smsbox/fakesmsc are missing (apt-get install kannel kannel-extras)"
        )
    rig = Kannel(tmp_path / "kannel", lines_port)
    await rig.start()
    try:
        yield rig
    finally:
        await rig.stop()
        request.node.add_report_section("teardown", "kannel", rig.logs())  # shown when the test fails


async def messages(client: Client, conversation_id: int | None = None) -> list[Message]:
    async with client.app[sessions_key]() as session:
        query = select(Message).order_by(Message.id)
        if conversation_id is not None:
            query = query.where(Message.conversation_id == conversation_id)
        return list(await session.scalars(query))
