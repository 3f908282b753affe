"""Bad input gets 400/422 with the error shape, never 500; unknown routes and methods answer in JSON."""

from __future__ import annotations

import pytest

from tests.api.helpers import Client, auth_headers, error_of, open_conversation
from tests.conftest import Staff

BAD_BODIES: list[tuple[str, bytes, int, str]] = [
    ("messages", b"{not json", 400, "invalid_json"),
    ("messages", b"", 400, "invalid_json"),
    ("messages", b"\xff\xfe", 400, "invalid_json"),
    ("messages", b"[]", 422, "validation_error"),
    ("messages", b'"text"', 422, "validation_error"),
    ("messages", b"null", 422, "validation_error"),
    ("messages", b'{"text": "hi", "sender_id": 1}', 422, "validation_error"),
    ("messages", b'{"text": 5}', 422, "validation_error"),
    ("messages", b'{"text": "hi", "private": "yes"}', 422, "validation_error"),
    ("messages", b'{"text": "hi", "private": 1}', 422, "validation_error"),
    ("messages", b'{"text": ["a"]}', 422, "validation_error"),
    ("messages", b'{"text": {"$ne": ""}}', 422, "validation_error"),
    ("messages", b"{}", 422, "validation_error"),
    ("assign", b'{"operator_id": "5"}', 422, "validation_error"),
    ("assign", b'{"operator_id": true}', 422, "validation_error"),
    ("assign", b'{"operator_id": 1.5}', 422, "validation_error"),
    ("assign", b'{"operator_id": -3}', 422, "validation_error"),
    ("assign", b'{"operator_id": 99999999999999999999999}', 422, "validation_error"),
    ("assign", b'{"team": "Robert\'); DROP TABLE teams;--"}', 422, "validation_error"),
    ("assign", b'{"assignee_id": 1}', 422, "validation_error"),
    ("status", b'{"status": "closed"}', 422, "validation_error"),
    ("status", b'{"status": "OPEN"}', 422, "validation_error"),
    ("status", b'{"status": "snoozed", "until": "tomorrow"}', 422, "validation_error"),
    ("status", b'{"status": "snoozed", "until": 1700000000}', 422, "validation_error"),
    ("status", b'{"status": "snoozed", "until": "2001-01-01T00:00:00Z"}', 422, "until_in_past"),
    ("status", b'{"status": "open", "until": "2099-01-01T00:00:00Z"}', 422, "until_not_allowed"),
    ("status", b'{"status": "snoozed"}', 422, "until_required"),
]


@pytest.mark.parametrize(("action", "raw", "status", "code"), BAD_BODIES)
async def test_bad_bodies_get_a_clear_error(
    client: Client, staff: Staff, action: str, raw: bytes, status: int, code: str
) -> None:
    conversation = await open_conversation(client, staff.support)
    headers = {**await auth_headers(client, "anna"), "Content-Type": "application/json"}
    response = await client.post(f"/api/v1/conversations/{conversation}/{action}", data=raw, headers=headers)
    assert await error_of(response) == (status, code)


async def test_an_unknown_field_is_named_in_the_message(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "hi", "sender_id": 1},
        headers=await auth_headers(client, "anna"),
    )
    assert "sender_id" in (await response.json())["error"]["message"]


async def test_a_wrong_type_is_named_in_the_message(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "hi", "private": "yes"},
        headers=await auth_headers(client, "anna"),
    )
    assert (await response.json())["error"]["message"].startswith("private:")


async def test_a_body_over_the_limit_is_413(client: Client, staff: Staff) -> None:
    conversation = await open_conversation(client, staff.support)
    response = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        json={"text": "x" * 300_000},
        headers=await auth_headers(client, "anna"),
    )
    assert await error_of(response) == (413, "payload_too_large")


async def test_an_unknown_api_route_is_a_json_404(client: Client, staff: Staff) -> None:
    assert await error_of(await client.get("/api/v1/nothing-here")) == (404, "not_found")


async def test_a_wrong_method_is_a_json_405(client: Client, staff: Staff) -> None:
    response = await client.delete("/api/v1/conversations", headers=await auth_headers(client, "anna"))
    assert await error_of(response) == (405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


async def test_unauthenticated_writes_are_401_before_validation(client: Client, staff: Staff) -> None:
    response = await client.post("/api/v1/conversations/1/messages", data=b"{bad")
    assert await error_of(response) == (401, "unauthenticated")


async def test_a_login_body_of_the_wrong_shape_is_422(client: Client, staff: Staff) -> None:
    response = await client.post("/api/v1/auth/login", json={"login": ["anna"], "password": "demo"})
    assert await error_of(response) == (422, "validation_error")


async def test_presence_outside_the_allow_list_is_422(client: Client, staff: Staff) -> None:
    response = await client.put(
        "/api/v1/me/presence", json={"status": "busy"}, headers=await auth_headers(client, "anna")
    )
    assert await error_of(response) == (422, "validation_error")


async def test_presence_is_set(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "anna")
    response = await client.put("/api/v1/me/presence", json={"status": "online"}, headers=headers)
    assert (await response.json())["presence"] == "online"
    me = await (await client.get("/api/v1/me", headers=headers)).json()
    assert me["operator"]["presence"] == "online"
