"""Email bad input, loops and IMAP state, one test per case of docs/reliability.md."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from lines.channels.email.parse import parse_email
from lines.console.keys import sessions_key
from lines.console.models import Attachment, Contact, ContactIdentity, Conversation
from tests.api.helpers import auth_headers, eventually
from tests.channels.email.conftest import SUPPORT, Client, MakeClient, channel_of, compose
from tests.channels.email.servers import Dovecot, Sink
from tests.channels.email.test_threads import answered, inbound
from tests.test_views import login


def mail(headers: bytes, body: bytes = b"body") -> bytes:
    return headers.replace(b"\n", b"\r\n") + b"\r\n\r\n" + body + b"\r\n"


def test_rfc2047_words_split_inside_a_character_join_before_decoding() -> None:
    parsed = parse_email(mail(b"From: a@x.org\nMessage-ID: <s@x>\nSubject: =?utf-8?B?0J/RgNC4?= =?utf-8?B?0LI=?="))
    assert parsed.subject == "Прив"


def test_an_unknown_charset_still_gives_a_message() -> None:
    parsed = parse_email(
        mail(
            b"From: a@x.org\nMessage-ID: <u@x>\nSubject: =?not-supported?Q?caf=E9?=\n"
            b"Content-Type: text/plain; charset=not-supported-encoding",
            b"caf\xe9 ok",
        )
    )
    assert parsed.unreadable is None
    assert parsed.text == "caf\ufffd ok"


def test_raw_8bit_bytes_in_headers_and_a_stray_bad_byte_do_not_break_parsing() -> None:
    parsed = parse_email(
        mail(b"From: \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd <ivan@x.org>\nMessage-ID: <8@x>\nSubject: ok", b"body \xff")
    )
    assert (parsed.sender_name, parsed.text) == ("Иван", "body \ufffd")


def test_a_plain_subject_with_accents_is_left_alone() -> None:
    parsed = parse_email(mail("From: a@x.org\nMessage-ID: <a@x>\nSubject: Café crème =? not encoded".encode()))
    assert parsed.subject == "Café crème =? not encoded"


def test_nul_bytes_are_stripped() -> None:
    parsed = parse_email(mail(b"From: a@x.org\nMessage-ID: <n@x>\nSubject: n\x00ul", b"bo\x00dy\n> quo\x00ted"))
    assert (parsed.subject, parsed.text, parsed.quoted) == ("nul", "body", "> quoted")


def test_a_comma_inside_an_encoded_display_name_is_one_address() -> None:
    parsed = parse_email(mail(b"From: =?utf-8?Q?Doe,_John?= <john@x.org>\nMessage-ID: <c@x>"))
    assert (parsed.sender_name, parsed.sender_address) == ("Doe, John", "john@x.org")


def test_a_crafted_quoted_local_part_is_not_read_as_the_inner_address() -> None:
    parsed = parse_email(mail(b'From: "alice@good.example"@evil.example\nMessage-ID: <c@x>'))
    assert parsed.sender_address != "alice@good.example"
    assert parsed.sender_address.endswith("@evil.example")


def test_iso_2022_jp_is_decoded() -> None:
    raw = mail(
        b"From: a@x.org\nMessage-ID: <j@x>\nContent-Type: text/plain; charset=iso-2022-jp",
        "こんにちは".encode("iso-2022-jp"),
    )
    assert parse_email(raw).text == "こんにちは"


def test_auto_submitted_no_is_a_person() -> None:
    assert parse_email(mail(b"From: a@x.org\nMessage-ID: <h@x>\nAuto-Submitted: no")).auto is None


async def test_mail_without_from_is_still_stored(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.append(*mail_user, mail(b"To: support@lines.test\nSubject: who am I\nMessage-ID: <nofrom@x>", b"anonymous"))
    [message] = await inbound(email_client, 1)
    assert message.text == "anonymous"


async def test_a_date_in_2099_does_not_move_the_message_in_time(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.append(
        *mail_user, mail(b"From: a@x.org\nDate: Thu, 01 Jan 2099 00:00:00 +0000\nMessage-ID: <future@x>", b"hi")
    )
    [message] = await inbound(email_client, 1)
    created = message.created_at if message.created_at.tzinfo else message.created_at.replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)


async def test_a_changed_uidvalidity_rescans_the_folder_without_duplicates(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    channel = channel_of(email_client)
    dovecot.append(
        *mail_user,
        compose("a@x.org", "one", "one", message_id="uv1@x"),
        compose("a@x.org", "two", "two", message_id="uv2@x"),
    )
    await inbound(email_client, 2)
    await channel.stop()
    context = channel._context
    await context.save_state("email", "support", "cursor", {"uidvalidity": 1, "last_uid": 99})
    dovecot.append(*mail_user, compose("a@x.org", "three", "three", message_id="uv3@x"))
    await channel.start()
    stored = await inbound(email_client, 3)
    await asyncio.sleep(0.5)
    assert [m.text for m in await inbound(email_client, 3)] == [m.text for m in stored] == ["one", "two", "three"]


async def test_our_own_mail_coming_back_is_flagged_as_a_loop(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.append(*mail_user, compose(f"Support <{SUPPORT}>", "Re: x", "echo", message_id="echo@x"))
    [message] = await inbound(email_client, 1)
    assert message.automatic == "loop"


async def test_our_acknowledgements_say_they_are_automatic(
    make_email_client: MakeClient, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    client = await make_email_client(auto_ack="Got it, #{{conversation.number}}")
    dovecot.append(*mail_user, compose("ooo@x.org", "Hi", "hi", message_id="ack@x"))
    await inbound(client, 1)

    async def acked() -> bool:
        return len(sink.messages) == 1

    await eventually(acked)
    assert str(sink.messages[0][1]["Auto-Submitted"]) == "auto-replied"


async def test_a_guessed_tag_from_a_stranger_leaves_the_original_customer_untouched(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], sink: Sink
) -> None:
    conversation_id, _ = await answered(email_client, dovecot, mail_user, sink)
    dovecot.append(*mail_user, compose("eve@x.org", f"[#{conversation_id}]", "hijack", message_id="hj@x"))
    _, stranger = await inbound(email_client, 2)
    assert stranger.conversation_id != conversation_id
    async with email_client.app[sessions_key]() as session:
        identities = (await session.scalars(select(ContactIdentity.external_id).order_by(ContactIdentity.id))).all()
    assert identities == ["ivan@example.org", "eve@x.org"]


async def test_a_mail_with_a_broken_boundary_and_one_with_an_empty_message_id_show_their_text(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    corpus = Path(__file__).parent / "corpus"
    dovecot.append(
        *mail_user,
        (corpus / "missing_start_boundary.eml").read_bytes(),
        (corpus / "empty_message_id.eml").read_bytes(),
    )
    broken, no_id = await inbound(email_client, 2)
    assert broken.text == "Добрый день! Посылка так и не пришла, номер заказа 4417."
    assert "StartBoundaryNotFoundDefect" in broken.extra["repaired"]
    assert "unreadable" not in no_id.extra and no_id.text == "My client writes an empty Message-ID."
    async with email_client.app[sessions_key]() as session:
        conversation = await session.get(Conversation, no_id.conversation_id)
        assert conversation is not None
        contact = await session.get(Contact, conversation.contact_id)
        files = (await session.scalars(select(Attachment.filename).where(Attachment.message_id == broken.id))).all()
    assert (conversation.subject, contact and contact.email) == ("Empty id", "petr@example.org")
    assert files == []
    await login(email_client, "admin")
    html = await (await email_client.get(f"/conversations/{broken.conversation_id}")).text()
    assert 'data-testid="email-repaired"' in html
    body = await (await email_client.get(f"/api/v1/conversations/{broken.conversation_id}")).json()
    assert [m["email"]["repaired"] for m in body["messages"]] == [True]


async def test_the_console_shows_machine_mail_flags_and_folds_quoted_text(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    dovecot.append(
        *mail_user,
        compose("ooo@x.org", "Away", "I am away.", message_id="away@x", headers={"Auto-Submitted": "auto-replied"}),
        compose("ivan@x.org", "Re: hi", "New part.\n\nOn Mon, 1 Jan 2026, Anna wrote:\n> old part", message_id="q@x"),
    )
    auto, quoted = await inbound(email_client, 2)
    await login(email_client, "admin")
    html = await (await email_client.get(f"/conversations/{auto.conversation_id}")).text()
    assert 'data-testid="email-auto"' in html
    html = await (await email_client.get(f"/conversations/{quoted.conversation_id}")).text()
    assert "New part." in html
    assert re.search(r'<details class="email-quoted">.*&gt; old part', html, re.S)


async def test_a_message_that_keeps_failing_is_stored_as_unreadable_and_the_rest_flows(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = channel_of(email_client)
    real = channel._inbound

    async def poisoned(parsed: Any, original: Any) -> Any:
        if parsed.message_id == "poison@x":
            raise RuntimeError("a bug this message triggers")
        return await real(parsed, original)

    monkeypatch.setattr(channel, "_inbound", poisoned)
    dovecot.append(
        *mail_user,
        compose("a@x.org", "bad", "poison", message_id="poison@x"),
        compose("a@x.org", "good", "after", message_id="good@x"),
    )
    unreadable, good = await inbound(email_client, 2)
    assert unreadable.extra["unreadable"].startswith("RuntimeError: a bug this message triggers")
    assert good.text == "after"


async def test_attachment_names_are_stored_safe_and_shown_as_the_customer_gave_them(
    email_client: Client, dovecot: Dovecot, mail_user: tuple[str, str]
) -> None:
    long_name = "Договор поставки " * 20 + ".pdf"
    given = ["CON.txt", "lpt1", long_name, "Счёт № 5 <b>&amp; акт.pdf"]
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"], mail["Message-ID"] = "vera@x.org", SUPPORT, "files", "<files@x.org>"
    mail.set_content("see the files")
    for name in given:
        mail.add_attachment(b"%PDF-1.4", maintype="application", subtype="octet-stream", filename=name)
    dovecot.append(*mail_user, mail.as_bytes())
    [message] = await inbound(email_client, 1)
    async with email_client.app[sessions_key]() as session:
        rows = (await session.scalars(select(Attachment).where(Attachment.message_id == message.id))).all()
    stored = {row.display_name: row for row in rows}
    assert sorted(stored) == sorted(given)
    assert (stored["CON.txt"].filename, stored["lpt1"].filename) == ("_CON.txt", "_lpt1")
    assert stored[long_name].filename.endswith(".pdf") and len(stored[long_name].filename.encode()) <= 255
    assert stored["Счёт № 5 <b>&amp; акт.pdf"].filename == "Счёт № 5 _b_&amp; акт.pdf"
    headers = await auth_headers(email_client, "admin")
    detail = await (await email_client.get(f"/api/v1/conversations/{message.conversation_id}", headers=headers)).json()
    assert sorted(a["filename"] for a in detail["messages"][0]["attachments"]) == sorted(given)
    download = await email_client.get(f"/attachments/{stored['CON.txt'].id}/{stored['CON.txt'].token}", headers=headers)
    assert download.headers["Content-Disposition"] == "attachment; filename*=UTF-8''_CON.txt"
    await login(email_client, "admin")
    page = await (await email_client.get(f"/conversations/{message.conversation_id}")).text()
    assert "Счёт № 5 &lt;b&gt;&amp;amp; акт.pdf" in page and "<b>&amp; акт" not in page
