"""Inbox paging: keyset cursors reach every conversation exactly once in each sort, with filters, and
never another team's conversation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from lines.console.keys import engine_key, sessions_key
from lines.console.models import Contact, Conversation
from tests.api.helpers import Client, auth_headers, error_of
from tests.conftest import Staff
from tests.test_views import login

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Seeded:
    visible: dict[int, Conversation]
    hidden: set[int]


@pytest.fixture
async def many(client: Client, staff: Staff) -> Seeded:
    """130 conversations anna (support) may see, with ties in both sort keys and a quarter without an SLA
    deadline, mixed channels, priorities and assignees; and 12 of sales she may not see."""
    visible: list[Conversation] = []
    hidden: list[Conversation] = []
    async with client.app[sessions_key]() as session, session.begin():
        for n in range(142):
            contact = Contact(name=f"Customer {n}")
            session.add(contact)
            await session.flush()
            conversation = Conversation(
                contact_id=contact.id,
                channel="email" if n % 3 == 0 else "webchat",
                inbox="main",
                team_id=staff.sales if n >= 130 else (staff.support if n % 2 else None),
                assignee_id=staff.anna if n % 5 == 0 and n < 130 else None,
                priority="urgent" if n % 7 == 0 else "normal",
                last_message_at=START + timedelta(minutes=n // 3),
                sla_due_at=None if n % 4 == 0 else START + timedelta(hours=n // 5),
            )
            session.add(conversation)
            (hidden if n >= 130 else visible).append(conversation)
        await session.flush()
    return Seeded({c.id: c for c in visible}, {c.id for c in hidden})


async def walk(client: Client, who: str, query: str, limit: int = 17) -> list[int]:
    """Every page of `query`, following `next_cursor`; the ids in the order served."""
    headers = await auth_headers(client, who)
    seen: list[int] = []
    before = ""
    for _ in range(100):
        response = await client.get(f"/api/v1/conversations?limit={limit}&{query}{before}", headers=headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        seen += [c["id"] for c in body["conversations"]]
        if body["next_cursor"] is None:
            return seen
        before = f"&before={body['next_cursor']}"
    raise AssertionError("the cursor never ended")


@pytest.mark.parametrize("sort", ["recent", "sla"])
async def test_every_conversation_is_reached_exactly_once(client: Client, many: Seeded, sort: str) -> None:
    seen = await walk(client, "anna", f"sort={sort}")
    assert len(seen) == len(set(seen)) == 130
    assert set(seen) == set(many.visible)


async def test_recent_pages_are_newest_activity_first(client: Client, many: Seeded) -> None:
    seen = await walk(client, "anna", "sort=recent")
    keys = [(many.visible[i].last_message_at, i) for i in seen]
    assert keys == sorted(keys, reverse=True)


async def test_sla_pages_are_nearest_deadline_first_and_none_last(client: Client, many: Seeded) -> None:
    seen = await walk(client, "anna", "sort=sla")
    far = datetime.max.replace(tzinfo=UTC)
    keys = [(many.visible[i].sla_due_at is None, many.visible[i].sla_due_at or far, i) for i in seen]
    assert keys == sorted(keys)
    assert many.visible[seen[-1]].sla_due_at is None


@pytest.mark.parametrize("sort", ["recent", "sla"])
async def test_another_teams_conversation_is_never_on_a_page(client: Client, many: Seeded, sort: str) -> None:
    assert not set(await walk(client, "anna", f"sort={sort}&status=any")) & many.hidden
    assert many.hidden <= set(await walk(client, "admin", f"sort={sort}"))


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("channel=email", lambda c, s: c.channel == "email"),
        ("priority=urgent", lambda c, s: c.priority == "urgent"),
        ("assignee_id={anna}", lambda c, s: c.assignee_id == s.anna),
        ("team_id={support}", lambda c, s: c.team_id == s.support),
        ("channel=webchat&priority=normal", lambda c, s: c.channel == "webchat" and c.priority == "normal"),
    ],
)
@pytest.mark.parametrize("sort", ["recent", "sla"])
async def test_filters_narrow_every_page(client: Client, staff: Staff, many: Seeded, query, keep, sort: str) -> None:  # type: ignore[no-untyped-def]
    seen = await walk(client, "anna", f"sort={sort}&" + query.format(anna=staff.anna, support=staff.support), 7)
    expected = {i for i, c in many.visible.items() if keep(c, staff)}
    assert expected
    assert len(seen) == len(set(seen))
    assert set(seen) == expected


async def test_a_team_filter_never_widens_what_i_may_see(client: Client, staff: Staff, many: Seeded) -> None:
    assert await walk(client, "anna", f"team_id={staff.sales}") == []


@pytest.mark.parametrize(
    "query",
    [
        "before=garbage",
        "before=12.x",
        "before=99999999999999999999.5",
        "sort=recent&before=n.5",
        "before=" + "1" * 60,
        "channel=E'MAIL",
        "priority=asap",
        "team_id=abc",
    ],
)
async def test_a_bad_cursor_or_filter_is_422(client: Client, staff: Staff, query: str) -> None:
    headers = await auth_headers(client, "anna")
    response = await client.get(f"/api/v1/conversations?{query}", headers=headers)
    assert await error_of(response) == (422, "validation_error")


async def statements_of(client: Client, url: str, headers: dict[str, str] | None = None) -> list[str]:
    """The statements the request itself sends (the task that reads the inbox list), not background work's."""
    sent: list[tuple[asyncio.Task[Any] | None, str]] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append((asyncio.current_task(), " ".join(statement.split())))

    engine = client.app[engine_key].sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = await client.get(url, headers=headers)
        assert response.status == 200, await response.text()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    handler = next(task for task, statement in sent if "ORDER BY conversations.last_message_at DESC" in statement)
    return [statement[:60] for task, statement in sent if task is handler]


async def test_an_api_page_takes_the_same_few_statements_wherever_it_starts(client: Client, many: Seeded) -> None:
    headers = await auth_headers(client, "anna")
    await statements_of(client, "/api/v1/conversations", headers)  # warms the token cache, if any
    first = await statements_of(client, "/api/v1/conversations?limit=5", headers)
    body = await (await client.get("/api/v1/conversations?limit=50", headers=headers)).json()
    later = await statements_of(client, f"/api/v1/conversations?limit=50&before={body['next_cursor']}", headers)
    # sign-in (session, operator, teams), the page, then its contacts, assignees and teams
    assert len(first) == len(later) == 7, (first, later)


async def test_the_inbox_page_takes_the_same_few_statements_whatever_the_size(client: Client, many: Seeded) -> None:
    await login(client, "anna")
    few = await statements_of(client, "/?status=any&view=mine")
    full = await statements_of(client, "/")
    # sign-in (3), the tab counts, the list, its contacts, assignees and teams, read marks, last messages
    assert len(few) == len(full) == 10, (few, full)
