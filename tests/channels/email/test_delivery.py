"""Machine mail, auto-acknowledgements, SMTP failures and the corpus end to end (Dovecot + SMTP sink)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from lines.console.keys import sessions_key
from lines.console.models import Attachment, ContactIdentity, Message
from tests.api.helpers import eventually
from tests.channels.email.conftest import Client, MakeClient, compose
from tests.channels.email.servers import Dovecot, Sink
from tests.channels.email.test_threads import answered, inbound, sent
from tests.channels.webchat.conftest import reply

CORPUS = Path(__file__).parent / "corpus"
ACK = "Hello {{contact.name}}, your request #{{conversation.number}} is registered."


async def outbound(client: Client) -> list[Message]:
    async with client.app[sessions_key]() as session:
        return list(
            (await session.scalars(select(Message).where(Message.direction == "out").order_by(Message.id))).all()
        )


async def test_every_corpus_email_is_stored_and_none_blocks_the_mailbox(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    files = sorted(CORPUS.glob("*.eml"))
    dovecot.append(
        *mail_user,
        *(f.read_bytes() for f in files),
        compose("last@example.org", "Hi", "the last one", message_id="last@example.org"),
    )
    stored = await inbound(email_client, len(files) + 1)
    assert stored[-1].text == "the last one"


async def test_stored_html_is_sanitised(email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]) -> None:
    dovecot.append(*mail_user, (CORPUS / "html_with_script.eml").read_bytes())
    [message] = await inbound(email_client, 1)
    assert message.html is not None and "Hello" in message.html
    for bad in ("<script", "onclick", "onerror", "javascript:"):
        assert bad not in message.html


async def test_attachments_are_stored_and_a_too_large_one_is_recorded_but_not_kept(
    make_email_client: MakeClient, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    client = await make_email_client(settings_extra={"storage": {"max_attachment_bytes": 1024}})
    big = compose("a@example.org", "files", "see attached", message_id="big@example.org").replace(
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nsee attached",
        b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n--M\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n'
        b'--M\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="big.pdf"\r\n\r\n'
        + b"x" * 5000
        + b"\r\n--M\r\nContent-Type: text/plain\r\n"
        + b'Content-Disposition: attachment; filename="small.txt"\r\n\r\nsmall\r\n--M--\r\n',
    )
    dovecot.append(*mail_user, big)
    [message] = await inbound(client, 1)
    async with client.app[sessions_key]() as session:
        files = (
            await session.scalars(select(Attachment).where(Attachment.message_id == message.id).order_by(Attachment.id))
        ).all()
    assert [(f.filename, f.stored) for f in files] == [("big.pdf", False), ("small.txt", True)]
    assert message.extra["too_large"] == ["big.pdf"]


async def test_a_bounce_of_our_reply_marks_that_reply_failed(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    _, mail = await answered(email_client, dovecot, mail_user, sink)
    dsn = (
        (CORPUS / "bounce_dsn.eml")
        .read_bytes()
        .replace(b"<lines.7.9.0123456789abcdef@lines.test>", str(mail["Message-ID"]).encode())
    )
    dovecot.append(*mail_user, dsn)

    async def failed() -> bool:
        [ours] = await outbound(email_client)
        return ours.delivery_status == "failed"

    await eventually(failed)
    [ours] = await outbound(email_client)
    assert ours.delivery_error is not None and "550 5.1.1" in ours.delivery_error
    [_, bounce] = await inbound(email_client, 2)
    assert bounce.automatic == "bounce"


async def test_a_bounce_for_an_unknown_address_makes_the_customer_unreachable(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    _, mail = await answered(email_client, dovecot, mail_user, sink)
    dsn = (
        (CORPUS / "bounce_dsn.eml")
        .read_bytes()
        .replace(b"<lines.7.9.0123456789abcdef@lines.test>", str(mail["Message-ID"]).encode())
        .replace(b"gone@example.org", b"ivan@example.org")
    )
    dovecot.append(*mail_user, dsn)

    async def unreachable() -> bool:
        async with email_client.app[sessions_key]() as session:
            state = await session.scalar(
                select(ContactIdentity.state).where(ContactIdentity.external_id == "ivan@example.org")
            )
        return state == "unreachable"

    await eventually(unreachable)


async def test_a_new_conversation_is_acknowledged_with_the_template(
    make_email_client: MakeClient, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    client = await make_email_client(auto_ack=ACK)
    dovecot.append(
        *mail_user, compose("Ivan Petrov <ivan@example.org>", "Help", "help me", message_id="ack1@example.org")
    )
    [message] = await inbound(client, 1)
    [(recipients, mail)] = await sent(sink, 1)
    assert recipients == ["ivan@example.org"]
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"Hello Ivan Petrov, your request #{message.conversation_id} is registered." in body
    assert str(mail["Auto-Submitted"]) == "auto-replied"
    assert str(mail["In-Reply-To"]) == "<ack1@example.org>"


async def test_auto_replies_bounces_and_bulk_mail_are_never_acknowledged(
    make_email_client: MakeClient, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    client = await make_email_client(auto_ack=ACK)
    machine = [(CORPUS / n).read_bytes() for n in ("auto_reply.eml", "bounce_dsn.eml", "list_bulk.eml")]
    dovecot.append(*mail_user, *machine)
    stored = await inbound(client, 3)
    assert [m.automatic for m in stored] == ["auto_reply", "bounce", "bulk"]
    await asyncio.sleep(0.5)
    assert sink.messages == []


async def test_a_permanent_smtp_refusal_marks_the_reply_failed(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    sink.refuse = (550, "5.7.1 relaying denied")
    dovecot.append(*mail_user, compose("ivan@example.org", "Hi", "hello", message_id="p1@example.org"))
    [first] = await inbound(email_client, 1)
    await reply(email_client, email_client.staff, first.conversation_id, "Answer")  # type: ignore[attr-defined]

    async def failed() -> bool:
        [ours] = await outbound(email_client)
        return ours.delivery_status == "failed"

    await eventually(failed)
    [ours] = await outbound(email_client)
    assert ours.delivery_error is not None and "550" in ours.delivery_error


async def test_a_temporary_smtp_refusal_is_retried_until_it_goes_out(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    sink.refuse = (451, "4.3.0 try again later")
    dovecot.append(*mail_user, compose("ivan@example.org", "Hi", "hello", message_id="t1@example.org"))
    [first] = await inbound(email_client, 1)
    await reply(email_client, email_client.staff, first.conversation_id, "Answer")  # type: ignore[attr-defined]
    await asyncio.sleep(0.5)
    [ours] = await outbound(email_client)
    assert ours.delivery_status != "sent"
    sink.refuse = None
    await sent(sink, 1)

    async def delivered() -> bool:
        [ours] = await outbound(email_client)
        return ours.delivery_status == "sent"

    await eventually(delivered)
