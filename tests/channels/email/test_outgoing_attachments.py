"""A reply's attachments are read from the file store off the event loop and go out in the mail."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest

from lines.channels.base import ContactInfo, OutboundAttachment, OutboundMessage
from lines.channels.email.adapter import EmailChannel
from lines.channels.email.config import EmailMailbox


class Outbox:
    """Stands in for the SMTP client: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    async def send(self, mail: EmailMessage) -> None:
        self.sent.append(mail)


def _reads_on_a_loop(reads: list[bool], original: object) -> object:
    def read_bytes(self: Path) -> bytes:
        try:
            asyncio.get_running_loop()
            reads.append(True)
        except RuntimeError:
            reads.append(False)
        return original(self)  # type: ignore[operator]

    return read_bytes


async def test_an_attachment_is_read_off_the_event_loop_and_attached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file = tmp_path / "invoice.pdf"
    file.write_bytes(b"%PDF-1.4 invoice")
    mailbox = EmailMailbox(
        name="support", address="support@acme.example", imap_host="imap.acme.example", smtp_host="smtp.acme.example"
    )
    settings = SimpleNamespace(server=SimpleNamespace(secret_key=SimpleNamespace(get_secret_value=lambda: "k" * 20)))
    channel = EmailChannel(mailbox, SimpleNamespace(settings=settings))  # type: ignore[arg-type]
    outbox = Outbox()
    channel._smtp = outbox  # type: ignore[assignment]
    reads: list[bool] = []
    monkeypatch.setattr(Path, "read_bytes", _reads_on_a_loop(reads, Path.read_bytes))
    await channel.deliver(
        OutboundMessage(
            message_id=7,
            conversation_id=3,
            channel="email",
            inbox="support",
            recipient=ContactInfo(external_id="vera@example.org", display="Vera"),
            text="Your invoice",
            author_kind="operator",
            author_name="Anna",
            attachments=(OutboundAttachment("invoice.pdf", "application/pdf", file),),
        )
    )
    assert reads == [False]
    [mail] = outbox.sent
    [part] = mail.iter_attachments()
    assert part.get_filename() == "invoice.pdf" and part.get_content() == b"%PDF-1.4 invoice"
