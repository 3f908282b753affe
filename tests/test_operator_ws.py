"""The operator events socket: pushes only what the operator may see, and ends with the session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from lines.console.bus.base import RESYNC_TOPIC
from lines.console.events import Audience
from lines.console.keys import bus_key, channels_key, events_key, inbox_key, metrics_key
from lines.console.operator_ws import CLOSE_SESSION_ENDED, MAX_MSG_SIZE, hub_key
from tests.api.helpers import (
    Client,
    auth_headers,
    bearer,
    cookie_session,
    eventually,
    expire_sessions,
    inbound,
    login,
)
from tests.conftest import Staff
from tests.loopback import LoopbackChannel

WS: Any = aiohttp.ClientWebSocketResponse
PATH = "/api/v1/events"


@pytest.fixture
async def client(
    app: web.Application,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]],
) -> TestClient[web.Request, web.Application]:
    channel = LoopbackChannel()
    app[channels_key][(channel.kind, channel.name)] = channel
    return await aiohttp_client(app)


async def connect(client: Client, who: str) -> Any:
    ws = await client.ws_connect(PATH, headers=await auth_headers(client, who))
    hello = await ws.receive_json(timeout=5)
    assert hello["type"] == "hello" and hello["operator"]["login"] == who
    return ws


async def frame(ws: Any, type_: str | None = None) -> dict[str, Any]:
    """The next frame (of `type_`, skipping others)."""
    while True:
        received: dict[str, Any] = await ws.receive_json(timeout=5)
        if type_ is None or received["type"] == type_:
            return received


async def closed_with(ws: Any) -> int | None:
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return ws.close_code if msg.type != WSMsgType.CLOSE else msg.data


async def customer_writes(client: Client, site: str, visitor: str, text: str = "hello") -> int:
    """A web-chat message on `site` (demo -> support, shop -> sales); returns the conversation id."""
    result = await client.app[inbox_key].ingest(inbound(text, visitor, channel="webchat", inbox=site))
    return result.conversation_id


async def test_hello_names_the_operator(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    await ws.close()


async def test_a_socket_without_credentials_is_refused_with_401(client: Client, staff: Staff) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(PATH)
    assert refused.value.status == 401


async def test_a_token_in_the_query_authenticates(client: Client, staff: Staff) -> None:
    ws = await client.ws_connect(f"{PATH}?token={await login(client, 'anna')}")
    assert (await frame(ws))["type"] == "hello"
    await ws.close()


async def test_a_cookie_socket_from_a_foreign_origin_is_403(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(PATH, headers={**cookie, "Origin": "https://evil.example"})
    assert refused.value.status == 403


async def test_a_cookie_socket_without_an_origin_is_403(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(PATH, headers=cookie)
    assert refused.value.status == 403


async def test_a_cookie_socket_from_our_own_origin_connects(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna)
    origin = f"http://{client.server.host}:{client.server.port}"
    ws = await client.ws_connect(PATH, headers={**cookie, "Origin": origin})
    assert (await frame(ws))["type"] == "hello"
    await ws.close()


async def test_a_bearer_socket_needs_no_origin_check(client: Client, staff: Staff) -> None:
    headers = {**bearer(await login(client, "anna")), "Origin": "https://tool.example"}
    ws = await client.ws_connect(PATH, headers=headers)
    assert (await frame(ws))["type"] == "hello"
    await ws.close()


async def test_my_teams_events_arrive_without_their_audience(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    conversation = await customer_writes(client, "demo", "v1", "where is my order?")
    created = await frame(ws, "conversation.created")
    message = await frame(ws, "message.created")
    assert set(message) == {"type", "data", "id", "at"}
    assert created["data"]["id"] == conversation
    assert message["data"]["text"] == "where is my order?"
    await ws.close()


async def test_another_teams_events_never_arrive(client: Client, staff: Staff) -> None:
    ws = await connect(client, "boris")
    await customer_writes(client, "demo", "v1", "support question")  # support: not for boris
    sales = await customer_writes(client, "shop", "v2", "sales question")
    first = await frame(ws)
    assert (first["type"], first["data"]["id"]) == ("conversation.created", sales)
    assert (await frame(ws))["data"]["text"] == "sales question"
    await ws.close()


async def test_events_stop_after_the_conversation_moves_to_another_team(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    conversation = await customer_writes(client, "demo", "v1")
    await frame(ws, "message.created")
    await frame(ws, "sla.updated")  # its first deadline, while still in anna's team
    moved = await client.post(
        f"/api/v1/conversations/{conversation}/assign",
        json={"team": "sales"},
        headers=await auth_headers(client, "anna"),
    )
    assert moved.status == 200
    removed = await frame(ws)
    assert (removed["type"], removed["data"]["id"]) == ("conversation.removed", conversation)
    assert await customer_writes(client, "demo", "v1", "still there?") == conversation
    sentinel = await customer_writes(client, "demo", "v3", "another customer")
    after = await frame(ws)
    assert (after["type"], after["data"]["id"]) == ("conversation.created", sentinel)
    await ws.close()


async def test_joining_a_team_brings_its_events(client: Client, staff: Staff) -> None:
    ws = await connect(client, "boris")
    await client.patch(
        f"/api/v1/operators/{staff.boris}",
        json={"teams": ["sales", "support"]},
        headers=await auth_headers(client, "lead"),
    )

    async def refreshed() -> bool:
        return all(staff.support in s.scope.team_ids for s in client.app[hub_key].sockets)

    await eventually(refreshed)
    conversation = await customer_writes(client, "demo", "v1")
    assert (await frame(ws, "conversation.created"))["data"]["id"] == conversation
    await ws.close()


async def test_no_event_slips_through_right_after_leaving_a_team(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    await client.patch(
        f"/api/v1/operators/{staff.anna}", json={"teams": []}, headers=await auth_headers(client, "lead")
    )
    events = client.app[events_key]
    # Published while the re-check is still reading the store:
    await events.send("conversation.updated", {"id": 1, "secret": True}, Audience(team_id=staff.support))
    await events.send("conversation.updated", {"id": 2}, Audience(team_id=None))
    first = await frame(ws)
    assert (first["type"], first["data"]) == ("conversation.updated", {"id": 2})
    await ws.close()


async def test_logging_out_closes_the_socket(client: Client, staff: Staff) -> None:
    headers = bearer(await login(client, "anna"))
    ws = await client.ws_connect(PATH, headers=headers)
    await frame(ws, "hello")
    await client.post("/api/v1/auth/logout", headers=headers)
    assert await closed_with(ws) == CLOSE_SESSION_ENDED


async def test_deactivating_the_operator_closes_the_socket(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    await client.patch(
        f"/api/v1/operators/{staff.anna}", json={"active": False}, headers=await auth_headers(client, "lead")
    )
    assert await closed_with(ws) == CLOSE_SESSION_ENDED


async def test_a_role_change_closes_the_socket(client: Client, staff: Staff) -> None:
    ws = await connect(client, "lead")
    await client.patch(
        f"/api/v1/operators/{staff.lead}", json={"role": "operator"}, headers=await auth_headers(client, "admin")
    )
    assert await closed_with(ws) == CLOSE_SESSION_ENDED


async def test_an_expired_session_is_closed_at_the_next_check(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    await expire_sessions(client, staff.anna)
    await client.app[hub_key].recheck()
    assert await closed_with(ws) == CLOSE_SESSION_ENDED


async def test_a_resync_announcement_reaches_every_socket(client: Client, staff: Staff) -> None:
    anna, boris = await connect(client, "anna"), await connect(client, "boris")
    await client.app[bus_key].publish(RESYNC_TOPIC, {})
    assert await frame(anna) == {"type": "resync"}
    assert await frame(boris) == {"type": "resync"}
    await anna.close()
    await boris.close()


async def test_ping_gets_pong(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    await ws.send_json({"type": "ping"})
    assert await frame(ws) == {"type": "pong"}
    await ws.close()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "invalid_json"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"kind": "ping"}', "unknown_type"),
        ("[1, 2]", "invalid_frame"),
        ('{"type": "viewing"}', "invalid_frame"),
        ('{"type": "viewing", "conversation_id": "5"}', "invalid_frame"),
        ('{"type": "typing", "conversation_id": -1}', "invalid_frame"),
        ('{"type": "ping", "extra": 1}', "invalid_frame"),
    ],
)
async def test_a_malformed_frame_gets_an_error_and_the_socket_stays(
    client: Client, staff: Staff, raw: str, code: str
) -> None:
    ws = await connect(client, "anna")
    await ws.send_str(raw)
    error = await frame(ws)
    assert (error["type"], error["code"]) == ("error", code) and error["message"]
    await ws.send_json({"type": "ping"})
    assert await frame(ws) == {"type": "pong"}
    await ws.close()


async def test_a_binary_frame_gets_an_error(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    await ws.send_bytes(b"\x00\x01")
    assert (await frame(ws))["code"] == "binary_not_supported"
    await ws.close()


async def test_an_oversized_frame_closes_the_socket_with_1009(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    await ws.send_str("x" * (MAX_MSG_SIZE * 4))
    assert await closed_with(ws) == 1009


async def test_viewing_is_announced_to_those_who_see_the_conversation(client: Client, staff: Staff) -> None:
    conversation = await customer_writes(client, "demo", "v1")
    anna, lead, boris = [await connect(client, w) for w in ("anna", "lead", "boris")]
    await anna.send_json({"type": "viewing", "conversation_id": conversation})
    viewing = await frame(lead)
    assert viewing["type"] == "conversation.viewing"
    assert viewing["data"] == {
        "conversation_id": conversation,
        "who": "operator",
        "operator": {"id": staff.anna, "name": "Anna Ivanova"},
    }
    sales = await customer_writes(client, "shop", "v2")
    assert (await frame(boris))["data"]["id"] == sales  # boris never heard about anna viewing
    for ws in (anna, lead, boris):
        await ws.close()


async def test_typing_is_published_for_the_web_chat_to_forward(client: Client, staff: Staff) -> None:
    conversation = await customer_writes(client, "demo", "v1")
    anna, lead = await connect(client, "anna"), await connect(client, "lead")
    await anna.send_json({"type": "typing", "conversation_id": conversation})
    typing = await frame(lead)
    assert typing["type"] == "conversation.typing"
    assert typing["data"] == {
        "conversation_id": conversation,
        "who": "operator",
        "operator": {"id": staff.anna, "name": "Anna Ivanova"},
        "private": False,
    }
    await anna.close()
    await lead.close()


async def test_typing_about_an_invisible_conversation_is_refused(client: Client, staff: Staff) -> None:
    conversation = await customer_writes(client, "demo", "v1")
    boris, anna = await connect(client, "boris"), await connect(client, "anna")
    await boris.send_json({"type": "typing", "conversation_id": conversation})
    error = await frame(boris)
    assert (error["type"], error["code"]) == ("error", "not_found")
    sentinel = await customer_writes(client, "demo", "v2")
    assert (await frame(anna))["data"]["id"] == sentinel  # no typing event was published
    await boris.close()
    await anna.close()


async def test_closing_the_socket_announces_left(client: Client, staff: Staff) -> None:
    conversation = await customer_writes(client, "demo", "v1")
    anna, lead = await connect(client, "anna"), await connect(client, "lead")
    await anna.send_json({"type": "viewing", "conversation_id": conversation})
    await frame(lead, "conversation.viewing")
    await anna.close()
    left = await frame(lead)
    assert (left["type"], left["data"]["operator"]["id"]) == ("conversation.left", staff.anna)
    await lead.close()


async def test_open_sockets_are_counted(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    registry = client.app[metrics_key].registry
    assert registry.get_sample_value("lines_operator_sockets") == 1
    await ws.close()
    await eventually(lambda: _zero(registry))


async def _zero(registry: Any) -> bool:
    return bool(registry.get_sample_value("lines_operator_sockets") == 0)


async def test_shutdown_closes_open_sockets(client: Client, staff: Staff) -> None:
    ws = await connect(client, "anna")
    await client.app[hub_key].close_all()
    assert await closed_with(ws) == 1001


async def test_a_new_socket_during_shutdown_is_refused(client: Client, staff: Staff) -> None:
    await client.app[hub_key].close_all()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(PATH, headers=await auth_headers(client, "anna"))
    assert refused.value.status == 503
