"""IMAP in, against a real Dovecot: mail appears, once, in every charset, and the cursor holds."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from lines.console.keys import sessions_key
from lines.console.models import Conversation, Message
from tests.api.helpers import eventually
from tests.channels.email.conftest import Client, MakeClient, channel_of, compose
from tests.channels.email.servers import Dovecot


async def messages(client: Client) -> list[Message]:
    async with client.app[sessions_key]() as session:
        return list((await session.scalars(select(Message).order_by(Message.id))).all())


async def count_inbound(client: Client) -> int:
    async with client.app[sessions_key]() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) or 0
        )


async def test_mail_sent_to_the_mailbox_appears_as_a_conversation(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.append(
        *mail_user,
        compose("Ivan Petrov <ivan@example.org>", "Order 42", "Where is my order?", message_id="a1@example.org"),
    )

    async def arrived() -> bool:
        return await count_inbound(email_client) == 1

    await eventually(arrived)
    [message] = await messages(email_client)
    assert message.text == "Where is my order?"
    assert message.external_id == "a1@example.org"
    async with email_client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, message.conversation_id)
    assert conversation is not None
    assert (conversation.channel, conversation.inbox, conversation.subject) == ("email", "support", "Order 42")


async def test_text_is_correct_in_koi8_r_windows_1251_and_utf_8(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    text = "Здравствуйте! Не приходит счёт, ёлки-палки."
    raws = [
        compose(f"c{i}@example.org", "Счёт", text, message_id=f"cs{i}@example.org", charset=charset)
        for i, charset in enumerate(["koi8-r", "windows-1251", "utf-8"])
    ]
    dovecot.append(*mail_user, *raws)

    async def arrived() -> bool:
        return await count_inbound(email_client) == 3

    await eventually(arrived)
    assert [m.text for m in await messages(email_client)] == [text] * 3


async def test_each_message_is_marked_seen_after_it_is_stored(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.append(*mail_user, compose("a@example.org", "Hi", "one", message_id="s1@example.org"))

    async def seen() -> bool:
        return any(b"\\Seen" in flags for flags in dovecot.flags(*mail_user).values())

    await eventually(seen)
    assert await count_inbound(email_client) == 1


async def test_after_fetch_move_puts_stored_mail_in_the_folder(
    make_email_client: MakeClient, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.create_folder(*mail_user, "Done")
    client = await make_email_client(after_fetch="move:Done")
    dovecot.append(*mail_user, compose("a@example.org", "Hi", "move me", message_id="m1@example.org"))

    async def moved() -> bool:
        return len(dovecot.flags(*mail_user, folder="Done")) == 1 and not dovecot.flags(*mail_user)

    await eventually(moved)
    assert await count_inbound(client) == 1


async def test_a_restarted_mailbox_fetches_only_new_mail(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    channel = channel_of(email_client)
    dovecot.append(*mail_user, compose("a@example.org", "Hi", "first", message_id="r1@example.org"))

    async def first() -> bool:
        return await count_inbound(email_client) == 1

    await eventually(first)
    await channel.stop()
    dovecot.append(*mail_user, compose("a@example.org", "Hi", "second", message_id="r2@example.org"))
    await channel.start()

    async def second() -> bool:
        return await count_inbound(email_client) == 2

    await eventually(second)
    await asyncio.sleep(0.5)
    assert [m.text for m in await messages(email_client)] == ["first", "second"]


async def test_the_same_message_id_twice_is_stored_once(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    raw = compose("a@example.org", "Hi", "dup", message_id="d1@example.org")
    dovecot.append(*mail_user, raw, raw, compose("a@example.org", "Hi", "after", message_id="d2@example.org"))

    async def both() -> bool:
        return await count_inbound(email_client) == 2

    await eventually(both)
    await asyncio.sleep(0.3)
    assert [m.text for m in await messages(email_client)] == ["dup", "after"]


async def test_the_adapter_reconnects_when_dovecot_restarts_during_idle(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    channel = channel_of(email_client)
    dovecot.append(*mail_user, compose("a@example.org", "Hi", "before", message_id="i1@example.org"))

    async def first() -> bool:
        return await count_inbound(email_client) == 1

    await eventually(first)
    await asyncio.sleep(0.3)  # now waiting in IDLE
    await asyncio.to_thread(dovecot.restart)
    dovecot.append(*mail_user, compose("a@example.org", "Hi", "after restart", message_id="i2@example.org"))

    async def second() -> bool:
        return await count_inbound(email_client) == 2

    await eventually(second)
    assert channel.connected.is_set()
    assert [m.text for m in await messages(email_client)][-1] == "after restart"
