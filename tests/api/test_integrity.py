"""A database integrity error anywhere is a client error with a code, never a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from lines.console.customers.models import Signature
from lines.console.keys import sessions_key
from lines.console.models import Team
from tests.api.helpers import Client, auth_headers, error_of
from tests.conftest import Staff

UNKNOWN = 987_654


async def test_a_canned_response_for_an_unknown_team_is_422_naming_the_field(client: Client, staff: Staff) -> None:
    body = {"shortcut": "hi", "title": "Hi", "text": "Hello!", "team_id": UNKNOWN}
    response = await client.post("/api/v1/canned-responses", json=body, headers=await auth_headers(client, "admin"))
    assert await error_of(response) == (422, "unknown_team")
    assert "team_id" in (await response.json())["error"]["message"]


async def write_unchecked(request: web.Request) -> web.Response:
    """A handler that forgot to check: a team signature for a team that does not exist, or a second
    team of the same name."""
    async with request.app[sessions_key]() as session, session.begin():
        if request.query.get("what") == "duplicate":
            session.add_all([Team(name="twin", title="A"), Team(name="twin", title="B")])
        else:
            session.add(Signature(operator_id=None, team_id=UNKNOWN, text="-- Team"))
    return web.json_response({"ok": True})


async def test_an_unchecked_write_that_breaks_a_key_is_a_client_error_with_a_code(
    app: web.Application, aiohttp_client: Callable[[web.Application], Awaitable[Client]]
) -> None:
    app.router.add_post("/api/v1/unchecked", write_unchecked)
    client = await aiohttp_client(app)
    response = await client.post("/api/v1/unchecked")
    assert await error_of(response) == (422, "invalid_reference")
    response = await client.post("/api/v1/unchecked?what=duplicate")
    assert await error_of(response) == (409, "already_exists")
    assert "(name)" in (await response.json())["error"]["message"]
