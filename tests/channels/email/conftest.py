"""Email fixtures: a private Dovecot per test session, an SMTP sink per test, an app per mailbox."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.header import Header
from pathlib import Path
from typing import Any, TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from lines.channels.email.adapter import EmailChannel
from lines.console.app import create_app
from lines.console.keys import channels_key
from tests.channels.email.servers import Dovecot, Sink, make_certificate
from tests.conftest import Database, make_settings, need, seed_staff

Client: TypeAlias = TestClient[web.Request, web.Application]
SUPPORT = "support@lines.test"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Under a world-readable temp dir: Dovecot's auth process (user dovecot) reads the users file."""
    need("LINES_TEST_DOVECOT", "Dovecot (IMAP)")
    work = Path(tempfile.mkdtemp(prefix="lines-dovecot-"))
    work.chmod(0o755)
    server = Dovecot(work)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def tls_dovecot() -> Iterator[Dovecot]:
    """A second Dovecot with `ssl = yes` and a self-signed certificate: STARTTLS on its plain port."""
    need("LINES_TEST_DOVECOT", "Dovecot (IMAP)")
    work = Path(tempfile.mkdtemp(prefix="lines-dovecot-tls-"))
    work.chmod(0o755)
    server = Dovecot(work, tls=make_certificate(work))
    server.start()
    yield server
    server.stop()
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def mail_user(dovecot: Dovecot) -> tuple[str, str]:
    return dovecot.add_user()


def mailbox(dovecot: Dovecot, user: tuple[str, str], sink: Sink, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "support",
        "address": SUPPORT,
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.port,
        "imap_user": user[0],
        "imap_password": user[1],
        "imap_tls": "none",
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,  # type: ignore[attr-defined]
        "smtp_tls": "none",
        "signature": "{{operator.name}}, Lines support",
        "team": "support",
        "idle_seconds": 5,
        "poll_seconds": 0.2,
        "reconnect_min_seconds": 0.1,
        "reconnect_max_seconds": 0.5,
        **overrides,
    }


MakeClient: TypeAlias = Callable[..., Awaitable[Client]]


@pytest.fixture
def make_email_client(
    database: Database,
    tmp_path: Path,
    password_hash: str,
    dovecot: Dovecot,
    mail_user: tuple[str, str],
    sink: Sink,
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> MakeClient:
    """A started app reading the test user's mailbox, staff seeded; waits until IMAP is selected."""

    async def factory(settings_extra: dict[str, Any] | None = None, **overrides: Any) -> Client:
        """`overrides` change the mailbox block, `settings_extra` other sections."""
        settings = make_settings(
            tmp_path,
            database,
            channels={"email": [mailbox(dovecot, mail_user, sink, **overrides)]},
            **(settings_extra or {}),
        )
        client = await aiohttp_client(create_app(settings))
        client.staff = await seed_staff(client.app, password_hash)  # type: ignore[attr-defined]
        await asyncio.wait_for(channel_of(client).connected.wait(), 10)
        return client

    return factory


def channel_of(client: Client) -> EmailChannel:
    channel = client.app[channels_key][("email", "support")]
    assert isinstance(channel, EmailChannel)
    return channel


@pytest.fixture
async def email_client(make_email_client: MakeClient) -> AsyncIterator[Client]:
    yield await make_email_client()


def compose(
    sender: str,
    subject: str,
    body: str,
    *,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    charset: str = "utf-8",
    headers: dict[str, str] | None = None,
    to: str = SUPPORT,
) -> bytes:
    """One plain-text email as a client would send it (raw bytes, body in `charset`)."""
    if not subject.isascii():
        subject = Header(subject, charset).encode()
    head = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", "Date: Tue, 24 Nov 2026 10:00:00 +0000"]
    if message_id is not None:
        head.append(f"Message-ID: <{message_id}>")
    if in_reply_to:
        head.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        head.append(f"References: {references}")
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    head += ["MIME-Version: 1.0", f"Content-Type: text/plain; charset={charset}", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii", "strict") + body.replace("\n", "\r\n").encode(charset)
