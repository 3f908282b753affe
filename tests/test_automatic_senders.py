"""Nothing automatic is ever sent to a machine: each automatic sender (auto-acknowledgement, a bot
answer, the bot's away notice, the survey, the queue-position notice) against each kind of machine
mail the email adapter recognises, through the real parser and the SMTP sink. A person's mail is the
control: it gets the message, so the negative checks can fail."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from lines.bots.kb import load_dir
from lines.bots.store import import_articles
from lines.channels.email.adapter import EmailChannel
from lines.console.app import create_app
from lines.console.availability import Openness
from lines.console.changes import ChangeJob
from lines.console.keys import availability_key, channels_key, processors_key, sessions_key
from lines.console.models import Direction, Message
from tests.api.helpers import auth_headers, eventually
from tests.channels.email.conftest import compose
from tests.channels.email.servers import Sink
from tests.conftest import Database, make_settings, seed_staff
from tests.routing.helpers import RULES, publish

Client = TestClient[web.Request, web.Application]
SUPPORT = "support@lines.test"
KB = Path(__file__).resolve().parents[1] / "config" / "kb"

# From, extra headers and the `messages.automatic` the adapter stores; None: a person.
MAIL: dict[str, tuple[str, dict[str, str], str | None]] = {
    "person": ("Ivan <ivan@x.example>", {}, None),
    "x_autoreply": ("Ivan <ivan@x.example>", {"X-Autoreply": "yes"}, "auto_reply"),
    "auto_submitted": ("Ivan <ivan@x.example>", {"Auto-Submitted": "auto-replied"}, "auto_reply"),
    "bulk": ("News <news@x.example>", {"Precedence": "bulk"}, "bulk"),
    "list": ("List <list@x.example>", {"List-Id": "<talk.x.example>"}, "list"),
    "bounce": ("Mail Delivery <MAILER-DAEMON@x.example>", {}, "bounce"),
    "noreply": ("Shop <no-reply@x.example>", {}, "noreply"),
    "loop": (f"Support <{SUPPORT}>", {}, "loop"),
}
MACHINES = [kind for kind in MAIL if kind != "person"]
SENDERS = ["auto_ack", "bot_answer", "away_notice", "survey", "queue_notice"]
QUESTION = "как вернуть товар"  # the packaged KB answers it


async def closed(channel: str, inbox: str, team: Any, at: datetime) -> Openness:
    """Lines is not open: business hours over and nobody online (the bot's away notice)."""
    return Openness(open=False)


def settings_for(sender: str) -> dict[str, Any]:
    bot = sender in ("bot_answer", "away_notice")
    return {
        "bot": {"enabled": bot},
        "customers": {
            "survey": "csat" if sender == "survey" else "off",
            "auto_ack": {"email": "Got it, #{{conversation.number}}"} if sender == "auto_ack" else {},
        },
    }


@pytest.fixture
def make_client(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    sink: Sink,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> Callable[[str], Awaitable[Client]]:
    async def factory(sender: str) -> Client:
        mailbox = {
            "name": "support",
            "address": SUPPORT,
            "imap_host": "",
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port,  # type: ignore[attr-defined]
            "smtp_tls": "none",
            "team": "support",
        }
        settings = make_settings(tmp_path, database, channels={"email": [mailbox]}, **settings_for(sender))
        client = await aiohttp_client(create_app(settings))
        await seed_staff(client.app, password_hash)
        if sender in ("bot_answer", "away_notice"):
            await import_articles(client.app[sessions_key], load_dir(KB))
        if sender == "away_notice":
            client.app[availability_key].open_for = closed  # type: ignore[method-assign]
        if sender == "queue_notice":
            response = await publish(client, {**RULES, "queue_notice": {"enabled": True}})
            assert response.status == 200, await response.text()
        return client

    return factory


async def outbound(client: Client, conversation_id: int) -> list[Message]:
    async with client.app[sessions_key]() as session:
        rows = await session.scalars(
            select(Message).where(Message.conversation_id == conversation_id, Message.direction == Direction.OUT)
        )
        return list(rows)


async def trigger(client: Client, sender: str, kind: str) -> tuple[int, Message]:
    """Mail of `kind` arrives, and what makes `sender` speak happens; returns once every processor
    has handled the resulting change jobs."""
    handled: list[ChangeJob] = []

    async def record(job: ChangeJob) -> None:
        handled.append(job)

    client.app[processors_key].append(record)  # runs after every part's processor
    address, headers, _ = MAIL[kind]
    text = QUESTION if sender == "bot_answer" else "Hello, a question about my order 7731"
    channel = client.app[channels_key][("email", "support")]
    assert isinstance(channel, EmailChannel)
    message_id = await channel.ingest_raw(
        compose(address, "Order", text, message_id=f"{uuid.uuid4().hex}@x.example", headers=headers)
    )
    async with client.app[sessions_key]() as session:
        message = await session.get(Message, message_id)
    assert message is not None
    conversation_id = message.conversation_id

    async def seen(job_kind: str) -> bool:
        return any(j.kind == job_kind and getattr(j, "conversation_id", None) == conversation_id for j in handled)

    await eventually(lambda: seen("inbound"))
    if sender == "survey":
        response = await client.post(
            f"/api/v1/conversations/{conversation_id}/status",
            json={"status": "resolved"},
            headers=await auth_headers(client, "admin"),
        )
        assert response.status == 200, await response.text()
        await eventually(lambda: seen("status"))
    return conversation_id, message


@pytest.mark.parametrize("sender", SENDERS)
async def test_a_person_gets_each_automatic_message(
    make_client: Callable[[str], Awaitable[Client]], sink: Sink, sender: str
) -> None:
    client = await make_client(sender)
    conversation_id, message = await trigger(client, sender, "person")
    assert message.automatic is None
    assert len(await outbound(client, conversation_id)) == 1

    async def delivered() -> bool:
        return len(sink.messages) == 1

    await eventually(delivered)
    assert sink.messages[0][0] == ["ivan@x.example"]


@pytest.mark.parametrize("kind", MACHINES)
@pytest.mark.parametrize("sender", SENDERS)
async def test_no_automatic_message_goes_to_a_machine(
    make_client: Callable[[str], Awaitable[Client]], sink: Sink, sender: str, kind: str
) -> None:
    client = await make_client(sender)
    conversation_id, message = await trigger(client, sender, kind)
    assert message.automatic == MAIL[kind][2]
    assert await outbound(client, conversation_id) == []
    await asyncio.sleep(0.2)  # the outbox polls every 0.05 s: anything queued would be out by now
    assert sink.messages == []
