"""Inbox row previews name who wrote the last message; the transfer list marks who is not online."""

from __future__ import annotations

import json
import re

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import update

from lines.console.keys import sessions_key
from lines.console.models import AuthorKind, DeliveryStatus, Direction, Message, Operator
from tests.conftest import Staff
from tests.test_views import ingest, login

Client = TestClient[web.Request, web.Application]


async def add_message(client: Client, conversation_id: int, kind: AuthorKind, name: str, text: str) -> None:
    direction = Direction.IN if kind == AuthorKind.CONTACT else Direction.OUT
    async with client.app[sessions_key]() as session, session.begin():
        session.add(
            Message(
                conversation_id=conversation_id,
                channel_key="webchat:demo",
                direction=direction,
                author_kind=kind,
                author_name=name,
                text=text,
                delivery_status=DeliveryStatus.SENT,
                extra={},
            )
        )


def row_html(html: str, conversation_id: int) -> str:
    row = re.search(rf'<li class="conv-row[^"]*"[^>]*data-id="{conversation_id}".*?</li>', html, re.S)
    assert row, html
    return row.group(0)


def page_preview(html: str, conversation_id: int) -> dict[str, object]:
    data = json.loads(re.search(r'<script[^>]*id="lines-data"[^>]*>(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    return next(c["preview"] for c in data["conversations"] if c["id"] == conversation_id)


@pytest.mark.parametrize(
    ("kind", "name", "english", "russian"),
    [
        (AuthorKind.CONTACT, "Vera", "Customer:", "Клиент:"),
        (AuthorKind.BOT, "Helper", "Bot:", "Бот:"),
        (AuthorKind.OPERATOR, "Anna Ivanova", "Anna Ivanova:", "Anna Ivanova:"),
    ],
)
async def test_a_row_labels_the_last_message_with_its_author(
    client: Client, staff: Staff, kind: AuthorKind, name: str, english: str, russian: str
) -> None:
    conversation_id = await ingest(client, "m-1", name="Vera", text="Where is my order?")
    await add_message(client, conversation_id, kind, name, "The last word")
    await login(client, "anna")
    for lang, label in (("en", english), ("ru", russian)):
        html = await (await client.get("/?view=all", headers={"Accept-Language": lang})).text()
        row = row_html(html, conversation_id)
        assert re.search(rf'data-testid="preview-author">{re.escape(label)}</span> The last word', row), row
        assert page_preview(html, conversation_id) == {
            "text": "The last word",
            "direction": "in" if kind == AuthorKind.CONTACT else "out",
            "author_kind": str(kind),
            "author_name": name,
        }


async def test_a_system_line_is_previewed_without_a_label(client: Client, staff: Staff) -> None:
    conversation_id = await ingest(client, "m-1", name="Vera", text="Hello")
    await add_message(client, conversation_id, AuthorKind.SYSTEM, "", "Sent automatically")
    await login(client, "anna")
    row = row_html(await (await client.get("/?view=all")).text(), conversation_id)
    assert "Sent automatically" in row
    assert "preview-author" not in row


async def test_the_transfer_list_includes_offline_colleagues_marked_as_such(client: Client, staff: Staff) -> None:
    async with client.app[sessions_key]() as session, session.begin():
        await session.execute(update(Operator).where(Operator.login == "lead").values(presence="online"))
        await session.execute(update(Operator).where(Operator.login == "anna").values(presence="away"))
    conversation_id = await ingest(client, "m-1", name="Vera", text="Hello")
    await login(client, "lead")
    for lang, offline, away in (("en", "Offline", "Away"), ("ru", "Не в сети", "Отошёл")):
        html = await (await client.get(f"/conversations/{conversation_id}", headers={"Accept-Language": lang})).text()
        options = dict(re.findall(r'data-presence="\w+">([^<·]+?) ·[^<]*?· ([^<]+)</option>', html))
        assert options["Boris Petrov"] == offline
        assert options["Anna Ivanova"] == away
        assert re.search(r'data-presence="online">Lena Lead · [^<·]+</option>', html)
