"""Reports come from the rollups and match a hand-computed fixture; bad ranges and roles are refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from lines.console.customers.feature import processor_key
from lines.console.customers.models import Survey
from lines.console.customers.surveys import record_answer
from lines.console.keys import sessions_key
from lines.console.models import AuthorKind, Contact, Conversation, DeliveryStatus, Direction, Message
from tests.api.helpers import Client, auth_headers, error_of
from tests.conftest import Staff

DAY = datetime(2026, 3, 2, tzinfo=UTC)
SHOP = {"url": "https://shop.example/pricing?ref=ad", "referrer": "", "utm": {}}


async def _fixture(client: Client, staff: Staff) -> list[int]:
    return await seed_report_fixture(client.app, staff)


async def seed_report_fixture(app: web.Application, staff: Staff) -> list[int]:
    """Four conversations on 2 March 2026 (UTC); the expected figures are worked out in the tests."""
    at = DAY.replace
    rows = [
        # channel, team, created, first response after, resolved after, sla, bot, source, csat
        ("webchat", staff.support, at(hour=9, minute=10), 30, 600, "met", None, SHOP, 5),
        ("webchat", staff.support, at(hour=9, minute=40), 200, 4000, "breached", None, SHOP, 2),
        ("email", staff.sales, at(hour=14), 7000, None, "warning", None, {}, None),
        ("telegram", None, at(hour=9, minute=5), None, 120, None, "answering", {}, None),
    ]
    ids = []
    async with app[sessions_key]() as session, session.begin():
        for channel, team, created, frt, resolved, sla, bot, source, _ in rows:
            contact = Contact(name="Fixture")
            session.add(contact)
            await session.flush()
            conversation = Conversation(
                contact_id=contact.id,
                channel=channel,
                inbox="test",
                team_id=team,
                assignee_id=staff.anna if team == staff.support else None,
                status="resolved" if resolved else "open",
                source=source,
                created_at=created,
                last_message_at=created,
                first_response_at=created + timedelta(seconds=frt) if frt else None,
                resolved_at=created + timedelta(seconds=resolved) if resolved else None,
                sla_state=sla,
                bot_state=bot,
            )
            session.add(conversation)
            await session.flush()
            ids.append(conversation.id)
    rollups = app[processor_key].rollups
    for conversation_id in ids:
        await rollups.count(conversation_id)
        await rollups.count(conversation_id)  # a redelivered job counts nothing twice
    async with app[sessions_key]() as session, session.begin():
        for conversation_id, row in zip(ids, rows, strict=True):
            if row[8] is not None:
                survey = Survey(
                    conversation_id=conversation_id,
                    contact_id=1,
                    kind="csat",
                    channel=row[0],
                    inbox="test",
                    sent_at=DAY,
                )
                survey.contact_id = (await session.get(Conversation, conversation_id)).contact_id  # type: ignore[union-attr]
                session.add(survey)
                await session.flush()
                await record_answer(session, survey.id, row[8], "button")
    return ids


async def _report(client: Client, **params: str) -> dict[str, Any]:
    headers = await auth_headers(client, "lead")
    response = await client.get("/api/v1/reports", params=params, headers=headers)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_totals_match_the_hand_computed_fixture(client: Client, staff: Staff) -> None:
    await _fixture(client, staff)
    totals = (await _report(client, **{"from": "2026-03-02", "to": "2026-03-02"}))["totals"]
    assert totals["conversations"] == 4
    # First responses 30 s, 200 s, 7000 s: buckets <=60, <=300, <=7200.
    assert totals["first_response"] == {
        "count": 3,
        "avg_seconds": 2410.0,
        "p50_seconds_at_most": 300,
        "p90_seconds_at_most": 7200,
    }
    # Resolutions 600 s, 4000 s, 120 s: buckets <=900, <=7200, <=300.
    assert totals["resolution"] == {
        "count": 3,
        "avg_seconds": 1573.3,
        "p50_seconds_at_most": 900,
        "p90_seconds_at_most": 7200,
    }
    assert totals["sla"] == {"met": 1, "breached": 1, "compliance": 0.5}
    assert totals["csat"] == {"count": 2, "average": 3.5, "satisfied_share": 0.5}
    assert totals["bot_resolution_rate"] == 0.3333
    assert totals["nps"]["count"] == 0 and totals["nps"]["score"] is None


async def test_busiest_hours_and_rows_by_channel(client: Client, staff: Staff) -> None:
    await _fixture(client, staff)
    data = await _report(client, **{"from": "2026-03-01", "to": "2026-03-03", "by": "channel"})
    assert data["hours"][9] == 3 and data["hours"][14] == 1 and sum(data["hours"]) == 4
    assert data["busiest_hours"] == [9, 14, 0]
    rows = {r["key"]: r for r in data["rows"]}
    assert sorted(rows) == ["email", "telegram", "webchat"]
    assert rows["webchat"]["conversations"] == 2
    assert rows["webchat"]["first_response"]["avg_seconds"] == 115.0
    assert rows["webchat"]["first_response"]["p50_seconds_at_most"] == 60
    assert rows["telegram"]["bot_resolution_rate"] == 1.0


async def test_rows_by_team_and_operator(client: Client, staff: Staff) -> None:
    await _fixture(client, staff)
    teams = {
        r["key"]: r["conversations"] for r in (await _report(client, **{"from": "2026-03-02", "by": "team"}))["rows"]
    }
    assert teams == {"support": 2, "sales": 1, "-": 1}
    operators = (await _report(client, **{"from": "2026-03-02", "by": "operator"}))["rows"]
    anna = next(r for r in operators if r["key"] == "anna")
    assert anna["resolution"]["count"] == 2 and anna["csat"]["average"] == 3.5


async def test_a_range_outside_the_data_is_empty(client: Client, staff: Staff) -> None:
    await _fixture(client, staff)
    totals = (await _report(client, **{"from": "2026-03-03", "to": "2026-03-31"}))["totals"]
    assert totals["conversations"] == 0 and totals["first_response"]["p50_seconds_at_most"] is None


async def test_the_touchpoint_map_scores_and_names_the_weakest(client: Client, staff: Staff) -> None:
    await _fixture(client, staff)
    headers = await auth_headers(client, "lead")
    data = await (
        await client.get("/api/v1/reports/touchpoints", params={"from": "2026-03-02"}, headers=headers)
    ).json()
    scores = {t["key"]: t["score"] for t in data["touchpoints"]}
    # email: resolved 0/1 and p50 <= 7200 s -> mean(0, 0.92) -> 5.1; the shop page: resolved 2/2, SLA 0.5,
    # CSAT 3.5 -> 0.625, p50 <= 60 s -> 1 -> 8.0; telegram: resolved 1/1 -> 10.
    assert scores == {"email:test": 5.1, "shop.example/pricing": 8.0, "telegram:test": 10.0}
    assert data["weakest"] == ["email:test", "shop.example/pricing", "telegram:test"]


async def test_csv_export_has_a_total_row_and_one_row_per_key(client: Client, staff: Staff) -> None:
    await _fixture(client, staff)
    headers = await auth_headers(client, "lead")
    response = await client.get("/api/v1/reports/csv", params={"from": "2026-03-02", "by": "channel"}, headers=headers)
    assert response.status == 200 and response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [r["key"] for r in rows] == ["(total)", "email", "telegram", "webchat"]
    assert rows[0]["conversations"] == "4" and rows[0]["sla_compliance"] == "0.5"


async def test_csv_cells_cannot_become_spreadsheet_formulas(client: Client, staff: Staff) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        contact = Contact(name="x")
        session.add(contact)
        await session.flush()
        conversation = Conversation(
            contact_id=contact.id, channel="webchat", inbox="t", source={"utm": {"utm_source": "=HYPERLINK(1)"}}
        )
        session.add(conversation)
        await session.flush()
        conversation_id = conversation.id
    await client.app[processor_key].rollups.count(conversation_id)
    headers = await auth_headers(client, "lead")
    text = await (await client.get("/api/v1/reports/csv", params={"by": "touchpoint"}, headers=headers)).text()
    assert "'utm:=HYPERLINK(1)" in text or "utm:=HYPERLINK" in text
    assert "\n=" not in text and ",=" not in text


async def test_reversed_and_huge_ranges_are_refused(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "lead")
    for params in (
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"from": "2020-01-01", "to": "2026-01-01"},
        {"from": "not-a-date"},
        {"by": "password"},
        {"from": "99999-01-01"},
    ):
        response = await client.get("/api/v1/reports", params=params, headers=headers)
        assert await error_of(response) == (422, "validation_error"), params


async def test_operators_cannot_read_reports(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "anna")
    for path in ("/api/v1/reports", "/api/v1/reports/csv", "/api/v1/reports/touchpoints"):
        assert await error_of(await client.get(path, headers=headers)) == (403, "forbidden")


async def seed_handlers_fixture(app: web.Application, staff: Staff) -> None:
    """Five chats on 2 March 2026, handled by an operator, a lead and an admin:

    | chat | assignee | first public reply by | first response | resolved |
    |---|---|---|---|---|
    | 1 | anna | anna | 60 s | 600 s |
    | 2 | lead (took it) | lead | 120 s | 900 s |
    | 3 | nobody | admin (answered without taking it) | 30 s | 300 s |
    | 4 | nobody | nobody | – | – |
    | 5 | anna | nobody | – | – |

    By operator: anna 2 chats (1 answered, 1 resolved), lead 1 (1, 1), admin 1 (1, 1), `-` 1
    (0, 0); totals 5 chats, 3 answered, 3 resolved."""
    rows = [
        (staff.anna, staff.anna, 60, 600),
        (staff.lead, staff.lead, 120, 900),
        (None, staff.admin, 30, 300),
        (None, None, None, None),
        (staff.anna, None, None, None),
    ]
    ids = []
    async with app[sessions_key]() as session, session.begin():
        for index, (assignee, replier, frt, resolved) in enumerate(rows):
            created = DAY.replace(hour=10, minute=index)
            contact = Contact(name="Handled")
            session.add(contact)
            await session.flush()
            conversation = Conversation(
                contact_id=contact.id,
                channel="webchat",
                inbox="test",
                team_id=staff.support,
                assignee_id=assignee,
                status="resolved" if resolved else "open",
                created_at=created,
                last_message_at=created,
                first_response_at=created + timedelta(seconds=frt) if frt else None,
                resolved_at=created + timedelta(seconds=resolved) if resolved else None,
            )
            session.add(conversation)
            await session.flush()
            ids.append(conversation.id)
            if replier is not None:
                session.add(
                    Message(
                        conversation_id=conversation.id,
                        channel_key="webchat:test",
                        direction=Direction.OUT,
                        author_kind=AuthorKind.OPERATOR,
                        author_operator_id=replier,
                        text="Hello!",
                        delivery_status=DeliveryStatus.SENT,
                        created_at=created + timedelta(seconds=frt or 0),
                    )
                )
    rollups = app[processor_key].rollups
    for conversation_id in ids:
        await rollups.count(conversation_id)
        await rollups.count(conversation_id)


async def test_operator_rows_add_up_to_the_total_with_leads_and_admins_who_took_chats(
    client: Client, staff: Staff
) -> None:
    await seed_handlers_fixture(client.app, staff)
    data = await _report(client, **{"from": "2026-03-02", "to": "2026-03-02", "by": "operator"})
    rows = {
        r["key"]: (r["conversations"], r["first_response"]["count"], r["resolution"]["count"]) for r in data["rows"]
    }
    assert rows == {"anna": (2, 1, 1), "lead": (1, 1, 1), "admin": (1, 1, 1), "-": (1, 0, 0)}
    totals = data["totals"]
    assert (totals["conversations"], totals["first_response"]["count"], totals["resolution"]["count"]) == (5, 3, 3)
    assert tuple(map(sum, zip(*rows.values(), strict=True))) == (5, 3, 3)


async def test_taking_a_waiting_chat_moves_it_into_the_operators_row(client: Client, staff: Staff) -> None:
    await seed_handlers_fixture(client.app, staff)
    async with client.app[sessions_key]() as session, session.begin():
        waiting = await session.scalar(
            select(Conversation.id).where(Conversation.assignee_id.is_(None), Conversation.first_response_at.is_(None))
        )
        await session.execute(update(Conversation).where(Conversation.id == waiting).values(assignee_id=staff.lead))
    await client.app[processor_key].rollups.count(waiting)
    await client.app[processor_key].rollups.count(waiting)
    data = await _report(client, **{"from": "2026-03-02", "to": "2026-03-02", "by": "operator"})
    rows = {r["key"]: r["conversations"] for r in data["rows"]}
    assert rows == {"anna": 2, "lead": 2, "admin": 1, "-": 0}
    assert sum(rows.values()) == data["totals"]["conversations"] == 5


async def test_dates_outside_a_sane_range_are_422_naming_the_parameter(client: Client, staff: Staff) -> None:
    headers = await auth_headers(client, "lead")
    far = (datetime.now(UTC) + timedelta(days=800)).date().isoformat()
    for params in (
        {"to": "0"},
        {"from": "0"},
        {"to": "1999-12-31"},
        {"from": "0001-01-01"},
        {"to": far},
        {"to": "1e9"},
    ):
        response = await client.get("/api/v1/reports", params=params, headers=headers)
        assert await error_of(response) == (422, "validation_error"), params
        assert next(iter(params)) in (await response.json())["error"]["message"], params
    csv_response = await client.get("/api/v1/reports/csv", params={"to": "0"}, headers=headers)
    assert csv_response.status == 422


async def test_the_sla_report_refuses_the_epoch_too(client: Client, staff: Staff) -> None:
    response = await client.get(
        "/api/v1/sla/report", params={"date_to": "0"}, headers=await auth_headers(client, "lead")
    )
    assert await error_of(response) == (422, "validation_error")
    assert "date_to" in (await response.json())["error"]["message"]
