"""SLA escalation by email: a 3-second policy breaches and the assignee and the lead get one
email each, in their language, through a real SMTP server (aiosmtpd); retries, refusals, restarts."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from lines.console.app import create_app
from lines.console.keys import sessions_key
from lines.console.models import Operator, utcnow
from lines.console.settings import Settings
from lines.sla.keys import staff_mail_key
from lines.sla.models import StaffMail
from lines.sla.staff_mail import UNKNOWN
from tests.api.helpers import Client, auth_headers, error_of, eventually, open_conversation
from tests.channels.email.servers import Sink, free_port
from tests.conftest import Database, Staff, make_settings, seed_staff
from tests.sla.test_app import QUICK

AppClient = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]
PUBLIC_URL = "https://lines.example"


def mail_settings(
    tmp_path: Path, database: Database, smtp_port: int, redis_url: str = "", rules: list[dict[str, Any]] | None = None,
    **mail: Any,
) -> Settings:  # fmt: skip
    policies = copy.deepcopy(QUICK)
    if rules is not None:
        policies["policies"][0]["escalations"] = rules
    path = tmp_path / "sla.json"
    path.write_text(json.dumps(policies), encoding="utf-8")
    return make_settings(
        tmp_path,
        database,
        redis_url,
        server={"public_url": PUBLIC_URL},
        sla={"policies_file": str(path), "timer_tick_seconds": 0.05, "sweep_seconds": 0.5},
        notifications={
            "email": {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                "smtp_tls": "none",
                "from_address": "lines@shop.example",
                "from_name": "Lines SLA",
                "poll_seconds": 0.05,
                "backoff_base_seconds": 0.2,
                "backoff_max_seconds": 0.5,
                **mail,
            }
        },
    )


@pytest.fixture
def settings(tmp_path: Path, database: Database, sink: Sink) -> Settings:
    return mail_settings(tmp_path, database, sink.port)  # type: ignore[attr-defined]


async def give_addresses(client: Client, staff: Staff) -> None:
    """Through the API: anna sets her own address and language, the admin sets the lead's."""
    anna = await auth_headers(client, "anna")
    response = await client.patch(
        f"/api/v1/operators/{staff.anna}", json={"email": "anna@shop.example", "locale": "ru"}, headers=anna
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["email"] == "anna@shop.example"
    admin = await auth_headers(client, "admin")
    response = await client.patch(
        f"/api/v1/operators/{staff.lead}", json={"email": "lena@shop.example", "locale": "en"}, headers=admin
    )
    assert response.status == 200, await response.text()


async def rows(client: Client) -> list[StaffMail]:
    async with client.app[sessions_key]() as session:
        return list((await session.scalars(select(StaffMail).order_by(StaffMail.id))).all())


async def test_a_breach_emails_the_assignee_and_the_lead_once_each_in_their_language(
    client: Client, staff: Staff, sink: Sink
) -> None:
    await give_addresses(client, staff)
    conversation_id = await open_conversation(client, staff.support, staff.anna, name="Vera Customer")

    async def two_sent() -> bool:
        return len(sink.messages) >= 2

    await eventually(two_sent)
    await asyncio.sleep(0.5)  # a duplicate would arrive now
    by_recipient = {tuple(rcpt): mail for rcpt, mail in sink.messages}
    assert sorted(by_recipient) == [("anna@shop.example",), ("lena@shop.example",)]
    assert len(sink.messages) == 2

    warning = by_recipient[("anna@shop.example",)]  # the warning rule names the assignee; anna reads Russian
    assert warning["Subject"] == f"[Lines] SLA: скоро срок, обращение №{conversation_id}, первый ответ"
    text = warning.get_content()
    assert f"Срок «первый ответ» по обращению №{conversation_id} скоро истекает." in text
    assert "Клиент: Vera Customer" in text
    assert "Политика: quick" in text
    assert f"Открыть обращение: {PUBLIC_URL}/conversations/{conversation_id}" in text
    assert warning["From"] == "Lines SLA <lines@shop.example>"
    assert warning["Auto-Submitted"] == "auto-generated"

    breach = by_recipient[("lena@shop.example",)]  # the breach rule names the lead; English
    assert breach["Subject"] == f"[Lines] SLA breached: conversation #{conversation_id}, first response"
    text = breach.get_content()
    assert f"The first response deadline of conversation #{conversation_id} has passed." in text
    assert "Due: " in text and " UTC" in text
    assert f"Open the conversation: {PUBLIC_URL}/conversations/{conversation_id}" in text

    # Both tell the deadline itself (the warning too, not its warning point).
    due_ru = next(line for line in warning.get_content().splitlines() if line.startswith("Срок: "))
    due_en = next(line for line in text.splitlines() if line.startswith("Due: "))
    assert due_ru.removeprefix("Срок: ") == due_en.removeprefix("Due: ")

    stored = await rows(client)
    assert [(r.status, r.attempts, r.locale) for r in stored] == [("sent", 1, "ru"), ("sent", 1, "en")]


async def test_a_recipient_without_an_address_is_skipped_with_a_reason(
    client: Client, staff: Staff, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lines.sla.staff_mail")
    conversation_id = await open_conversation(client, staff.support, staff.anna)

    async def warned() -> bool:
        return "no email address" in caplog.text

    await eventually(warned)
    assert f"of conversation {conversation_id}: not emailed to operator {staff.anna} (anna)" in caplog.text
    assert await rows(client) == []
    assert sink.messages == []


async def test_a_deactivated_operator_is_not_emailed(
    client: Client, staff: Staff, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="lines.sla.staff_mail")
    await give_addresses(client, staff)
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Operator).where(Operator.id == staff.anna).values(active=False))
    await open_conversation(client, staff.support, staff.anna)

    async def lead_mailed() -> bool:
        return len(sink.messages) >= 1

    await eventually(lead_mailed)
    await asyncio.sleep(0.3)
    assert [rcpt for rcpt, _ in sink.messages] == [["lena@shop.example"]]
    assert f"not emailed to operator {staff.anna} (anna): deactivated" in caplog.text


async def test_a_rule_may_opt_out_of_email(
    tmp_path: Path, database: Database, sink: Sink, aiohttp_client: AppClient, password_hash: str
) -> None:
    rules = [{"on": "warning", "notify": ["assignee"], "email": False}, {"on": "breached", "notify": ["lead"]}]
    client = await aiohttp_client(create_app(mail_settings(tmp_path, database, sink.port, rules=rules)))  # type: ignore[attr-defined]
    staff = await seed_staff(client.app, password_hash)
    await give_addresses(client, staff)
    await open_conversation(client, staff.support, staff.anna)

    async def sent() -> bool:
        return len(sink.messages) >= 1

    await eventually(sent)
    await asyncio.sleep(0.5)
    assert [rcpt for rcpt, _ in sink.messages] == [["lena@shop.example"]]


async def test_a_temporary_refusal_is_retried_and_delivered(client: Client, staff: Staff, sink: Sink) -> None:
    await give_addresses(client, staff)
    sink.refuse = (451, "greylisted, try again later")
    await open_conversation(client, staff.support, staff.anna)

    async def refused_once() -> bool:
        return any(r.last_error and "451" in r.last_error and r.status == "pending" for r in await rows(client))

    await eventually(refused_once)
    assert sink.messages == []
    sink.refuse = None

    async def both_sent() -> bool:
        found = await rows(client)
        return len(found) == 2 and all(r.status == "sent" for r in found)

    await eventually(both_sent)
    assert max(r.attempts for r in await rows(client)) >= 2
    await asyncio.sleep(0.3)
    assert sorted(rcpt[0] for rcpt, _ in sink.messages) == ["anna@shop.example", "lena@shop.example"]


async def test_a_permanent_refusal_is_marked_failed_with_the_reason(client: Client, staff: Staff, sink: Sink) -> None:
    await give_addresses(client, staff)
    sink.refuse = (550, "mailbox unavailable")
    await open_conversation(client, staff.support, staff.anna)

    async def both_failed() -> bool:
        found = await rows(client)
        return len(found) == 2 and all(r.status == "failed" for r in found)

    await eventually(both_failed)
    await asyncio.sleep(0.5)  # not tried again
    assert [(r.attempts, r.last_error) for r in await rows(client)] == [(1, "SMTP 550: mailbox unavailable")] * 2
    assert sink.messages == []


async def test_a_temporary_failure_gives_up_after_max_attempts(
    tmp_path: Path, database: Database, aiohttp_client: AppClient, password_hash: str
) -> None:
    nobody = free_port()  # connection refused: a temporary failure
    settings = mail_settings(tmp_path, database, nobody, max_attempts=2, backoff_base_seconds=0.05)
    client = await aiohttp_client(create_app(settings))
    staff = await seed_staff(client.app, password_hash)
    await give_addresses(client, staff)
    await open_conversation(client, staff.support, staff.anna)

    async def both_failed() -> bool:
        found = await rows(client)
        return len(found) == 2 and all(r.status == "failed" for r in found)

    await eventually(both_failed)
    for row in await rows(client):
        assert row.attempts == 2
        assert row.last_error is not None and row.last_error.startswith("gave up after 2 attempts: SMTP unavailable")


async def test_a_restart_between_fire_and_send_still_sends_once(
    tmp_path: Path, database: Database, sink: Sink, aiohttp_client: AppClient, password_hash: str
) -> None:
    # The first run fires and queues, but its sender only looks once, at start, before anything is due.
    first_settings = mail_settings(tmp_path, database, sink.port, poll_seconds=3600)  # type: ignore[attr-defined]
    first = await aiohttp_client(create_app(first_settings))
    staff = await seed_staff(first.app, password_hash)
    await give_addresses(first, staff)
    await open_conversation(first, staff.support, staff.anna)

    async def both_queued() -> bool:
        return len(await rows(first)) == 2

    await eventually(both_queued)
    await first.close()
    assert sink.messages == []

    second = await aiohttp_client(create_app(mail_settings(tmp_path, database, sink.port)))  # type: ignore[attr-defined]

    async def both_sent() -> bool:
        return len(sink.messages) >= 2

    await eventually(both_sent)
    await asyncio.sleep(0.5)
    assert sorted(rcpt[0] for rcpt, _ in sink.messages) == ["anna@shop.example", "lena@shop.example"]
    assert [r.status for r in await rows(second)] == ["sent", "sent"]
    await second.close()


async def test_a_graceful_stop_lets_the_mail_being_sent_finish(
    tmp_path: Path,
    database: Database,
    sink: Sink,
    aiohttp_client: AppClient,
    password_hash: str,
    session_maker_for: Callable[[], Any],
) -> None:
    client = await aiohttp_client(create_app(mail_settings(tmp_path, database, sink.port)))  # type: ignore[attr-defined]
    staff = await seed_staff(client.app, password_hash)
    await give_addresses(client, staff)
    sink.delay = 1.0  # the server takes a second to accept each mail
    await open_conversation(client, staff.support, staff.anna)

    async def server_busy() -> bool:
        return sink.receiving

    await eventually(server_busy)
    await client.close()  # stops the sender in the middle of that SMTP conversation
    assert len(sink.messages) == 1
    async with session_maker_for() as session:
        stored = list((await session.scalars(select(StaffMail))).all())
    assert [r.status for r in stored] == ["sent"]


async def test_a_mail_left_sending_by_a_dead_worker_is_failed_not_sent_again(
    client: Client, staff: Staff, sink: Sink
) -> None:
    await give_addresses(client, staff)
    sender = client.app[staff_mail_key]
    await sender.stop()  # this test drives the sender by hand
    await open_conversation(client, staff.support, staff.anna)

    async def both_queued() -> bool:
        return len(await rows(client)) == 2

    await eventually(both_queued)
    claimed = await sender.claim()  # claimed, then "killed" before the answer was recorded
    assert len(claimed) == 2
    assert await sender.tick() == 0  # nothing else is due, and the lease still runs
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(StaffMail).values(lease_until=utcnow() - timedelta(seconds=1)))
    assert await sender.tick() == 0
    assert [(r.status, r.last_error) for r in await rows(client)] == [("failed", UNKNOWN)] * 2
    assert sink.messages == []


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["anna", "anna@", "@shop.example", "Anna <anna@shop.example>", "a b@shop.example"])
async def test_the_api_refuses_a_malformed_email_address(client: Client, staff: Staff, address: str) -> None:
    headers = await auth_headers(client, "admin")
    response = await client.patch(f"/api/v1/operators/{staff.anna}", json={"email": address}, headers=headers)
    body = await response.json()
    assert await error_of(response) == (422, "validation_error")
    assert body["error"]["message"] == f"email: {address!r} is not an email address like name@example.com"
    response = await client.post(
        "/api/v1/operators",
        json={"login": "vera", "name": "Vera", "password": "long-enough", "email": address},
        headers=headers,
    )
    assert await error_of(response) == (422, "validation_error")


async def test_an_email_address_is_set_on_create_and_cleared_with_null(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "admin")
    response = await client.post(
        "/api/v1/operators",
        json={"login": "vera", "name": "Vera", "password": "long-enough", "email": "vera@shop.example"},
        headers=headers,
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["email"] == "vera@shop.example"
    response = await client.patch(f"/api/v1/operators/{created['id']}", json={"email": None}, headers=headers)
    assert (await response.json())["email"] is None
    async with client.app[sessions_key]() as session:
        assert await session.scalar(select(Operator.email).where(Operator.id == created["id"])) is None


async def test_an_operator_may_not_set_a_colleagues_address(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "anna")
    response = await client.patch(f"/api/v1/operators/{staff.boris}", json={"email": "x@shop.example"}, headers=headers)
    assert await error_of(response) == (403, "forbidden")


@pytest.mark.parametrize(
    ("escalation", "message"),
    [
        (
            {"on": "breached", "notify": ["lead"], "email": "yes"},
            "/policies/0/escalations/0/email: Input should be a valid boolean",
        ),
        (
            {"on": "breached", "email": True},
            "/policies/0/escalations/0/email: true needs someone to write to in notify",
        ),
    ],
)
async def test_a_rule_with_a_bad_email_value_is_refused_with_a_json_pointer(
    client: Client, staff: Staff, escalation: dict[str, Any], message: str
) -> None:
    document = copy.deepcopy(QUICK)
    document["policies"][0]["escalations"] = [escalation]
    response = await client.put("/api/v1/sla/policies", json=document, headers=await auth_headers(client, "lead"))
    body = await response.json()
    assert await error_of(response) == (422, "validation_error")
    assert body["error"]["message"] == message
