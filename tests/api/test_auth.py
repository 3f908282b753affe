"""Logins, throttling, bearer and cookie sessions, CSRF, expiry and revocation."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from lines.console.auth import COOKIE_NAME, CSRF_HEADER, set_session_cookie
from lines.console.keys import sessions_key
from lines.console.models import AuthSession
from lines.console.settings import Settings
from tests.api.helpers import (
    Client,
    bearer,
    cookie_session,
    error_of,
    expire_sessions,
    login,
)
from tests.conftest import PASSWORD, Database, Staff, make_settings


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(
        tmp_path,
        database,
        auth={"login_failures_per_account": 3, "login_failures_per_ip": 6, "login_window_seconds": 60},
    )


async def attempt(client: Client, who: str, password: str, ip: str = "") -> web.Response:
    headers = {"X-Forwarded-For": ip} if ip else {}
    return await client.post("/api/v1/auth/login", json={"login": who, "password": password}, headers=headers)


async def test_login_returns_a_token_and_the_operator(client: Client, staff: Staff) -> None:
    response = await attempt(client, "anna", PASSWORD)
    assert response.status == 200
    body = await response.json()
    assert body["operator"]["id"] == staff.anna
    assert body["operator"]["teams"] == ["support"]
    assert len(body["token"]) >= 40


async def test_login_is_case_insensitive(client: Client, staff: Staff) -> None:
    assert (await attempt(client, "Anna", PASSWORD)).status == 200


async def test_a_wrong_password_is_401_invalid_credentials(client: Client, staff: Staff) -> None:
    assert await error_of(await attempt(client, "anna", "nope")) == (401, "invalid_credentials")


async def test_an_unknown_login_gets_the_same_answer_as_a_wrong_password(client: Client, staff: Staff) -> None:
    wrong = await attempt(client, "anna", "nope")
    unknown = await attempt(client, "nobody", "nope")
    assert (unknown.status, await unknown.json()) == (wrong.status, await wrong.json())


async def test_only_the_hash_of_the_token_is_stored(client: Client, staff: Staff) -> None:
    token = await login(client, "anna")
    async with client.app[sessions_key]() as session:
        stored = (await session.scalars(select(AuthSession.token_hash))).all()
    assert len(stored) == 1 and token not in stored[0] and stored[0] != token


async def test_logins_are_throttled_per_account(client: Client, staff: Staff) -> None:
    for _ in range(3):
        assert (await attempt(client, "anna", "nope")).status == 401
    response = await attempt(client, "anna", PASSWORD)  # even the right password now waits
    assert await error_of(response) == (429, "too_many_attempts")
    assert int(response.headers["Retry-After"]) >= 1


async def test_the_account_limit_does_not_block_other_accounts(client: Client, staff: Staff) -> None:
    for _ in range(4):
        await attempt(client, "anna", "nope")
    assert (await attempt(client, "boris", PASSWORD)).status == 200


async def test_logins_are_throttled_per_ip_across_accounts(client: Client, staff: Staff) -> None:
    for who in ("a1", "a2", "a3", "a4", "a5", "a6"):
        assert (await attempt(client, who, "nope")).status == 401
    response = await attempt(client, "boris", PASSWORD)
    assert await error_of(response) == (429, "too_many_attempts")
    assert "Retry-After" in response.headers


async def test_a_spoofed_forwarded_for_does_not_escape_the_ip_limit(client: Client, staff: Staff) -> None:
    # No trusted proxies are configured, so X-Forwarded-For is ignored.
    for i in range(6):
        await attempt(client, f"x{i}", "nope", ip=f"10.0.0.{i}")
    assert (await attempt(client, "boris", PASSWORD, ip="10.9.9.9")).status == 429


async def test_parallel_guesses_cannot_race_past_the_limit(client: Client, staff: Staff) -> None:
    responses = await asyncio.gather(*(attempt(client, "anna", "nope") for _ in range(10)))
    statuses = sorted(r.status for r in responses)
    assert statuses.count(401) == 3 and statuses.count(429) == 7


async def test_a_success_resets_the_account_counter(client: Client, staff: Staff) -> None:
    for _ in range(2):
        await attempt(client, "anna", "nope")
    assert (await attempt(client, "anna", PASSWORD)).status == 200
    for _ in range(2):
        assert (await attempt(client, "anna", "nope")).status == 401


async def test_an_inactive_operator_cannot_log_in(client: Client, staff: Staff) -> None:
    admin = bearer(await login(client, "admin"))
    await client.patch(f"/api/v1/operators/{staff.boris}", json={"active": False}, headers=admin)
    assert await error_of(await attempt(client, "boris", PASSWORD)) == (401, "invalid_credentials")


async def test_no_credentials_is_401(client: Client, staff: Staff) -> None:
    assert await error_of(await client.get("/api/v1/me")) == (401, "unauthenticated")


async def test_a_made_up_token_is_401(client: Client, staff: Staff) -> None:
    assert (await client.get("/api/v1/me", headers=bearer("made-up"))).status == 401


async def test_a_bearer_token_authenticates(client: Client, staff: Staff) -> None:
    response = await client.get("/api/v1/me", headers=bearer(await login(client, "anna")))
    body = await response.json()
    assert body["operator"]["login"] == "anna"
    assert body["csrf_token"] is None


async def test_a_cookie_session_reads_without_a_csrf_token(client: Client, staff: Staff) -> None:
    cookie, csrf = await cookie_session(client, staff.anna)
    response = await client.get("/api/v1/me", headers=cookie)
    assert response.status == 200
    assert (await response.json())["csrf_token"] == csrf


async def test_a_cookie_session_write_without_the_csrf_header_is_403(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna)
    response = await client.put("/api/v1/me/presence", json={"status": "online"}, headers=cookie)
    assert await error_of(response) == (403, "csrf_failed")


async def test_a_cookie_session_write_with_a_wrong_csrf_token_is_403(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna)
    headers = {**cookie, CSRF_HEADER: "guess"}
    response = await client.put("/api/v1/me/presence", json={"status": "online"}, headers=headers)
    assert await error_of(response) == (403, "csrf_failed")


async def test_another_sessions_csrf_token_does_not_pass(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna)
    _, other_csrf = await cookie_session(client, staff.anna)
    headers = {**cookie, CSRF_HEADER: other_csrf}
    assert (await client.put("/api/v1/me/presence", json={"status": "online"}, headers=headers)).status == 403


async def test_a_cookie_session_write_with_the_csrf_token_passes(client: Client, staff: Staff) -> None:
    cookie, csrf = await cookie_session(client, staff.anna)
    headers = {**cookie, CSRF_HEADER: csrf}
    assert (await client.put("/api/v1/me/presence", json={"status": "online"}, headers=headers)).status == 200


async def test_bearer_writes_need_no_csrf_token(client: Client, staff: Staff) -> None:
    headers = bearer(await login(client, "anna"))
    assert (await client.put("/api/v1/me/presence", json={"status": "away"}, headers=headers)).status == 200


async def test_csrf_is_checked_before_the_body_is_looked_at(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna)
    response = await client.put("/api/v1/me/presence", data=b"{not json", headers=cookie)
    assert await error_of(response) == (403, "csrf_failed")


async def test_an_expired_token_is_401(client: Client, staff: Staff) -> None:
    headers = bearer(await login(client, "anna"))
    await expire_sessions(client, staff.anna)
    assert await error_of(await client.get("/api/v1/me", headers=headers)) == (401, "unauthenticated")


async def test_an_expired_cookie_session_is_401(client: Client, staff: Staff) -> None:
    cookie, _ = await cookie_session(client, staff.anna, hours=-1)
    assert (await client.get("/api/v1/me", headers=cookie)).status == 401


async def test_logout_revokes_the_token(client: Client, staff: Staff) -> None:
    headers = bearer(await login(client, "anna"))
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status == 200
    assert await error_of(await client.get("/api/v1/me", headers=headers)) == (401, "unauthenticated")


async def test_logout_leaves_other_sessions_alone(client: Client, staff: Staff) -> None:
    first, second = bearer(await login(client, "anna")), bearer(await login(client, "anna"))
    await client.post("/api/v1/auth/logout", headers=first)
    assert (await client.get("/api/v1/me", headers=second)).status == 200


async def test_the_session_cookie_is_httponly_lax_and_expires(settings: Settings) -> None:
    response = web.Response()
    set_session_cookie(response, "tok", settings)
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == settings.auth.session_hours * 3600
    assert not cookie["secure"]


async def test_the_session_cookie_is_secure_behind_https(tmp_path: Path, database: Database) -> None:
    settings = make_settings(tmp_path, database, server={"public_url": "https://lines.example"})
    response = web.Response()
    set_session_cookie(response, "tok", settings)
    assert response.cookies[COOKIE_NAME]["secure"]


async def test_successful_logins_from_one_address_never_hit_the_ip_limit(client: Client, staff: Staff) -> None:
    # An office behind one NAT: many operators signing in at the start of a shift (limit here: 6).
    for _ in range(4):
        for who in ("anna", "boris", "lead"):
            assert (await attempt(client, who, PASSWORD)).status == 200


async def test_a_success_does_not_wipe_earlier_failures_from_the_same_address(client: Client, staff: Staff) -> None:
    for who in ("a1", "a2", "a3", "a4", "a5"):
        assert (await attempt(client, who, "nope")).status == 401
    assert (await attempt(client, "anna", PASSWORD)).status == 200
    assert (await attempt(client, "a6", "nope")).status == 401
    assert await error_of(await attempt(client, "boris", PASSWORD)) == (429, "too_many_attempts")
