"""Password guessing cannot lock an operator out: throttling is per (account, address), with growing
delays, and an account-wide ceiling that refuses only the addresses that have been failing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp import ClientResponse

from lines.console.settings import Settings
from tests.api.helpers import Client, auth_headers, error_of
from tests.conftest import PASSWORD, Database, Staff, make_settings


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return make_settings(
        tmp_path,
        database,
        server={"trusted_proxies": ["127.0.0.1"]},  # so each test client may speak for an address
        auth={
            "login_failures_per_account": 3,
            "login_failures_per_ip": 50,
            "login_account_ceiling": 10,
            "login_window_seconds": 60,
        },
    )


async def attempt(client: Client, who: str, password: str, ip: str) -> ClientResponse:
    headers = {"X-Forwarded-For": ip}
    return await client.post("/api/v1/auth/login", json={"login": who, "password": password}, headers=headers)


async def attack(client: Client, who: str = "anna") -> None:
    """A wrong password from each of twelve addresses: past the ceiling of ten."""
    for host in range(1, 13):
        assert (await attempt(client, who, "guess", f"10.0.0.{host}")).status == 401


async def test_wrong_passwords_from_elsewhere_never_lock_the_owner_out(client: Client, staff: Staff) -> None:
    await attack(client)
    assert (await attempt(client, "anna", PASSWORD, "192.168.1.5")).status == 200


async def test_an_address_that_failed_is_refused_once_the_account_is_under_attack(client: Client, staff: Staff) -> None:
    await attack(client)
    assert await error_of(await attempt(client, "anna", PASSWORD, "10.0.0.1")) == (429, "too_many_attempts")
    assert (await attempt(client, "anna", "guess", "10.0.0.99")).status == 401  # one try each, then no more
    response = await attempt(client, "anna", "guess", "10.0.0.99")
    assert await error_of(response) == (429, "too_many_attempts")
    assert int(response.headers["Retry-After"]) >= 1


async def test_the_delay_grows_for_an_address_that_keeps_failing(client: Client, staff: Staff) -> None:
    retry_after = []
    for _ in range(8):
        response = await attempt(client, "anna", "guess", "10.0.0.1")
        retry_after.append(int(response.headers.get("Retry-After", 0)))
    assert retry_after[:3] == [0, 0, 0]
    assert all(1 <= seconds <= 60 for seconds in retry_after[3:6])  # the first window
    assert all(60 < seconds <= 240 for seconds in retry_after[6:])  # then four of them


async def test_a_success_clears_the_delay_of_its_address(client: Client, staff: Staff) -> None:
    for _ in range(2):
        await attempt(client, "anna", "typo", "192.168.1.5")
    assert (await attempt(client, "anna", PASSWORD, "192.168.1.5")).status == 200
    for _ in range(3):
        assert (await attempt(client, "anna", "typo", "192.168.1.5")).status == 401


async def test_admins_see_which_accounts_are_under_attack_and_it_is_logged(
    client: Client, staff: Staff, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="lines.console.auth"):
        await attack(client)
    warnings = [r.getMessage() for r in caplog.records if "under attack" in r.getMessage()]
    assert len(warnings) == 1 and "'anna' is under attack" in warnings[0]  # once, when it starts
    response = await client.get("/api/v1/operators", headers=await auth_headers(client, "admin"))
    flags = {o["login"]: o["login_under_attack"] for o in (await response.json())["operators"]}
    assert flags["anna"] is True and flags["boris"] is False
    response = await client.get("/api/v1/operators", headers=await auth_headers(client, "boris"))
    assert {o.get("login_under_attack") for o in (await response.json())["operators"]} == {None}
