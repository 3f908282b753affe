"""The bot, the widget and routing agree about who is there: one notion of "open" (business hours
and whether anybody who could take the conversation is online), driven through the widget."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from babel.dates import format_datetime
from sqlalchemy import select

from lines.bots.models import BotQuery
from lines.console.app import create_app
from lines.console.keys import sessions_key
from lines.console.models import AuthorKind, Direction, Message
from tests.api.helpers import eventually
from tests.channels.webchat.conftest import DEMO_SITE, SHOP_SITE, WS, Client, hello, receive, say
from tests.conftest import ALWAYS_OPEN_SLA, Database, Staff, make_settings, seed_staff
from tests.routing.helpers import RULES, assignee_of, presence, publish

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MOSCOW = "Europe/Moscow"


def next_opening() -> datetime:
    """09:00 UTC two days from now: the only office hours of the week-end calendar below."""
    day = (datetime.now(UTC) + timedelta(days=2)).date()
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)


def week_end_calendar(path: Path) -> Path:
    """A calendar closed now (a "week-end") and open only on the weekday after tomorrow, 09:00-18:00 UTC."""
    day = DAYS[next_opening().weekday()]
    document = {
        "calendars": [{"id": "office", "timezone": "UTC", "week": {day: ["09:00-18:00"]}}],
        "policies": [{"id": "default", "applies_to": {}, "calendar": "office", "first_response_seconds": 3600}],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


StartApp = Callable[[bool], Awaitable[tuple[Client, Staff]]]


@pytest.fixture
def start(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> StartApp:
    """The app on a week-end (`True`) or within office hours (`False`); the demo site in Moscow time,
    the routing rules published and nobody online yet."""

    async def factory(week_end: bool) -> tuple[Client, Staff]:
        policies = week_end_calendar(tmp_path / "sla.json") if week_end else ALWAYS_OPEN_SLA
        settings = make_settings(
            tmp_path,
            database,
            sla={"policies_file": str(policies)},
            channels={"webchat": [{**DEMO_SITE, "time_zone": MOSCOW}, SHOP_SITE]},
        )
        client = await aiohttp_client(create_app(settings))
        staff = await seed_staff(client.app, password_hash)
        assert (await publish(client, RULES)).status == 200
        return client, staff

    return factory


async def write(client: Client, text: str) -> tuple[WS, dict[str, Any], int]:
    """A visitor opens the widget and writes `text`: the socket, its welcome and the conversation id."""
    ws, welcome = await hello(client)
    ack = await say(ws, text, str(uuid.uuid4()))
    return ws, welcome, int(ack["conversation"])


async def notice(ws: WS) -> str:
    """The next message from Lines (not the visitor's own) on the widget."""
    while True:
        frame = await receive(ws, "message", timeout=20)
        if frame["author"] != "contact":
            return str(frame["text"])


async def handled_by_bot(client: Client, conversation_id: int) -> None:
    async def queried() -> bool:
        async with client.app[sessions_key]() as session:
            found = await session.scalar(select(BotQuery.id).where(BotQuery.conversation_id == conversation_id))
            return found is not None

    await eventually(queried)


async def system_texts(client: Client, conversation_id: int) -> list[str]:
    async with client.app[sessions_key]() as session:
        rows = await session.scalars(
            select(Message.text).where(
                Message.conversation_id == conversation_id,
                Message.direction == Direction.OUT,
                Message.author_kind == AuthorKind.SYSTEM,
            )
        )
        return list(rows)


async def test_on_a_week_end_with_an_operator_online_the_chat_is_open(start: StartApp) -> None:
    client, staff = await start(True)
    await presence(client, "anna", "online")
    ws, welcome, conversation_id = await write(client, "Где мой заказ 1042?")
    await eventually(lambda: _assigned(client, conversation_id))
    assert await assignee_of(client, conversation_id) == staff.anna
    await handled_by_bot(client, conversation_id)
    assert await system_texts(client, conversation_id) == []  # no "operators are away"
    assert welcome["availability"]["open"] is True
    await ws.close()


async def test_on_a_week_end_with_nobody_online_the_customer_is_told_when_in_local_time_and_language(
    start: StartApp,
) -> None:
    client, _ = await start(True)
    ws, welcome, conversation_id = await write(client, "Где мой заказ 1042?")
    availability = welcome["availability"]
    assert availability["open"] is False and availability["time_zone"] == MOSCOW
    assert datetime.fromisoformat(availability["back_at"]) == next_opening()
    text = await notice(ws)
    local = format_datetime(next_opening(), "EEEE d MMMM, HH:mm", tzinfo=MOSCOW, locale="ru")
    assert "12:00" in local  # 09:00 UTC is noon in Moscow
    assert text == f"Сейчас операторы не работают; они вернутся {local} и ответят здесь же."
    assert "UTC" not in text
    assert await assignee_of(client, conversation_id) is None
    await ws.close()


async def test_an_english_speaking_customer_gets_the_time_in_english(start: StartApp) -> None:
    client, _ = await start(True)
    ws, _, _ = await write(client, "Where is my order 1042, please?")
    local = format_datetime(next_opening(), "EEEE d MMMM, HH:mm", tzinfo=MOSCOW, locale="en")
    assert await notice(ws) == f"Our operators are away now; they are back {local} and will answer here."
    await ws.close()


async def test_in_office_hours_with_nobody_online_the_customer_waits_without_an_away_notice(start: StartApp) -> None:
    client, _ = await start(False)
    ws, welcome, conversation_id = await write(client, "Где мой заказ 1042?")
    assert welcome["availability"] == {"open": True, "back_at": None, "time_zone": MOSCOW}
    await handled_by_bot(client, conversation_id)
    assert await system_texts(client, conversation_id) == []
    assert await assignee_of(client, conversation_id) is None  # it waits in the queue
    await ws.close()


async def test_the_widget_header_follows_presence_on_the_next_hello(start: StartApp) -> None:
    client, _ = await start(True)
    ws, welcome = await hello(client)
    assert welcome["availability"]["open"] is False
    await ws.close()
    await presence(client, "anna", "online")
    ws, welcome = await hello(client, visitor=welcome["visitor"])
    assert welcome["availability"] == {"open": True, "back_at": None, "time_zone": MOSCOW}
    await ws.close()


async def _assigned(client: Client, conversation_id: int) -> bool:
    return await assignee_of(client, conversation_id) is not None
