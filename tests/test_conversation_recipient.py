"""After contact B is merged into contact A, every message of A's conversation (an operator's reply,
the survey after resolving it) reaches A's own identity on the channel, and B's gets nothing: through
the real widget WebSocket, the Telegram Bot API stand-in, the Twilio stand-in and the SMTP sink."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from lines.channels.email.adapter import EmailChannel
from lines.console.app import create_app
from lines.console.keys import channels_key, events_key, sessions_key
from lines.console.models import ContactIdentity, Conversation
from tests.api.helpers import auth_headers, eventually
from tests.channels.email.conftest import compose
from tests.channels.email.servers import Sink
from tests.channels.sms.conftest import twilio_gateway
from tests.channels.sms.kannel import free_port
from tests.channels.sms.twilio_standin import TwilioStandIn
from tests.channels.telegram import updates
from tests.channels.telegram.botapi import BotApi
from tests.channels.telegram.conftest import SECRET, WEBHOOK, bot_config
from tests.channels.webchat.conftest import hello, nothing_more, receive
from tests.channels.webchat.conftest import say as widget_says
from tests.conftest import Database, make_settings, seed_staff

Client = TestClient[web.Request, web.Application]
SUPPORT = "support@lines.test"


@pytest.fixture
async def botapi(aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]) -> BotApi:
    api = BotApi()
    server = await aiohttp_server(api.app())
    api.base_url = str(server.make_url("/bot"))  # type: ignore[attr-defined]
    return api


@pytest.fixture
async def twilio(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> TwilioStandIn:
    standin = TwilioStandIn()
    server = await aiohttp_server(standin.app())
    standin.url = str(server.make_url("")).rstrip("/")
    return standin


@pytest.fixture
async def client(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    botapi: BotApi,
    twilio: TwilioStandIn,
    sink: Sink,
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> Client:
    """One app with a widget site, a Telegram bot, a Twilio number and a mailbox (SMTP only); CSAT on."""
    port = free_port()
    mailbox = {
        "name": "support",
        "address": SUPPORT,
        "imap_host": "",
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,  # type: ignore[attr-defined]
        "smtp_tls": "none",
        "team": "support",
    }
    settings = make_settings(
        tmp_path,
        database,
        server={"secret_key": "test-secret-key-0123456789", "public_url": f"http://127.0.0.1:{port}"},
        customers={"survey": "csat"},
        channels={
            "webchat": [{"site_key": "demo", "origins": ["*"], "team": "support"}],
            "telegram": [bot_config(botapi)],
            "sms": [twilio_gateway(twilio)],
            "email": [mailbox],
        },
    )
    made = await aiohttp_client(TestServer(create_app(settings), host="127.0.0.1", port=port))
    await seed_staff(made.app, password_hash)
    return made


async def merge_and_answer(client: Client, kept: int, other: int, conversation_id: int) -> None:
    """Merge contact `other` into `kept`, then reply in `conversation_id` and resolve it (the survey)."""
    headers = await auth_headers(client, "admin")
    merged = await client.post(f"/api/v1/contacts/{kept}/merge", json={"other_id": other}, headers=headers)
    assert merged.status == 200, await merged.text()
    replied = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages", json={"text": "Your answer"}, headers=headers
    )
    assert replied.status in (200, 201), await replied.text()
    resolved = await client.post(
        f"/api/v1/conversations/{conversation_id}/status", json={"status": "resolved"}, headers=headers
    )
    assert resolved.status == 200, await resolved.text()


async def contact_of(client: Client, conversation_id: int) -> int:
    async with client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.contact_id


async def latest_conversation(client: Client, channel: str, external_id: str) -> int:
    """The conversation of the identity `external_id` on `channel` (before the merge: one per contact)."""
    async with client.app[sessions_key]() as session:
        found = await session.scalar(
            select(Conversation.id)
            .join(ContactIdentity, ContactIdentity.contact_id == Conversation.contact_id)
            .where(ContactIdentity.channel == channel, ContactIdentity.external_id == external_id)
            .order_by(Conversation.id.desc())
            .limit(1)
        )
    assert found is not None
    return int(found)


async def test_webchat_reply_and_survey_reach_the_conversation_s_own_widget(client: Client) -> None:
    a_ws, _ = await hello(client)
    b_ws, b_welcome = await hello(client)
    first = await widget_says(a_ws, "I am A", str(uuid.uuid4()))
    assert first["type"] == "ack", first
    a_conversation = first["conversation"]
    b_conversation = (await widget_says(b_ws, "I am B", str(uuid.uuid4())))["conversation"]
    # B's contact merged into A's: A's conversation is still answered to A's widget only.
    await merge_and_answer(
        client, await contact_of(client, a_conversation), await contact_of(client, b_conversation), a_conversation
    )
    reply = await receive(a_ws, "message")
    survey = await receive(a_ws, "message")
    assert reply["text"] == "Your answer"
    assert [b["id"] for b in survey["buttons"]][:1] and survey["author"] == "operator"
    await nothing_more(b_ws, wait=1.0)
    # B writing again stays in B's own conversation, and B's widget shows B's history only.
    again = await widget_says(b_ws, "B again", str(uuid.uuid4()))
    assert again["conversation"] == b_conversation
    b_ws2, welcome = await hello(client, visitor=b_welcome["visitor"])
    assert welcome["conversation"] == b_conversation
    assert [m["text"] for m in welcome["history"]] == ["I am B", "B again"]
    for ws in (a_ws, b_ws, b_ws2):
        await ws.close()


async def test_telegram_reply_and_survey_reach_the_conversation_s_own_chat(client: Client, botapi: BotApi) -> None:
    vera = {**updates.USER, "id": 910001}
    petr = {**updates.USER, "id": 910002, "first_name": "Пётр", "username": "petr"}
    for user in (vera, petr):
        response = await client.post(
            WEBHOOK, json=updates.text("hello", user), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert response.status == 200
    a = await latest_conversation(client, "telegram", "910001")
    b = await latest_conversation(client, "telegram", "910002")
    await merge_and_answer(client, await contact_of(client, a), await contact_of(client, b), a)

    async def both_sent() -> bool:
        return len(botapi.calls_of("sendMessage")) >= 2

    await eventually(both_sent)
    await asyncio.sleep(0.3)
    sent = botapi.calls_of("sendMessage")
    assert [int(call["chat_id"]) for call in sent] == [910001, 910001]
    assert "Your answer" in str(sent[0]["text"])


async def test_sms_reply_and_survey_reach_the_conversation_s_own_number(client: Client, twilio: TwilioStandIn) -> None:
    url = str(client.make_url("/channels/sms/twilio/inbound"))
    for phone in ("+79161112233", "+79164445566"):
        status, body = await twilio.inbound(url, phone, "hello")
        assert status == 200, body
    a = await latest_conversation(client, "sms", "+79161112233")
    b = await latest_conversation(client, "sms", "+79164445566")
    await merge_and_answer(client, await contact_of(client, a), await contact_of(client, b), a)

    async def both_sent() -> bool:
        return len(twilio.sent) >= 2

    await eventually(both_sent)
    await asyncio.sleep(0.3)
    assert [sent.to for sent in twilio.sent] == ["+79161112233", "+79161112233"]
    assert twilio.sent[0].body.startswith("Your answer")


async def test_email_reply_and_survey_reach_the_conversation_s_own_address(client: Client, sink: Sink) -> None:
    channel = client.app[channels_key][("email", "support")]
    assert isinstance(channel, EmailChannel)
    for n, sender in enumerate(("ivan@work.example", "ivan@home.example")):
        await channel.ingest_raw(compose(f"Ivan <{sender}>", "Help", "hello", message_id=f"m{n}@x.example"))
    a = await latest_conversation(client, "email", "ivan@work.example")
    b = await latest_conversation(client, "email", "ivan@home.example")
    await merge_and_answer(client, await contact_of(client, a), await contact_of(client, b), a)

    async def both_sent() -> bool:
        return len(sink.messages) >= 2

    await eventually(both_sent)
    await asyncio.sleep(0.3)
    assert [recipients for recipients, _ in sink.messages] == [["ivan@work.example"], ["ivan@work.example"]]


async def test_a_widget_visitor_s_typing_shows_in_their_own_conversation_after_a_merge(client: Client) -> None:
    a_ws, _ = await hello(client)
    b_ws, _ = await hello(client)
    a_conversation = (await widget_says(a_ws, "I am A", str(uuid.uuid4())))["conversation"]
    b_conversation = (await widget_says(b_ws, "I am B", str(uuid.uuid4())))["conversation"]
    headers = await auth_headers(client, "admin")
    kept, other = await contact_of(client, a_conversation), await contact_of(client, b_conversation)
    merged = await client.post(f"/api/v1/contacts/{kept}/merge", json={"other_id": other}, headers=headers)
    assert merged.status == 200
    events = client.app[events_key]
    typing: list[Any] = []
    send = events.send

    async def record(kind: str, data: dict[str, Any], audience: Any) -> None:
        if kind == "conversation.typing":
            typing.append(data["conversation_id"])
        await send(kind, data, audience)

    events.send = record  # type: ignore[method-assign]
    await a_ws.send_json({"type": "typing"})
    await eventually(lambda: _some(typing))
    assert typing == [a_conversation]
    for ws in (a_ws, b_ws):
        await ws.close()


async def _some(items: list[Any]) -> bool:
    return bool(items)
