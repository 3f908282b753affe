"""Replies through the outbox to the Bot API stand-in: escaped, split, uploaded, spaced, errors mapped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from lines.channels.base import ContactInfo, OutboundMessage, PermanentDeliveryError
from lines.channels.telegram.adapter import TEXT_LIMIT, escape, split_text
from lines.console.app import create_app
from lines.console.automated import Button, send_automated
from lines.console.keys import events_key, files_key, outbox_key, sessions_key
from lines.console.models import (
    Attachment,
    AuthorKind,
    DeliveryStatus,
    Direction,
    Message,
    OutboxItem,
)
from lines.console.storage import new_token
from tests.api.helpers import auth_headers, eventually
from tests.channels.telegram import updates
from tests.channels.telegram.botapi import BotApi, Failure
from tests.channels.telegram.conftest import (
    BOT,
    Client,
    bot_config,
    channel,
    conversations,
    identities,
    post_update,
)
from tests.conftest import Database, make_settings, seed_staff

CHAT = updates.USER["id"]


async def opened(client: Client) -> int:
    assert await post_update(client, updates.text("hello")) == 200
    [conversation] = await conversations(client)
    return conversation.id


async def reply(client: Client, conversation_id: int, text: str) -> int:
    response = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"text": text, "private": False},
        headers=await auth_headers(client, "anna"),
    )
    assert response.status == 201, await response.text()
    return int((await response.json())["id"])


async def stored(client: Client, message_id: int) -> Message:
    async with client.app[sessions_key]() as session:
        found = await session.get(Message, message_id)
    assert found is not None
    return found


def status_is(client: Client, message_id: int, wanted: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await stored(client, message_id)).delivery_status == wanted

    return check


async def queue_file(client: Client, conversation_id: int, filename: str, content_type: str, data: bytes) -> int:
    """An operator's reply carrying a file, queued as the outbox expects it."""
    saved = await client.app[files_key].save(filename, content_type, data, 10_000_000)
    async with client.app[sessions_key]() as session, session.begin():
        message = Message(
            conversation_id=conversation_id,
            channel_key=f"telegram:{BOT}",
            direction=Direction.OUT,
            author_kind=AuthorKind.OPERATOR,
            author_name="Anna",
            text="",
            delivery_status=DeliveryStatus.QUEUED,
            extra={},
        )
        session.add(message)
        await session.flush()
        session.add(
            Attachment(
                message_id=message.id,
                conversation_id=conversation_id,
                filename=saved.filename,
                content_type=content_type,
                size=saved.size,
                sha256=saved.sha256,
                storage_path=saved.storage_path,
                stored=True,
                token=new_token(),
            )
        )
        session.add(OutboxItem(message_id=message.id, channel="telegram", inbox=BOT))
        message_id = message.id
    client.app[outbox_key].notify()
    return message_id


def test_text_is_escaped_for_html_parse_mode() -> None:
    assert escape("1 < 2 && <b>bold</b> > x") == "1 &lt; 2 &amp;&amp; &lt;b&gt;bold&lt;/b&gt; &gt; x"


def test_long_text_is_split_at_4096_preferring_line_breaks() -> None:
    text = ("а" * 3000 + "\n") * 3
    chunks = split_text(text)
    assert all(len(c) <= TEXT_LIMIT for c in chunks)
    assert "\n".join(chunks) == text
    assert chunks[0] == "а" * 3000


def test_text_without_breaks_is_cut_hard_and_loses_nothing() -> None:
    text = "x" * (TEXT_LIMIT * 2 + 5)
    assert [len(c) for c in split_text(text)] == [TEXT_LIMIT, TEXT_LIMIT, 5]


async def test_an_operator_reply_reaches_telegram_escaped(client: Client, botapi: BotApi) -> None:
    conversation_id = await opened(client)
    message_id = await reply(client, conversation_id, "Цена < 100 & скидка <b>5%</b>")
    await eventually(status_is(client, message_id, "sent"))
    [sent] = botapi.sent
    assert (sent.chat_id, sent.parse_mode, sent.plain) == (CHAT, "HTML", "Цена < 100 & скидка <b>5%</b>")
    assert (await stored(client, message_id)).external_id == f"{CHAT}:{sent.message_id}"


async def test_a_reply_longer_than_4096_goes_as_several_messages(client: Client, botapi: BotApi) -> None:
    conversation_id = await opened(client)
    text = ("Строка & <тег>. " * 300).strip()  # ~4,800 characters, ~5,900 once escaped
    message_id = await reply(client, conversation_id, text)
    await eventually(status_is(client, message_id, "sent"), timeout=10)
    assert len(botapi.sent) == 2
    assert all(len(s.plain) <= TEXT_LIMIT for s in botapi.sent)
    assert " ".join(s.plain for s in botapi.sent) == text


async def test_replies_to_one_chat_are_spaced_a_second_apart(client: Client, botapi: BotApi) -> None:
    conversation_id = await opened(client)
    first = await reply(client, conversation_id, "one")
    second = await reply(client, conversation_id, "two")
    await eventually(status_is(client, second, "sent"), timeout=10)
    assert (await stored(client, first)).delivery_status == "sent"
    one, two = botapi.sent
    assert two.at - one.at >= 0.5  # the per-chat limit of 1/s (a fixed window) held the second one back


async def test_a_photo_goes_by_multipart_upload(client: Client, botapi: BotApi) -> None:
    conversation_id = await opened(client)
    message_id = await queue_file(client, conversation_id, "схема.png", "image/png", b"\x89PNG fake")
    await eventually(status_is(client, message_id, "sent"))
    [sent] = botapi.sent
    assert (sent.method, sent.chat_id, sent.data) == ("sendPhoto", CHAT, b"\x89PNG fake")


async def test_a_document_goes_by_multipart_upload_with_its_name(client: Client, botapi: BotApi) -> None:
    conversation_id = await opened(client)
    message_id = await queue_file(client, conversation_id, "invoice.pdf", "application/pdf", b"%PDF-1.4 x")
    await eventually(status_is(client, message_id, "sent"))
    [sent] = botapi.sent
    assert (sent.method, sent.filename, sent.data) == ("sendDocument", "invoice.pdf", b"%PDF-1.4 x")


async def test_buttons_become_an_inline_keyboard_whose_press_names_the_message(client: Client, botapi: BotApi) -> None:
    conversation_id = await opened(client)
    app = client.app
    message_id = await send_automated(
        app[sessions_key],
        app[events_key],
        app[outbox_key].notify,
        conversation_id,
        "Did we help?",
        author_name="Lines",
        buttons=(Button("yes", "Да"), Button("no", "Нет")),
    )
    await eventually(status_is(client, message_id, "sent"))
    [sent] = botapi.sent
    assert sent.reply_markup == {
        "inline_keyboard": [
            [{"text": "Да", "callback_data": f"{message_id}:yes"}],
            [{"text": "Нет", "callback_data": f"{message_id}:no"}],
        ]
    }
    press = updates.callback(f"{message_id}:no", carrier_message_id=sent.message_id, label="Нет", query_id="q9")
    assert await post_update(client, press) == 200
    async with app[sessions_key]() as session:
        last = await session.get(Message, message_id + 1)
    assert last is not None
    assert (last.text, last.extra["button"]) == ("Нет", {"id": "no", "message_id": message_id})
    assert botapi.answered == ["q9"]


async def test_a_429_is_obeyed_and_the_reply_goes_later(client: Client, botapi: BotApi) -> None:
    conversation_id = await opened(client)
    botapi.fail("sendMessage", Failure(429, "Too Many Requests: retry after 1", retry_after=1))
    message_id = await reply(client, conversation_id, "after the pause")
    await eventually(status_is(client, message_id, "sent"), timeout=10)
    attempts = botapi.calls_of("sendMessage")
    assert len(attempts) == 2
    async with client.app[sessions_key]() as session:
        row = await session.get(OutboxItem, 1)
    assert row is not None and row.attempts == 2


async def test_a_user_who_blocked_the_bot_becomes_unreachable_and_the_reply_fails(
    client: Client, botapi: BotApi
) -> None:
    conversation_id = await opened(client)
    botapi.blocked.add(CHAT)
    message_id = await reply(client, conversation_id, "are you there?")
    await eventually(status_is(client, message_id, "failed"))
    assert "blocked the bot" in ((await stored(client, message_id)).delivery_error or "")
    [identity] = await identities(client)
    assert identity.state == "unreachable"
    assert "blocked" in (identity.state_reason or "")


async def test_markup_telegram_cannot_parse_fails_the_message_without_retries(client: Client, botapi: BotApi) -> None:
    conversation_id = await opened(client)
    botapi.fail("sendMessage", Failure(400, "Bad Request: can't parse entities: Unsupported start tag"))
    message_id = await reply(client, conversation_id, "whatever")
    await eventually(status_is(client, message_id, "failed"))
    assert len(botapi.calls_of("sendMessage")) == 1


async def test_a_network_failure_is_retried(client: Client, botapi: BotApi) -> None:
    conversation_id = await opened(client)
    botapi.fail("sendMessage", Failure(502, "Bad Gateway"))
    message_id = await reply(client, conversation_id, "through the outage")
    await eventually(status_is(client, message_id, "sent"), timeout=10)
    assert len(botapi.calls_of("sendMessage")) == 2


async def test_resolve_recipient_finds_a_user_who_wrote_to_the_bot(client: Client, botapi: BotApi) -> None:
    botapi.chats[CHAT] = {
        "id": CHAT,
        "type": "private",
        "first_name": "Вера",
        "last_name": "Иванова",
        "username": "vera_i",
    }
    found = await channel(client).resolve_recipient(str(CHAT))
    assert (found.external_id, found.name, found.display) == (str(CHAT), "Вера Иванова", "@vera_i")


@pytest.mark.parametrize("address", ["424242", "@someone"])
async def test_resolve_recipient_refuses_chats_the_bot_cannot_write_to(
    client: Client, botapi: BotApi, address: str
) -> None:
    with pytest.raises(ValueError):
        await channel(client).resolve_recipient(address)


async def test_a_button_id_too_long_for_callback_data_fails_permanently(client: Client) -> None:
    message = OutboundMessage(
        message_id=1,
        conversation_id=1,
        channel="telegram",
        inbox=BOT,
        recipient=ContactInfo(external_id=str(CHAT)),
        text="pick",
        author_kind="bot",
        author_name="Lines",
        extra={"buttons": [{"id": "x" * 80, "label": "X"}]},
    )
    with pytest.raises(PermanentDeliveryError):
        await channel(client).deliver(message)


async def test_a_signature_goes_below_the_reply_escaped_like_it(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    botapi: BotApi,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    settings = make_settings(
        tmp_path,
        database,
        channels={"telegram": [bot_config(botapi)]},
        customers={"signature_channels": ["telegram"]},
    )
    client = await aiohttp_client(create_app(settings))
    await seed_staff(client.app, password_hash)
    signed = await client.put(
        "/api/v1/signatures/mine",
        json={"text": "<b>{{operator.name}}</b> & co"},
        headers=await auth_headers(client, "anna"),
    )
    assert signed.status == 200
    conversation_id = await opened(client)
    message_id = await reply(client, conversation_id, "Hello")
    await eventually(status_is(client, message_id, "sent"))
    [sent] = botapi.sent
    assert (sent.parse_mode, sent.plain) == ("HTML", "Hello\n\n<b>Anna Ivanova</b> & co")
    assert (await stored(client, message_id)).text == "Hello"  # the history keeps the reply as written
